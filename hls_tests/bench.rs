//! Timing of `compile` (lower + render + write, 1,000 test-bench samples) and of the g++ build
//! of the generated C-simulation. Not a pass/fail test: run it explicitly with
//! `cargo test --release --test hls_bench -- --ignored --nocapture`.

mod common;

use bit2hls::back::hls::{self, ProjectMeta};
use bit2hls::front::{ArchOrigin, Loaded};
use bit2hls::ir::firmware::Mode;
use bit2hls::pipeline::lower_for;
use bit2hls::target::Strategy;
use common::*;
use std::time::Instant;

fn time_compile(
    widths: &[usize],
    strategy: Strategy,
    reuse: usize,
) -> (f64, std::path::PathBuf, tempfile::TempDir) {
    let model = bit2hls::testutil::random_mlp(widths, 1234, true);
    let x = bit2hls::testutil::gaussian(1000 * widths[0], 9);
    let t = tempfile::tempdir().unwrap();
    let mut best = f64::MAX;
    let dir = t.path().join("prj");
    for _ in 0..5 {
        let t0 = Instant::now();
        let loaded = Loaded {
            model: model.clone(),
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let fw = lower_for(&loaded, &fw_args(Mode::Dynamic, None), Mode::Dynamic, None).unwrap();
        let meta = ProjectMeta {
            model: "bench".into(),
            tb_source: "gaussian".into(),
            calib: None,
        };
        let files = hls::render(&fw, &opts(strategy, reuse), &meta, &x).unwrap();
        hls::write_project(&files, &dir, true).unwrap();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    (best, dir, t)
}

#[test]
#[ignore]
fn compile_and_gxx_times() {
    for (w, s, r) in [
        (vec![16, 64, 32, 32, 5], Strategy::Latency, 1),
        (vec![16, 64, 32, 32, 5], Strategy::Resource, 32),
        (vec![64, 256, 256, 256, 10], Strategy::Latency, 1),
        (vec![64, 256, 256, 256, 10], Strategy::Resource, 256),
    ] {
        let (secs, dir, _t) = time_compile(&w, s, r);
        let bytes: u64 = std::fs::read_dir(dir.join("firmware/weights"))
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        eprintln!(
            "compile {:?} {} (reuse {r}): {:.1} ms (best of 5), weights {} kB",
            w,
            s.as_str(),
            secs * 1e3,
            bytes / 1024
        );
        if let Some(keep) = std::env::var_os("B2H_BENCH_KEEP") {
            let shape = w
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("-");
            let to = std::path::PathBuf::from(keep).join(format!("{shape}_{}", s.as_str()));
            let _ = std::fs::remove_dir_all(&to);
            std::fs::rename(&dir, &to).unwrap();
            continue;
        }
        if w[0] == 16 {
            let o = run_csim(&dir);
            eprintln!(
                "  g++ build {:.1} s, run {:.2} s, {} samples, {} mismatches",
                o.build_secs, o.run_secs, o.samples, o.mismatches
            );
        }
    }
}
