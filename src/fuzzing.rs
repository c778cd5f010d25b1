//! The bodies of the cargo-fuzz targets in `fuzz/` (which only call these), so that
//! `cargo test` replays the committed seeds and crash regressions through the same code
//! (`tests/fuzz_replay.rs`). Each function takes any bytes and must not panic, except on a
//! broken invariant it asserts (named in its documentation).

use crate::back::emu::fast::{FastEmulator, Kernel};
use crate::back::hls::{self, csim, HlsOptions, ProjectMeta};
use crate::back::rtl::{self, sim, RtlOptions};
use crate::hw::schedule::PipelineOptions;
use crate::ir::serial;
use crate::reference::fixed::Emulator;
use std::path::{Path, PathBuf};

/// `data` as `firmware.json`: the reader (with its validator) returns a firmware or an error.
/// A firmware it accepts must run one batch of extreme input codes on the reference emulator
/// with every proven range holding (asserted: a violation means the validator accepted a range
/// the arithmetic does not respect), the fast emulator (portable and SIMD) must give the same
/// integers (asserted), and the Verilog and HLS generators must render it.
pub fn read_firmware(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(fw) = serial::from_json(text, Path::new("firmware.json")) else {
        return;
    };
    let t = fw.input_type();
    let (lo, hi) = (t.min_code() as i64, t.max_code() as i64);
    let events: Vec<Vec<i64>> = vec![
        vec![hi; fw.n_in],
        vec![lo; fw.n_in],
        (0..fw.n_in)
            .map(|k| if k % 2 == 0 { hi } else { lo })
            .collect(),
    ];
    let emu = Emulator::new(&fw);
    let mut want = Vec::new();
    for x in &events {
        let mut out = vec![0i64; fw.n_out];
        if let Err(v) = emu.run_checked(x, &mut out, None) {
            panic!("validated firmware violates a proven range: {v:?}");
        }
        want.extend(out);
    }
    for k in Kernel::ALL.into_iter().filter(|k| k.supported()) {
        let got = FastEmulator::with_kernel(&fw, k).run_codes_batch(&events.concat());
        assert_eq!(
            got,
            want,
            "fast emulator ({}) differs from the reference",
            k.name()
        );
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
        pipeline: PipelineOptions {
            adders_per_stage: 3,
            adders: crate::target::AdderOptions::default(),
            const_mul: crate::hw::schedule::ConstMul::Lut,
        },
    };
    let _ = rtl::render(&fw, &ro, "fuzz.safetensors", &tb_x, serde_json::Value::Null);
    let _ = hls::render(&fw, &HlsOptions::default(), &ProjectMeta::default(), &tb_x);
}

/// A scratch project directory under `root` with a valid `firmware.json` (`firmware`) and the
/// files `csim` expects of an HLS project named `myproject`.
pub fn scratch_project(root: &Path, firmware: &str) -> PathBuf {
    let d = root.join(format!("bit2hls-fuzz-project-{}", std::process::id()));
    std::fs::create_dir_all(d.join("tb_data")).expect("scratch directory");
    std::fs::create_dir_all(d.join("firmware")).expect("scratch directory");
    std::fs::write(d.join("firmware.json"), firmware).expect("scratch file");
    for f in ["firmware/myproject.cpp", "myproject_test.cpp"] {
        std::fs::write(d.join(f), "").expect("scratch file");
    }
    d
}

/// Any bytes as one of the files a command reads from the project directory `dir` (made by
/// [`scratch_project`]) or a data file given to it: the first byte chooses the file, the rest
/// is its contents. Every reader returns a value or an error.
///
/// 0: report.json (csim, rtlsim and synth project checks); 1: the `--input` .npy of csim and
/// rtlsim (next to the valid firmware.json); 2: synth.json; 3: Yosys / simulator text output;
/// 4: an .npz data set (validate --data, calibrate).
pub fn read_project(dir: &Path, data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    let write = |name: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).expect("scratch file");
        p
    };
    match sel % 5 {
        0 => {
            let p = write("report.json");
            let _ = csim::project_name(dir);
            let _ = sim::project_name(dir);
            let _ = crate::synth::project_top(&p, None);
        }
        1 => {
            let p = write("input.npy");
            let _ = csim::regenerate_tb(dir, &p, Some(64));
            let _ = sim::regenerate_tb(dir, &p, Some(64));
        }
        2 => {
            let _ = serde_json::from_str::<crate::synth::SynthReport>(&text);
        }
        3 => {
            let _ = crate::synth::parse_stat(&text);
            let _ = crate::synth::parse_ltp(&text);
            let _ = crate::synth::parse_warnings(&text);
            let _ = sim::parse_summary(&text);
        }
        _ => {
            let p = write("data.npz");
            let _ = crate::io::npz::read_dataset(&p);
        }
    }
}

/// Structure-aware variant of [`read_firmware`]: `data` is a list of edits of the valid
/// `firmware.json` text `seed`, 8 bytes each: a number of the file (2 bytes, modulo their
/// count), an operation (1 byte) and an operand (5 bytes). Operations: set the number to the
/// operand, add a small delta, set it to ±2^k, remove its array element, or repeat it. The
/// edited file goes through [`read_firmware`], so the validator sees mostly well-formed files
/// that differ from a lowered firmware in a few fields.
pub fn edit_firmware(seed: &str, data: &[u8]) {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(seed) else {
        return;
    };
    for e in data.chunks_exact(8) {
        let mut paths = Vec::new();
        number_paths(&v, &mut Vec::new(), &mut paths);
        if paths.is_empty() {
            break;
        }
        let path = &paths[u16::from_le_bytes([e[0], e[1]]) as usize % paths.len()];
        let operand = i64::from_le_bytes([e[3], e[4], e[5], e[6], e[7], 0, 0, 0]) - (1 << 39);
        let (last, parent) = path.split_last().expect("a number has a path");
        let parent = parent.iter().fold(&mut v, |x, k| match k {
            Key::Index(i) => &mut x[*i],
            Key::Field(f) => &mut x[f.as_str()],
        });
        let slot = match last {
            Key::Index(i) => &mut parent[*i],
            Key::Field(f) => &mut parent[f.as_str()],
        };
        let old = slot.as_i64().unwrap_or(0);
        let new = match e[2] % 6 {
            0 => operand,
            1 => old.wrapping_add(e[3] as i8 as i64),
            2 => 1i64.wrapping_shl(e[3] as u32 % 64),
            3 => 1i64.wrapping_shl(e[3] as u32 % 64).wrapping_neg(),
            op => {
                if let (Key::Index(i), Some(a)) = (last, parent.as_array_mut()) {
                    if op == 4 {
                        a.remove(*i);
                    } else {
                        let x = a[*i].clone();
                        a.insert(*i, x);
                    }
                }
                continue;
            }
        };
        *slot = new.into();
    }
    read_firmware(v.to_string().as_bytes());
}

enum Key {
    Index(usize),
    Field(String),
}

/// Paths of every number in a JSON value.
fn number_paths(v: &serde_json::Value, path: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    let clone = |p: &Vec<Key>| {
        p.iter()
            .map(|k| match k {
                Key::Index(i) => Key::Index(*i),
                Key::Field(f) => Key::Field(f.clone()),
            })
            .collect()
    };
    match v {
        serde_json::Value::Number(_) => out.push(clone(path)),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Key::Index(i));
                number_paths(x, path, out);
                path.pop();
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                path.push(Key::Field(k.clone()));
                number_paths(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}
