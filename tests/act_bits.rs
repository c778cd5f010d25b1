//! Activation bits b end to end: golden files made by `models/training/make_act_bits_golden.py`
//! (BitLinear MLPs 16→24→12→3 with b = 2, 3, 4, 6, 8, trained briefly on three Gaussian classes,
//! written by `models/export.py` with the bits in the architecture's `profile_params`).
//!
//! * the front end reads b from the file alone (Q = 2^(b-1) − 1, clamp [−2^(b-1), 2^(b-1) − 1])
//!   and says so in a note; the command line's `--act-bits` overrides it;
//! * the float reference reproduces PyTorch's activation codes on every event without a
//!   near-tie code and its outputs within 1e-5 of the file's largest |output|;
//! * the firmware emulator agrees with PyTorch's class (dynamic mode ≥ 99 %);
//! * `bit2hls validate` (the binary) reports the float model's agreement with PyTorch;
//! * read with the wrong b, the same files disagree visibly (the test can fail);
//! * version-1 documents with `profile_params`, unknown parameter keys and bad values are refused.

use bit2hls::front::{load, load_bytes, LoadOptions, Loaded};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::profile::ProfileOverrides;
use bit2hls::pipeline::lower_for;
use bit2hls::reference::fixed::{code_to_f64, Emulator};
use bit2hls::reference::float;
use bit2hls::testutil::fw_options;
use ndarray::{Array1, Array2};
use ndarray_npy::NpzReader;
use std::path::{Path, PathBuf};

const BITS: [u32; 5] = [2, 3, 4, 6, 8];

struct Golden {
    x: Vec<f32>,
    y: Array2<f32>,
    codes: Vec<Array2<i8>>,
    margins: Vec<Array1<f32>>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/act_bits")
}

fn model_path(b: u32) -> PathBuf {
    dir().join(format!("b{b}.safetensors"))
}

fn read(b: u32) -> Golden {
    let f = std::fs::File::open(dir().join(format!("b{b}.npz"))).unwrap();
    let mut z = NpzReader::new(f).unwrap();
    let x: Array2<f32> = z.by_name("x").unwrap();
    let y: Array2<f32> = z.by_name("torch").unwrap();
    let codes = (0..3)
        .map(|j| z.by_name(&format!("codes_{j}")).unwrap())
        .collect();
    let margins = (0..3)
        .map(|j| z.by_name(&format!("margin_{j}")).unwrap())
        .collect();
    Golden {
        x: x.iter().copied().collect(),
        y,
        codes,
        margins,
    }
}

fn load_with(b: u32, overrides: ProfileOverrides) -> Loaded {
    let opts = LoadOptions {
        overrides,
        ..LoadOptions::default()
    };
    load(&model_path(b), &opts).unwrap()
}

