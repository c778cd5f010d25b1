//! `bit2hls compile` / `bit2hls csim` from the command line: determinism, bad input (each a
//! clear error, a non-zero exit and nothing half-written), replaceable test-bench inputs, and a
//! comparator that really catches a wrong value.

mod common;

use bit2hls::io::npy::NpyWriter;
use common::repo;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bit2hls"))
}

fn model() -> PathBuf {
    repo().join("models/seq_random/seq_bias.safetensors")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("bit2hls runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn compile(dir: &Path, extra: &[&str]) -> Output {
    let m = model();
    let mut a = vec!["compile", m.to_str().unwrap(), "-o", dir.to_str().unwrap()];
    a.extend_from_slice(extra);
    run(&a)
}

/// All files under `dir`, relative path → bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// No temporary directories left next to the output.
fn no_leftovers(parent: &Path) {
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".bit2hls-") || n.contains(".old-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn write_npy(path: &Path, rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let x = bit2hls::testutil::gaussian(rows * cols, seed);
    let mut w = NpyWriter::create(path, "<f4", rows, cols).unwrap();
    w.write_f32(&x).unwrap();
    w.finish().unwrap();
    x
}

#[test]
fn compile_is_byte_identical_and_complete() {
    let t = tempfile::tempdir().unwrap();
    for extra in [
        &[][..],
        &[
            "--strategy",
            "resource",
            "--reuse",
            "16",
            "--mode",
            "dynamic-pow2",
        ][..],
    ] {
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        let oa = compile(&a, extra);
        assert!(oa.status.success(), "{}", stderr(&oa));
        let ob = compile(&b, extra);
        assert!(ob.status.success(), "{}", stderr(&ob));
        let (ta, tb) = (tree(&a), tree(&b));
        assert_eq!(ta, tb, "two compiles of the same input differ");
        let names: Vec<&str> = ta.iter().map(|f| f.0.as_str()).collect();
        for f in [
            "firmware/myproject.cpp",
            "firmware/myproject.h",
            "firmware/parameters.h",
            "firmware/defines.h",
            "firmware/weights/l1_net_0.h",
            "firmware/nnet_utils/nnet_b2h_ternary.h",
            "myproject_test.cpp",
            "tb_data/tb_input_features.dat",
            "tb_data/tb_output_predictions.dat",
            "build_prj.tcl",
            "vivado_synth.tcl",
            "vivado_scripts/b2h_common.tcl",
            "report.json",
            "firmware.json",
        ] {
            assert!(names.contains(&f), "{f} missing from {names:?}");
        }
        let rep: serde_json::Value =
            serde_json::from_slice(&ta.iter().find(|f| f.0 == "report.json").unwrap().1).unwrap();
        assert_eq!(rep["generator"], "bit2hls");
        assert_eq!(rep["test_bench"]["samples"], 1000);
        assert!(rep["layers"][0]["ternary"]["acc_type"]
            .as_str()
            .unwrap()
            .starts_with("ap_int<"));
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
    no_leftovers(t.path());
}

#[test]
fn existing_output_needs_force() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("prj");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("mine.txt"), "keep").unwrap();
    let o = compile(&d, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("not empty") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read_to_string(d.join("mine.txt")).unwrap(), "keep");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
    let o = compile(&d, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.join("mine.txt").exists());
    assert!(d.join("report.json").is_file());
    // An existing empty directory is fine without --force.
    let e2 = t.path().join("empty");
    std::fs::create_dir(&e2).unwrap();
    assert!(compile(&e2, &[]).status.success());
    no_leftovers(t.path());
}

