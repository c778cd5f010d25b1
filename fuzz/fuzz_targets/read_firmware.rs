//! Any bytes as `firmware.json`: see `bit2hls::fuzzing::read_firmware`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bit2hls::fuzzing::read_firmware(data));