fn argmax<T: PartialOrd + Copy>(v: &[T]) -> usize {
    (1..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn float_agreement(loaded: &Loaded, g: &Golden) -> f64 {
    let k = loaded.model.inputs;
    let n = g.y.nrows();
    let agree = (0..n)
        .filter(|&s| {
            let y = float::forward(&loaded.model, &g.x[s * k..(s + 1) * k], None);
            argmax(&y) == argmax(&g.y.row(s).to_vec())
        })
        .count();
    agree as f64 / n as f64
}

#[test]
fn bits_are_read_from_the_file_and_noted() {
    for b in BITS {
        let loaded = load_with(b, ProfileOverrides::default());
        let half = 1i32 << (b - 1);
        let p = &loaded.model.profile;
        assert_eq!(
            (p.act_qmax, p.act_clamp),
            (half - 1, (-half, half - 1)),
            "b={b}"
        );
        let params = loaded.params();
        if b == 8 {
            // 8 bits is the profile's own setting: export writes a version-1 document.
            assert!(params.is_empty(), "{params:?}");
        } else {
            assert_eq!(params.len(), 1, "b={b}: {params:?}");
            assert!(
                params[0].contains(&format!("act_bits {b}")),
                "{}",
                params[0]
            );
        }
    }
}

#[test]
fn float_reference_matches_pytorch_for_every_b() {
    for b in BITS {
        let loaded = load_with(b, ProfileOverrides::default());
        let g = read(b);
        let k = loaded.model.inputs;
        let n = g.y.nrows();
        let ymax = g.y.iter().fold(0f32, |a, v| a.max(v.abs())) as f64;
        let (mut clean, mut worst) = (0usize, 0f64);
        for s in 0..n {
            if g.margins.iter().any(|m| m[s] < 1e-4) {
                continue;
            }
            clean += 1;
            let mut taps = Vec::new();
            let y = float::forward(&loaded.model, &g.x[s * k..(s + 1) * k], Some(&mut taps));
            for (j, t) in taps.iter().enumerate() {
                let want: Vec<i32> = g.codes[j].row(s).iter().map(|&c| c as i32).collect();
                assert_eq!(t.codes, want, "b={b}: event {s} layer {j}: codes differ");
            }
            for (a, t) in y.iter().zip(g.y.row(s)) {
                worst = worst.max((*a as f64 - *t as f64).abs() / ymax);
            }
        }
        let agree = float_agreement(&loaded, &g);
        eprintln!(
            "b={b}: {clean}/{n} events without near-ties, worst |ours - torch|/max|y| {worst:.2e}, class agreement {:.2} %",
            100.0 * agree
        );
        assert!(clean * 10 >= n * 9, "b={b}: only {clean}/{n} clean events");
        assert!(worst <= 1e-5, "b={b}: float reference off by {worst:e}");
        assert!(agree >= 0.99, "b={b}: class agreement {agree}");
    }
}

/// The other b a file is read with to show that the tests can fail (PyTorch itself agrees with
/// its b = 2 and b = 8 versions on about 85 % of these events; make_act_bits_golden.py prints it).
fn wrong_bits(b: u32) -> u32 {
    if b == 2 {
        8
    } else {
        2
    }
}

/// The test can fail: every file read with another b (the command line's --act-bits, which
/// overrides the document) disagrees with PyTorch on many events.
#[test]
fn wrong_bits_visibly_disagree() {
    for b in BITS {
        let g = read(b);
        let wrong = wrong_bits(b);
        let o = ProfileOverrides {
            act_bits: Some(wrong),
            ..Default::default()
        };
        let loaded = load_with(b, o);
        assert_eq!(loaded.model.profile.act_qmax, (1 << (wrong - 1)) - 1);
        let agree = float_agreement(&loaded, &g);
        eprintln!(
            "b={b} read as b={wrong}: class agreement {:.1} %",
            100.0 * agree
        );
        assert!(agree < 0.9, "b={b} read as b={wrong}: agreement {agree}");
    }
}

#[test]
fn firmware_agrees_with_pytorch_for_every_b() {
    for b in BITS {
        let loaded = load_with(b, ProfileOverrides::default());
        let g = read(b);
        let n = g.y.nrows();
        let fw = lower_for(&loaded, &fw_options(Mode::Dynamic), Mode::Dynamic, None).unwrap();
        let out = Emulator::new(&fw).run_batch(&g.x);
        let t = fw.output_type();
        let agree = (0..n)
            .filter(|&s| {
                let o: Vec<f64> = out[s * fw.n_out..(s + 1) * fw.n_out]
                    .iter()
                    .map(|&c| code_to_f64(c, t))
                    .collect();
                argmax(&o) == argmax(&g.y.row(s).to_vec())
            })
            .count();
        let rate = agree as f64 / n as f64;
        eprintln!(
            "b={b}: firmware (dynamic) class agreement {:.2} %",
            100.0 * rate
        );
        assert!(rate >= 0.99, "b={b}: firmware agrees on {rate}");
    }
}

/// `bit2hls validate --data b<b>.npz` (x and PyTorch's outputs under `torch`) exits 0 and
/// reports the float model's agreement; with the wrong --act-bits it exits 2.
#[test]
fn validate_cli_checks_the_float_model_against_pytorch() {
    let exe = env!("CARGO_BIN_EXE_bit2hls");
    for b in BITS {
        let data = dir().join(format!("b{b}.npz"));
        let run = |extra: &[&str]| {
            std::process::Command::new(exe)
                .arg("validate")
                .arg(model_path(b))
                .arg("--data")
                .arg(&data)
                .args(extra)
                .output()
                .unwrap()
        };
        let ok = run(&[]);
        let stderr = String::from_utf8_lossy(&ok.stderr);
        assert_eq!(ok.status.code(), Some(0), "b={b}: {stderr}");
        if b != 8 {
            assert!(stderr.contains(&format!("act_bits {b}")), "b={b}: {stderr}");
        }
        let wrong = wrong_bits(b).to_string();
        let bad = run(&["--act-bits", &wrong]);
        assert_eq!(
            bad.status.code(),
            Some(2),
            "b={b} as {wrong}: {}",
            String::from_utf8_lossy(&bad.stdout)
        );
    }
}

fn doc_error(doc: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch.json");
    std::fs::write(&arch, doc).unwrap();
    let bytes = std::fs::read(model_path(4)).unwrap();
    let opts = LoadOptions {
        arch: Some(arch),
        ..LoadOptions::default()
    };
    match load_bytes(Path::new("m.safetensors"), bytes, &opts) {
        Ok(_) => "loaded".into(),
        Err(e) => e.to_string(),
    }
}

const LAYERS: &str = r#""layers": [
    {"op": "bitlinear", "weight": "0.weight", "bias": "0.bias"}, {"op": "relu"},
    {"op": "bitlinear", "weight": "2.weight", "bias": "2.bias"}, {"op": "relu"},
    {"op": "bitlinear", "weight": "4.weight", "bias": "4.bias"}]"#;

#[test]
fn documents_are_versioned_and_checked() {
    let doc = |schema: &str, params: &str| {
        format!(r#"{{"schema": "bit2hls.arch/{schema}", {params} {LAYERS}}}"#)
    };
    // Version 1 without parameters and version 2 with them both load.
    assert_eq!(doc_error(&doc("1", "")), "loaded");
    assert_eq!(
        doc_error(&doc("2", r#""profile_params": {"act_bits": 4},"#)),
        "loaded"
    );
    let refused = [
        (
            doc("1", r#""profile_params": {"act_bits": 4},"#),
            "needs schema 'bit2hls.arch/2'",
        ),
        (
            doc("2", r#""profile_params": {"act_bitz": 4},"#),
            "act_bitz",
        ),
        (
            doc("2", r#""profile_params": {"act_bits": 1},"#),
            "act_bits 1",
        ),
        (
            doc("2", r#""profile_params": {"act_bits": 20},"#),
            "act_bits 20",
        ),
        (
            doc("2", r#""profile_params": {},"#),
            "'profile_params' is empty",
        ),
        (
            doc("2", r#""profile_params": {"eps_act": -1.0},"#),
            "eps-act",
        ),
        (
            doc("2", r#""profile_params": {"act_qmax": 0},"#),
            "act_qmax 0",
        ),
        (
            doc("2", r#""profile_params": {"act_clamp": [1, 7]},"#),
            "act_clamp [1, 7]",
        ),
        (
            doc("2", r#""profile_parameters": {"act_bits": 4},"#),
            "profile_parameters",
        ),
        (doc("5", ""), "bit2hls.arch/5"),
    ];
    for (d, want) in refused {
        let e = doc_error(&d);
        assert!(e.contains(want), "expected '{want}' in: {e}");
    }
}

/// Explicit Q and clamp in the document (after act_bits), and the note names them.
#[test]
fn explicit_qmax_and_clamp_in_the_document() {
    let d = format!(
        r#"{{"schema": "bit2hls.arch/2", "profile_params": {{"act_bits": 4, "act_clamp": [-7, 7]}}, {LAYERS}}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch.json");
    std::fs::write(&arch, d).unwrap();
    let opts = LoadOptions {
        arch: Some(arch),
        ..LoadOptions::default()
    };
    let loaded = load(&model_path(4), &opts).unwrap();
    assert_eq!(loaded.model.profile.act_qmax, 7);
    assert_eq!(loaded.model.profile.act_clamp, (-7, 7));
    assert!(
        loaded.params()[0].contains("act_clamp [-7, 7]"),
        "{:?}",
        loaded.params()
    );
    // Codes never reach -8 at 4 bits (|x·7/max|x|| ≤ 7), so the symmetric clamp agrees too.
    let agree = float_agreement(&loaded, &read(4));
    assert!(agree >= 0.99, "{agree}");
}