#[test]
fn bad_options_are_clear_errors_and_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("prj");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--part", "xc7z020clg400-1"],
            vec![
                "unknown part 'xc7z020clg400-1'",
                "xcvu9p-flga2104-2L-e",
                "xc7vx690t-ffg1761-2",
            ],
        ),
        (
            vec!["--strategy", "resource", "--reuse", "7"],
            vec!["reuse factor 7", "net.0", "1024", "valid here: 1, 2, 4"],
        ),
        (vec!["--reuse", "4"], vec!["--strategy resource"]),
        (
            vec!["--strategy", "resource", "--reuse", "0"],
            vec!["--reuse 0"],
        ),
        (vec!["--name", "my-project"], vec!["not a C++ identifier"]),
        (vec!["--clock=0"], vec!["--clock 0 ns"]),
        (vec!["--mode", "static"], vec!["--calib"]),
    ];
    // A --compare file with a percentage where a fraction belongs (the user's own file).
    let peers = t.path().join("peers.json");
    std::fs::write(
        &peers,
        r#"{"source": "s", "points": [{"label": "a", "lut": 5, "auc": 87.3}]}"#,
    )
    .unwrap();
    let peers_arg = peers.to_str().unwrap().to_string();
    let mut cases = cases;
    cases.push((
        vec!["--compare", &peers_arg],
        vec!["peers.json", "points[0].auc", "a fraction in (0, 1]"],
    ));
    for (extra, needles) in cases {
        let o = compile(&d, &extra);
        assert!(!o.status.success(), "{extra:?} succeeded");
        let e = stderr(&o);
        for n in needles {
            assert!(e.contains(n), "{extra:?}: '{n}' not in: {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
        assert!(!d.exists(), "{extra:?} left {}", d.display());
    }
    // A missing model names the file.
    let o = run(&[
        "compile",
        "/nonexistent/m.safetensors",
        "-o",
        d.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/m.safetensors"));
    assert!(!d.exists());
    no_leftovers(t.path());
}

#[test]
fn csim_refuses_foreign_dirs_and_missing_headers() {
    let t = tempfile::tempdir().unwrap();
    // Not a project.
    let foreign = t.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("report.json"), "{\"generator\": \"hls4ml\"}").unwrap();
    let o = run(&["csim", foreign.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a bit2hls HLS project"),
        "{}",
        stderr(&o)
    );
    let o = run(&["csim", t.path().join("nope").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a bit2hls HLS project"),
        "{}",
        stderr(&o)
    );
    // A project, but no headers anywhere.
    let d = t.path().join("prj");
    assert!(compile(&d, &["--tb-samples", "10"]).status.success());
    let o = run(&[
        "csim",
        d.to_str().unwrap(),
        "--ap-types",
        t.path().join("none").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("ap_types") && e.contains("setup_ap_types.sh"),
        "{e}"
    );
    let o = bin()
        .args(["csim", d.to_str().unwrap()])
        .env_remove("AP_TYPES_DIR")
        .env("XDG_CACHE_HOME", t.path().join("emptycache"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("setup_ap_types.sh"), "{}", stderr(&o));
}

/// Parses a little-endian float64 .npy (as `bit2hls emulate` writes it).
fn read_f64_npy(p: &Path) -> Vec<f64> {
    let b = std::fs::read(p).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    b[10 + hlen..]
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn csim_with_user_inputs_matches_emulate_and_catches_a_wrong_value() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("prj");
    let tbx = t.path().join("tb.npy");
    write_npy(&tbx, 50, 16, 5);
    let o = compile(
        &d,
        &[
            "--tb-input",
            tbx.to_str().unwrap(),
            "--mode",
            "dynamic-pow2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("tb_data/tb_input_features.dat"))
            .unwrap()
            .lines()
            .count(),
        50
    );

    // The user's own inputs: csim regenerates the expected outputs from firmware.json.
    let x = t.path().join("x.npy");
    write_npy(&x, 1200, 16, 77);
    let o = run(&["csim", d.to_str().unwrap(), "--input", x.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("1200 samples, 0 mismatches"), "{out}");

    // The expected outputs are what `bit2hls emulate` prints for the same inputs.
    let y = t.path().join("y.npy");
    let m = model();
    let o = run(&[
        "emulate",
        m.to_str().unwrap(),
        "--mode",
        "dynamic-pow2",
        "--input",
        x.to_str().unwrap(),
        "--output",
        y.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = read_f64_npy(&y);
    let got: Vec<f64> = std::fs::read_to_string(d.join("tb_data/tb_output_predictions.dat"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(got, want);
    let log: Vec<f64> = std::fs::read_to_string(d.join("tb_data/csim_results.log"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(log, want);

    // --samples limits the run.
    let o = run(&["csim", d.to_str().unwrap(), "--samples", "7"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("7 samples, 0 mismatches"));

    // Corrupt one expected value by one LSB: csim must report it and fail.
    let p = d.join("tb_data/tb_output_predictions.dat");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut vals: Vec<f64> = lines[3].split(' ').map(|v| v.parse().unwrap()).collect();
    vals[2] += 1.0 / 4096.0;
    lines[3] = vals
        .iter()
        .map(|v| format!("{v}"))
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    let o = run(&["csim", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("1200 samples, 1 mismatches"), "{out}");
    assert!(stderr(&o).contains("sample 4 output 2"), "{}", stderr(&o));

    // Inputs of the wrong width are refused.
    let bad = t.path().join("bad.npy");
    write_npy(&bad, 5, 3, 1);
    let o = run(&[
        "csim",
        d.to_str().unwrap(),
        "--input",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("3 features, the model takes 16"),
        "{}",
        stderr(&o)
    );
}

/// The Verilog backend, `estimate` and `rtlsim` from the command line: deterministic output,
/// report.json with the estimate and verdict, and a clear error for every bad option.
#[test]
fn verilog_compile_estimate_and_bad_options() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        let o = compile(d, &["--backend", "verilog", "--adders-per-stage", "3"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(tree(&a), tree(&b), "same input, same Verilog project");
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["project"]["backend"], "verilog");
    assert_eq!(
        rep["estimate"]["latency_cycles"],
        rep["project"]["latency_cycles"]
    );
    assert!(rep["verdict"]["ok"].is_boolean());
    assert!(a.join("report.html").is_file() && a.join("rtl/myproject.v").is_file());
    no_leftovers(tmp.path());

    let m = model();
    let m = m.to_str().unwrap();
    let bad: &[(&[&str], &str)] = &[
        (&["estimate", m, "--part", "xcfoo"], "unknown part 'xcfoo'"),
        (&["estimate", m, "--clock", "fast"], "--clock 'fast'"),
        (&["estimate", m, "--clock", "0MHz"], "--clock '0MHz'"),
        (
            &["estimate", m, "--adders-per-stage", "0"],
            "--adders-per-stage 0",
        ),
        (&["estimate", m, "--budget", "1.5"], "budget"),
        (
            &["estimate", m, "--strategy", "resource", "--reuse", "4"],
            "apply to --backend hls",
        ),
    ];
    for (args, want) in bad {
        let o = run(args);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(
            stderr(&o).contains(want),
            "{args:?}: expected '{want}' in: {}",
            stderr(&o)
        );
    }
    let c = tmp.path().join("c");
    let o = compile(
        &c,
        &[
            "--backend",
            "verilog",
            "--strategy",
            "resource",
            "--reuse",
            "2",
        ],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("latency strategy only"),
        "{}",
        stderr(&o)
    );
    assert!(!c.exists(), "nothing written for a refused option");
    // rtlsim with a relative project path (as in scripts/setup.sh): builds, runs, all equal.
    let o = bin()
        .current_dir(tmp.path())
        .args(["rtlsim", "a"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(" 0 mismatches"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(&["rtlsim", tmp.path().to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("not a bit2hls Verilog project"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "estimate", m, "--part", "xcku15p", "--clock", "250MHz", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["estimate"]["part"], "xcku15p-ffva1760-2-e");
    assert_eq!(v[0]["estimate"]["clock_ns"], 4.0);
}
