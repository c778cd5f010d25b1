//! Shared helpers of the HLS integration tests: random models, lowering, project writing, csim.
#![allow(dead_code)]

use bit2hls::back::hls::csim::{csim, CsimOptions, CsimOutcome};
use bit2hls::back::hls::{self, HlsOptions, ProjectMeta};
use bit2hls::front::{ArchOrigin, Loaded};
use bit2hls::ir::firmware::{Firmware, Mode};
use bit2hls::ir::{
    Affine, BitLinear, Layer, LayerKind, Linear, Matrix, Model, Profile, ProfileName, WeightSource,
};
use bit2hls::pipeline::{lower_for, FwOptions};
use bit2hls::reference::fixed::Emulator;
use bit2hls::target::Strategy;
use bit2hls::testutil::Rng;
use std::path::{Path, PathBuf};

pub fn fw_args(mode: Mode, input_type: Option<&str>) -> FwOptions {
    fw_args_frac(mode, input_type, 12)
}

pub fn fw_args_frac(mode: Mode, input_type: Option<&str>, frac_bits: i32) -> FwOptions {
    FwOptions {
        mode,
        calib: None,
        input_type: input_type.map(|s| s.to_string()),
        input_bits: 16,
        frac_bits,
        const_bits: 18,
        weight_bits: 16,
        calib_quantile: 1.0,
        ..FwOptions::default()
    }
}

/// Lowers `model` for `mode`, calibrated on `calib_x` if given (static mode without it: Gaussian samples).
pub fn lower(
    model: &Model,
    mode: Mode,
    input_type: Option<&str>,
    calib_x: Option<&[f32]>,
) -> Firmware {
    lower_frac(model, mode, input_type, calib_x, 12)
}

pub fn lower_frac(
    model: &Model,
    mode: Mode,
    input_type: Option<&str>,
    calib_x: Option<&[f32]>,
    frac_bits: i32,
) -> Firmware {
    let loaded = Loaded {
        model: model.clone(),
        origin: ArchOrigin::Inferred,
        notes: vec![],
        task: Default::default(),
    };
    // As `compile --calib`: calibration data (when given) also chooses the input type.
    let cal = match calib_x {
        Some(x) => Some(bit2hls::pass::calibrate::calibrate(model, x)),
        None if mode == Mode::Static => Some(bit2hls::pass::calibrate::calibrate(
            model,
            &bit2hls::testutil::gaussian(2048 * model.inputs, 7),
        )),
        None => None,
    };
    lower_for(
        &loaded,
        &fw_args_frac(mode, input_type, frac_bits),
        mode,
        cal.as_ref(),
    )
    .expect("model lowers")
}

/// Samples that exercise the firmware: Gaussian, scaled Gaussian (saturation), exact ties,
/// zeros and a few constant rows.
pub fn tb_samples(n_in: usize, n: usize, seed: u64) -> Vec<f32> {
    let mut x = bit2hls::testutil::gaussian(n * n_in, seed);
    let mut r = bit2hls::testutil::Rng(seed ^ 0x5eed);
    for (i, row) in x.chunks_mut(n_in).enumerate() {
        match i % 10 {
            0 => row.iter_mut().for_each(|v| *v *= 40.0),
            1 => row.iter_mut().for_each(|v| *v = 0.0),
            2 => row
                .iter_mut()
                .for_each(|v| *v = ((r.next_u64() % 64) as f32 - 32.0) / 8.0),
            3 => row.iter_mut().for_each(|v| *v *= 0.01),
            4 => row
                .iter_mut()
                .for_each(|v| *v = (r.next_u64() % 2048) as f32 / 2048.0 - 0.5 + 1.0 / 4096.0),
            _ => {}
        }
    }
    x
}

pub fn write(fw: &Firmware, o: &HlsOptions, x: &[f32], dir: &Path) {
    let meta = ProjectMeta {
        model: fw.name.clone(),
        tb_source: "test".into(),
        calib: None,
    };
    let files = hls::render(fw, o, &meta, x).expect("renders");
    hls::write_project(&files, dir, true).expect("writes");
}

pub fn opts(strategy: Strategy, reuse: usize) -> HlsOptions {
    HlsOptions {
        strategy,
        reuse,
        ..HlsOptions::default()
    }
}

