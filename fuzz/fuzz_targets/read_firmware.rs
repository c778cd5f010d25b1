//! Any bytes given as `firmware.json`: the reader (with its validator) returns a firmware or an
//! error, never panics. A firmware it accepts must then run without panicking or overflowing:
//! one event of extreme input codes on the reference emulator with every proven range checked
//! (a violation means the validator accepted a range the arithmetic does not respect), the fast
//! emulator giving the same integers, and the Verilog and HLS generators rendering it.
#![no_main]
use bit2hls::back::emu::fast::FastEmulator;
use bit2hls::back::emu::fixed::Emulator;
use bit2hls::back::hls::{self, fwdump, HlsOptions, ProjectMeta};
use bit2hls::back::rtl::{self, schedule::PipelineOptions, RtlOptions};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(fw) = fwdump::from_json(text, Path::new("firmware.json")) else { return };
    let t = fw.input_type();
    let (lo, hi) = (t.min_code() as i64, t.max_code() as i64);
    let events: Vec<Vec<i64>> = vec![
        vec![hi; fw.n_in],
        vec![lo; fw.n_in],
        (0..fw.n_in).map(|k| if k % 2 == 0 { hi } else { lo }).collect(),
    ];
    let emu = Emulator::new(&fw);
    let mut want = Vec::new();
    for x in &events {
        let mut out = vec![0i64; fw.n_out];
        if let Err(v) = emu.run_checked(x, &mut out, None) {
            panic!("validated firmware violates a range: {v:?}");
        }
        want.extend(out);
    }
    for simd in [false, true] {
        let got = FastEmulator::with_simd(&fw, simd).run_codes_batch(&events.concat());
        assert_eq!(got, want, "fast emulator (simd {simd}) differs from the reference");
    }
    let weights: usize = fw.layers.iter().map(|l| l.n_in * l.n_out).sum();
    if weights > 4096 {
        return;
    }
    let tb_x = vec![0.5f32; fw.n_in];
    let ro = RtlOptions {
        name: "fuzz".into(),
        part: "xcvu13p-flga2577-2-e".into(),
        clock_ns: 25.0,
        pipeline: PipelineOptions { adders_per_stage: 3 },
    };
    let _ = rtl::render(&fw, &ro, "fuzz.safetensors", &tb_x, serde_json::Value::Null);
    let _ = hls::render(&fw, &HlsOptions::default(), &ProjectMeta::default(), &tb_x);
});
