//! Any bytes given as a model file: the reader and the whole front end (architecture
//! inference, ternarization, shape checks) return a model or an error, never panic; a model
//! that loads is also lowered.
#![no_main]
use bit2hls::front::{load_bytes, LoadOptions, Loaded};
use bit2hls::ir::firmware::Mode;
use bit2hls::pipeline::{lower_for, FwOptions};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions { weight_scale_is: Some("beta".into()), ..Default::default() };
    if let Ok(Loaded { model, origin, notes, task }) = load_bytes(Path::new("/nonexistent/fuzz.safetensors"), data.to_vec(), &opts) {
        if model.layers.iter().filter_map(|l| l.shape()).map(|(a, b)| a * b).sum::<usize>() > 1 << 16 {
            return;
        }
        let loaded = Loaded { model, origin, notes, task };
        let args = FwOptions { mode: Mode::Dynamic, calib: None, input_type: None, input_bits: 16, frac_bits: 12, const_bits: 18, weight_bits: 16, calib_quantile: 1.0, ..FwOptions::default() };
        for mode in [Mode::Dynamic, Mode::DynamicPow2] {
            let _ = lower_for(&loaded, &args, mode, None);
        }
    }
});