/// Runs csim; panics with a clear message if g++ or the ap_types headers are missing.
pub fn run_csim(dir: &Path) -> CsimOutcome {
    match csim(dir, &CsimOptions::default()) {
        Ok(r) => r,
        Err(e) => panic!("csim of {} failed: {e}", dir.display()),
    }
}

/// Checks that the expected outputs in tb_data equal Emulator::run_codes on the quantized inputs.
pub fn assert_predictions_are_emulator(fw: &Firmware, x: &[f32], dir: &Path) {
    let emu = Emulator::new(fw);
    let text = std::fs::read_to_string(dir.join("tb_data/tb_output_predictions.dat")).unwrap();
    let f = fw.output_type().frac;
    let mut inp = vec![0i64; fw.n_in];
    let mut out = vec![0i64; fw.n_out];
    for (row, line) in x.chunks(fw.n_in).zip(text.lines()) {
        emu.quantize_input(row, &mut inp);
        emu.run_codes(&inp, &mut out);
        let got: Vec<f64> = line.split(' ').map(|t| t.parse().unwrap()).collect();
        let want: Vec<f64> = out.iter().map(|&c| c as f64 * (2f64).powi(-f)).collect();
        assert_eq!(got, want);
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn zero_weights(mut m: Model) -> Model {
    for l in m.layers.iter_mut() {
        if let LayerKind::BitLinear(b) = &mut l.kind {
            b.codes.data.iter_mut().for_each(|c| *c = 0);
        }
    }
    m.name = format!("{}_zero", m.name);
    m
}

/// A ReLU in front of the first layer (an identity Affine stage in the firmware).
pub fn relu_first(mut m: Model) -> Model {
    m.layers.insert(
        0,
        Layer {
            name: "relu_in".into(),
            kind: LayerKind::Relu,
        },
    );
    m.name = format!("{}_relu_first", m.name);
    m
}

/// Affine (BatchNorm) → Linear (full precision) → ReLU → BitLinear → BatchNorm → ReLU → BitLinear.
pub fn mixed_model(seed: u64) -> Model {
    let mut r = Rng(seed);
    let mut normal = |s: f64| (r.normal() * s) as f32;
    let (a, b, c, d) = (8, 6, 5, 3);
    let ternary = |rows: usize, cols: usize, rr: &mut Rng| -> BitLinear {
        BitLinear {
            codes: Matrix::new(
                rows,
                cols,
                (0..rows * cols)
                    .map(|_| (rr.next_u64() % 3) as i8 - 1)
                    .collect(),
            ),
            beta: 0.37,
            bias: Some((0..rows).map(|_| (rr.normal() * 0.2) as f32).collect()),
            source: WeightSource::TernaryI8,
            master: None,
        }
    };
    let bn_in = Affine {
        scale: (0..a).map(|_| 0.5 + normal(0.3).abs()).collect(),
        shift: (0..a).map(|_| normal(0.1)).collect(),
        origin: "batchnorm",
    };
    let lin = Linear {
        weight: Matrix::new(b, a, (0..a * b).map(|_| normal(0.4)).collect()),
        bias: Some((0..b).map(|_| normal(0.1)).collect()),
    };
    let bn_mid = Affine {
        scale: (0..c)
            .map(|i| {
                if i == 2 {
                    -0.8
                } else {
                    0.5 + normal(0.3).abs()
                }
            })
            .collect(),
        shift: (0..c).map(|_| normal(0.1)).collect(),
        origin: "batchnorm",
    };
    let mut rr = Rng(seed ^ 99);
    let t1 = ternary(c, b, &mut rr);
    let t2 = ternary(d, c, &mut rr);
    Model {
        name: "mixed".into(),
        inputs: a,
        profile: Profile::named(ProfileName::Bithep),
        layers: vec![
            Layer {
                name: "bn0".into(),
                kind: LayerKind::Affine(bn_in),
            },
            Layer {
                name: "fc_float".into(),
                kind: LayerKind::Linear(lin),
            },
            Layer {
                name: "relu0".into(),
                kind: LayerKind::Relu,
            },
            Layer {
                name: "fc1".into(),
                kind: LayerKind::BitLinear(t1),
            },
            Layer {
                name: "bn1".into(),
                kind: LayerKind::Affine(bn_mid),
            },
            Layer {
                name: "relu1".into(),
                kind: LayerKind::Relu,
            },
            Layer {
                name: "fc2".into(),
                kind: LayerKind::BitLinear(t2),
            },
        ],
        input_type: None,
    }
}

/// Activation widths the C-simulation and RTL tests run on top of the shipped models (which are
/// b = 8, and b = 6 for models/qg_sparse_b6*); tests/act_bits.rs checks all of 2, 3, 4, 6, 8.
pub const ACT_BITS_HLS: [u32; 3] = [2, 3, 4];

/// The activation-bits test models (tests/data/act_bits/b<b>.safetensors, made by
/// models/training/make_act_bits_golden.py), with their b, loaded from the file alone.
pub fn act_bits_models(bits: &[u32]) -> Vec<(u32, Model)> {
    bits.iter()
        .copied()
        .map(|b| {
            let p = repo().join(format!("tests/data/act_bits/b{b}.safetensors"));
            let m = bit2hls::front::load(&p, &Default::default())
                .unwrap_or_else(|e| panic!("{} does not load: {e}", p.display()))
                .model;
            assert_eq!(
                m.profile.act_qmax,
                (1 << (b - 1)) - 1,
                "b={b} read from the file"
            );
            (b, m)
        })
        .collect()
}

/// Every shipped chain model file: models/*/*.safetensors, sorted (particle-level models
/// excluded).
pub fn shipped_models() -> Vec<PathBuf> {
    let root = repo().join("models");
    let mut paths: Vec<_> = std::fs::read_dir(&root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .flat_map(|d| {
            std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
        })
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .filter(|p| !is_particle_model(p))
        .collect();
    paths.sort();
    paths
}

/// Whether `p` is a particle-level model (tested by tests/particles.rs and rtl_set.rs, not by
/// the chain tests that iterate the shipped models).
pub fn is_particle_model(p: &Path) -> bool {
    bit2hls::front::load_net(p, &bit2hls::front::LoadOptions::default())
        .is_ok_and(|l| matches!(l.model, bit2hls::ir::set::Net::Set(_)))
}

/// Runs `job` on every item on two worker threads. `job` returns a log line (printed after the
/// item's `label`) or a failure; a panic inside `job` is a failure too. Returns the failures as
/// `label: message`.
pub fn run_on_two_threads<T: Sync>(
    items: &[T],
    label: impl Fn(&T) -> String + Sync,
    job: impl Fn(&T) -> Result<String, String> + Sync,
) -> Vec<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let what = label(item);
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(item))) {
                        Ok(Ok(line)) => eprintln!("{what}: {line}"),
                        Ok(Err(e)) => failures.lock().unwrap().push(format!("{what}: {e}")),
                        Err(e) => {
                            let msg = e
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            failures.lock().unwrap().push(format!("{what}: {msg}"));
                        }
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// Identifiers of a Verilog-2001 module used before they are declared, in order of use (plus
/// identifiers declared twice). An independent, small checker: it tokenizes the text (comments,
/// compiler directives, based literals and system functions skipped) and reads the declarations
/// `input`/`output`/`inout`/`wire`/`reg`/`integer` (ranges, lists and net-declaration
/// assignments); every other identifier that is not a keyword is a use.
pub fn used_before_declared(text: &str) -> Vec<String> {
    const DECL: &[&str] = &["input", "output", "inout", "wire", "reg", "integer"];
    const KEYWORDS: &[&str] = &[
        "module",
        "endmodule",
        "assign",
        "always",
        "begin",
        "end",
        "if",
        "else",
        "for",
        "posedge",
        "negedge",
        "or",
        "signed",
        "initial",
        "case",
        "endcase",
        "default",
    ];
    let toks = verilog_tokens(text);
    let mut declared = std::collections::HashSet::new();
    let mut bad = Vec::new();
    let use_ = |t: &str, declared: &std::collections::HashSet<String>, bad: &mut Vec<String>| {
        if is_ident(t) && !KEYWORDS.contains(&t) && !DECL.contains(&t) && !declared.contains(t) {
            bad.push(t.to_string());
        }
    };
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        if t == "module" {
            i += 2; // the module's own name
            continue;
        }
        // An instance `Module name ( .port(expr), ... )`: the module and instance names, and
        // each `.port`, are not uses.
        if is_ident(t)
            && !KEYWORDS.contains(&t)
            && !DECL.contains(&t)
            && toks.get(i + 1).is_some_and(|n| is_ident(n))
            && toks.get(i + 2).map(String::as_str) == Some("(")
        {
            i += 3;
            continue;
        }
        if t == "." {
            i += 2;
            continue;
        }
        if !DECL.contains(&t) {
            use_(t, &declared, &mut bad);
            i += 1;
            continue;
        }
        // A declaration: [net/reg keywords] [signed] [range] name [= expr] {, name [= expr]}
        i += 1;
        loop {
            while i < toks.len() && (DECL.contains(&toks[i].as_str()) || toks[i] == "signed") {
                i += 1;
            }
            if i < toks.len() && toks[i] == "[" {
                while i < toks.len() && toks[i] != "]" {
                    use_(&toks[i], &declared, &mut bad);
                    i += 1;
                }
                i += 1;
            }
            let Some(name) = toks.get(i) else { break };
            if !declared.insert(name.clone()) {
                bad.push(format!("{name} (declared twice)"));
            }
            i += 1;
            if toks.get(i).map(String::as_str) == Some("=") {
                let mut depth = 0i32;
                i += 1;
                while i < toks.len() {
                    match toks[i].as_str() {
                        "(" | "[" | "{" => depth += 1,
                        ")" | "]" | "}" => depth -= 1,
                        "," | ";" if depth == 0 => break,
                        t => use_(t, &declared, &mut bad),
                    }
                    i += 1;
                }
            }
            // `, name` continues the list; `, input ...` (port list), `;` or `)` ends it.
            match toks.get(i).map(String::as_str) {
                Some(",") if !toks.get(i + 1).is_some_and(|n| DECL.contains(&n.as_str())) => i += 1,
                _ => break,
            }
        }
    }
    bad
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// Identifiers, numbers (a based literal `8'hff` is one token) and one-character punctuation.
fn verilog_tokens(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") || c == b'`' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i + 1 < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if c == b'$' || c.is_ascii_digit() || c == b'\'' {
            // System function, or a number with an optional size, base and digits.
            let s = i;
            i += 1;
            while i < b.len() && (word(b[i]) || b[i] == b'\'') {
                i += 1;
            }
            out.push(text[s..i].to_string());
        } else if word(c) {
            let s = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            out.push(text[s..i].to_string());
        } else {
            out.push((c as char).to_string());
            i += 1;
        }
    }
    out
}

