//! Edits of real `firmware.json` files: see `bit2hls::fuzzing::edit_firmware`. The first byte
//! chooses the seed (compiled from the shipped models in every mode, and `qg_mlp_tiny` under the
//! in-layer-norm profiles).
#![no_main]
use libfuzzer_sys::fuzz_target;

const SEEDS: [&str; 15] = [
    include_str!("../seeds/read_firmware/qg_mlp_tiny-dynamic.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-dynamic-pow2.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-static.json"),
    include_str!("../seeds/read_firmware/qg_mlp_partial-dynamic.json"),
    include_str!("../seeds/read_firmware/qg_mlp_partial-dynamic-pow2.json"),
    include_str!("../seeds/read_firmware/qg_mlp_partial-static.json"),
    include_str!("../seeds/read_firmware/seq_bias-dynamic.json"),
    include_str!("../seeds/read_firmware/seq_bias-dynamic-pow2.json"),
    include_str!("../seeds/read_firmware/seq_bias-static.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-kyegomez-dynamic.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-kyegomez-dynamic-pow2.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-kyegomez-static.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-schneiderkamp-dynamic.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-schneiderkamp-dynamic-pow2.json"),
    include_str!("../seeds/read_firmware/qg_mlp_tiny-schneiderkamp-static.json"),
];

fuzz_target!(|data: &[u8]| {
    if let Some((&s, edits)) = data.split_first() {
        bit2hls::fuzzing::edit_firmware(SEEDS[s as usize % SEEDS.len()], edits);
    }
});
