//! CI's stand-in for a fuzzing run (cargo-fuzz needs a nightly toolchain and minutes of
//! instrumented builds, see fuzz/README.md): every committed seed and crash regression of the
//! fuzz targets goes through the same entry points (`bit2hls::fuzzing`), and so do a few
//! thousand deterministic edits of the firmware seeds (each numeric field set to an extreme).

use bit2hls::fuzzing::{read_firmware, read_project, scratch_project};
use bit2hls::testutil::Rng;
use std::path::{Path, PathBuf};

fn files(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut v: Vec<PathBuf> = ["seeds", "regressions"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d).join(target))
                .into_iter()
                .flatten()
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.ends_with(".gitkeep"))
        .collect();
    v.sort();
    v
}

#[test]
fn firmware_seeds_and_regressions_replay() {
    let f = files("read_firmware");
    assert!(f.len() >= 9, "seeds missing: {f:?}");
    for p in f {
        let bytes = std::fs::read(&p).unwrap();
        if p.parent().unwrap().parent().unwrap().ends_with("seeds") {
            // A seed the reader refuses (e.g. an old format version) would leave the fuzzers
            // and the edit replay below at the front door.
            let text = std::str::from_utf8(&bytes).unwrap();
            if let Err(e) = bit2hls::ir::serial::from_json(text, &p) {
                panic!("seed {} is not valid firmware: {e}", p.display());
            }
        }
        read_firmware(&bytes);
    }
}

#[test]
fn project_seeds_and_regressions_replay() {
    let f = files("read_project");
    assert!(f.len() >= 6, "seeds missing: {f:?}");
    let tmp = tempfile::tempdir().unwrap();
    let fw = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds/read_firmware/qg_mlp_tiny-dynamic.json"),
    )
    .unwrap();
    let dir = scratch_project(tmp.path(), &fw);
    for p in f {
        read_project(&dir, &std::fs::read(&p).unwrap());
    }
}

/// Paths of every number in a JSON value.
fn numbers(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        serde_json::Value::Number(_) => out.push(path.clone()),
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            path.push(i.to_string());
            numbers(x, path, out);
            path.pop();
        }),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            path.push(k.clone());
            numbers(x, path, out);
            path.pop();
        }),
        _ => {}
    }
}

/// Every seed × 300 random edits of one number to a value near a limit: refused, or run with
/// every proven range holding (the assertions of `read_firmware`).
#[test]
fn edited_firmware_seeds_are_refused_or_run_exactly() {
    let mut r = Rng(7);
    let (mut accepted, mut total) = (0, 0);
    for p in files("read_firmware") {
        let text = std::fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut paths = Vec::new();
        numbers(&v, &mut vec![], &mut paths);
        for _ in 0..300 {
            let path = &paths[(r.next_u64() % paths.len() as u64) as usize];
            let mut e = v.clone();
            let slot = path.iter().fold(&mut e, |x, k| match x {
                serde_json::Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
                o => &mut o[k.as_str()],
            });
            let old = slot.as_i64().unwrap_or(0);
            let new: i64 = match r.next_u64() % 8 {
                0 => 0,
                1 => -1,
                2 => old + 1,
                3 => old - 1,
                4 => old.saturating_mul(2),
                5 => 1 << (r.next_u64() % 63),
                6 => -(1 << (r.next_u64() % 63)),
                _ => 62 + (r.next_u64() % 4) as i64,
            };
            *slot = new.into();
            let edited = e.to_string();
            total += 1;
            if bit2hls::ir::serial::from_json(&edited, Path::new("f.json")).is_ok() {
                accepted += 1;
            }
            if std::panic::catch_unwind(|| read_firmware(edited.as_bytes())).is_err() {
                panic!("{}: {path:?} set to {new} panics", p.display());
            }
        }
    }
    // Some edits are harmless (a wider range, a name), most are refused: both paths ran.
    assert!(
        accepted > 0 && accepted < total,
        "{accepted} of {total} accepted"
    );
    eprintln!("{accepted} of {total} edited firmware files accepted");
}

/// The seeds of `edit_firmware`, in the order of fuzz/fuzz_targets/edit_firmware.rs.
const EDIT_SEEDS: [&str; 15] = [
    "qg_mlp_tiny-dynamic",
    "qg_mlp_tiny-dynamic-pow2",
    "qg_mlp_tiny-static",
    "qg_mlp_partial-dynamic",
    "qg_mlp_partial-dynamic-pow2",
    "qg_mlp_partial-static",
    "seq_bias-dynamic",
    "seq_bias-dynamic-pow2",
    "seq_bias-static",
    "qg_mlp_tiny-kyegomez-dynamic",
    "qg_mlp_tiny-kyegomez-dynamic-pow2",
    "qg_mlp_tiny-kyegomez-static",
    "qg_mlp_tiny-schneiderkamp-dynamic",
    "qg_mlp_tiny-schneiderkamp-dynamic-pow2",
    "qg_mlp_tiny-schneiderkamp-static",
];

#[test]
fn edit_regressions_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/read_firmware");
    let seeds: Vec<String> = EDIT_SEEDS
        .iter()
        .map(|s| std::fs::read_to_string(root.join(format!("{s}.json"))).unwrap())
        .collect();
    // The first byte chose the seed among the seeds of its day (9 before the norm-profile seeds
    // were added): replay the edits on every seed, which covers the one that crashed.
    for p in files("edit_firmware") {
        let data = std::fs::read(&p).unwrap();
        if let Some((_, edits)) = data.split_first() {
            for seed in &seeds {
                bit2hls::fuzzing::edit_firmware(seed, edits);
            }
        }
    }
}