/// Parses `path` with Icarus Verilog as strict Verilog-2001 (`iverilog -g2001`); the error
/// text if it does not parse. Needs iverilog (scripts/deps.sh installs it): without it, FAILS.
pub fn iverilog_parse(path: &Path) -> Result<(), String> {
    let out = std::process::Command::new("iverilog")
        .args(["-g2001", "-t", "null"])
        .arg(path)
        .output()
        .map_err(|e| format!("iverilog could not run ({e}); run scripts/deps.sh"))?;
    if out.status.success() && out.stderr.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "iverilog -g2001 {}: {}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Both checks on every `.v` file of a rendered project; the problems found.
pub fn strict_verilog_problems(files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = tempfile::tempdir().expect("temporary directory");
    for (path, text) in files.iter().filter(|(p, _)| p.ends_with(".v")) {
        // Each module has its own scope (a shared-Φ particle design has three in one file).
        let bad: Vec<String> = text
            .split("endmodule")
            .flat_map(used_before_declared)
            .collect();
        if !bad.is_empty() {
            problems.push(format!(
                "{path}: {} identifiers used before declaration, first {:?}",
                bad.len(),
                &bad[..bad.len().min(5)]
            ));
        }
        let f = dir.path().join(path.replace('/', "__"));
        std::fs::write(&f, text).expect("temporary file");
        if let Err(e) = iverilog_parse(&f) {
            problems.push(e);
        }
    }
    problems
}
