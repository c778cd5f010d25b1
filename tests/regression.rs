//! Regressors (architecture document `task: regression`, schema 4): `validate --json` on a
//! particle-level and a chain model equals the same statistics computed here from the
//! emulator's and the float reference's outputs (residuals wrapped modulo the period, ⟨sin²⟩,
//! differences to the float model and to PyTorch); the float model is checked against PyTorch
//! value by value (a wrong reference fails with exit code 2); bad documents and targets are
//! refused naming what is wrong.

use bit2hls::back::emu::set::SetEmulator;
use bit2hls::front::{load_net, LoadOptions};
use bit2hls::io::npy::read_npz_array;
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::Net;
use bit2hls::pipeline::{lower_set_for, FwOptions};
use bit2hls::reference::fixed::code_to_f64;
use bit2hls::reference::{float, set};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bit2hls"))
}

fn random_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/pfn_random")
}

/// `pfn_sum` with its architecture document turned into a schema-4 regressor by `edit`.
fn regressor(dir: &Path, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let m = dir.join("r.safetensors");
    std::fs::copy(random_dir().join("pfn_sum.safetensors"), &m).unwrap();
    let text = std::fs::read_to_string(random_dir().join("pfn_sum.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["schema"] = "bit2hls.arch/4".into();
    doc["task"] = serde_json::json!({"kind": "regression", "period": PI, "target": "angle"});
    edit(&mut doc);
    std::fs::write(dir.join("r.json"), doc.to_string()).unwrap();
    m
}

struct Data {
    x: Vec<f32>,
    mask: Vec<u8>,
    torch: Vec<f32>,
    jets: usize,
    particles: usize,
    features: usize,
    outputs: usize,
}

fn golden() -> Data {
    let p = random_dir().join("pfn_sum_golden.npz");
    let (xs, x) = read_npz_array(&p, "x").unwrap();
    let (_, m) = read_npz_array(&p, "mask").unwrap();
    let (ys, y) = read_npz_array(&p, "y").unwrap();
    Data {
        x,
        mask: m.iter().map(|v| (*v != 0.0) as u8).collect(),
        torch: y,
        jets: xs[0],
        particles: xs[1],
        features: xs[2],
        outputs: ys[1],
    }
}

/// A target per jet and output (any values: the residuals are what is checked).
fn target(d: &Data) -> Vec<f64> {
    (0..d.jets * d.outputs)
        .map(|i| ((i as f64) * 0.7).sin() * 2.0)
        .collect()
}

fn write_data(path: &Path, d: &Data, target: Option<(&[f64], usize)>, reference: Option<&[f32]>) {
    let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    let x = ndarray::Array3::from_shape_vec((d.jets, d.particles, d.features), d.x.clone());
    z.add_array("x", &x.unwrap()).unwrap();
    let m = ndarray::Array2::from_shape_vec((d.jets, d.particles), d.mask.clone()).unwrap();
    z.add_array("mask", &m).unwrap();
    if let Some((t, cols)) = target {
        let t = ndarray::Array2::from_shape_vec((t.len() / cols, cols), t.to_vec()).unwrap();
        z.add_array("target", &t).unwrap();
    }
    if let Some(r) = reference {
        let r = ndarray::Array2::from_shape_vec((d.jets, d.outputs), r.to_vec()).unwrap();
        z.add_array("ref", &r).unwrap();
    }
    z.finish().unwrap();
}

fn validate(model: &Path, data: &Path) -> (Option<i32>, String, String) {
    let o = bin()
        .args([
            "validate",
            "--json",
            "--only",
            "dynamic",
            "--only",
            "dynamic-pow2",
        ])
        .arg(model)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn wrap(r: f64) -> f64 {
    let w = r.rem_euclid(PI);
    if w >= PI / 2.0 {
        w - PI
    } else {
        w
    }
}

/// (mean, std, ⟨sin²⟩) of the wrapped residuals of output `o`.
fn stats(pred: &[f64], target: &[f64], outputs: usize, o: usize) -> (f64, f64, f64) {
    let r: Vec<f64> = pred
        .iter()
        .zip(target)
        .skip(o)
        .step_by(outputs)
        .map(|(p, t)| wrap(p - t))
        .collect();
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let sin2 = r.iter().map(|v| v.sin() * v.sin()).sum::<f64>() / n;
    (mean, var.sqrt(), sin2)
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
        "{what}: validate says {a}, expected {b}"
    );
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn particle_regressor_figures_equal_the_emulator_and_the_float_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = regressor(dir.path(), |_| {});
    let d = golden();
    let t = target(&d);
    let data = dir.path().join("d.npz");
    write_data(&data, &d, Some((&t, d.outputs)), Some(&d.torch));
    let (code, out, err) = validate(&m, &data);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["task"]["kind"], "regression");
    let reg = &v["regression"];
    assert_eq!(reg["has_target"], true);

    // The same numbers from the library: float reference and fast emulator.
    let net = load_net(&m, &LoadOptions::default()).unwrap();
    let Net::Set(s) = &net.model else {
        panic!("a particle model")
    };
    let jet_of = |j: usize| {
        let (nf, n) = (s.jet_len(), s.particles);
        (&d.x[j * nf..(j + 1) * nf], &d.mask[j * n..(j + 1) * n])
    };
    let float_out: Vec<f64> = (0..d.jets)
        .flat_map(|j| {
            let (x, mk) = jet_of(j);
            float::forward(&s.rho, &set::rho_input_float(s, x, mk, &[]), None)
        })
        .map(|v| v as f64)
        .collect();
    let torch: Vec<f64> = d.torch.iter().map(|&v| v as f64).collect();
    for o in 0..d.outputs {
        let fig = &reg["outputs"][o];
        let (mean, std, sin2) = stats(&float_out, &t, d.outputs, o);
        close(f(&fig["float"]["mean"]), mean, "float mean");
        close(f(&fig["float"]["std"]), std, "float std");
        close(f(&fig["float"]["mean_sin2"]), sin2, "float sin2");
        let (mean, _, sin2) = stats(&torch, &t, d.outputs, o);
        close(f(&fig["reference"]["mean"]), mean, "PyTorch mean");
        close(f(&fig["reference"]["mean_sin2"]), sin2, "PyTorch sin2");
        let hist: u64 = fig["float"]["hist"]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        // every wrapped residual lies in [−π/2, π/2): the histogram has every jet
        assert_eq!(hist, d.jets as u64);
        for (k, mode) in [Mode::Dynamic, Mode::DynamicPow2].into_iter().enumerate() {
            let fw = lower_set_for(s, &FwOptions::default(), mode, None).unwrap();
            let codes = SetEmulator::new(&fw).run_batch(&d.x, &d.mask, &[]);
            let out_t = fw.output_type();
            let fw_out: Vec<f64> = codes.iter().map(|&c| code_to_f64(c, out_t)).collect();
            let mf = &fig["modes"][k];
            assert_eq!(mf["mode"], mode.to_string());
            let (mean, std, sin2) = stats(&fw_out, &t, d.outputs, o);
            close(f(&mf["residuals"]["mean"]), mean, "firmware mean");
            close(f(&mf["residuals"]["std"]), std, "firmware std");
            close(f(&mf["residuals"]["mean_sin2"]), sin2, "firmware sin2");
            let col = |v: &[f64]| {
                v.iter()
                    .skip(o)
                    .step_by(d.outputs)
                    .copied()
                    .collect::<Vec<_>>()
            };
            let (a, b, c) = (col(&fw_out), col(&float_out), col(&torch));
            let max_abs = |p: &[f64], q: &[f64]| {
                p.iter()
                    .zip(q)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max)
            };
            close(
                f(&mf["vs_float"]["max_abs"]),
                max_abs(&a, &b),
                "max |fw − float|",
            );
            close(
                f(&mf["vs_reference"]["max_abs"]),
                max_abs(&a, &c),
                "max |fw − torch|",
            );
            assert!(
                f(&mf["vs_float"]["max_abs"]) > 0.0,
                "firmware is not the float model"
            );
        }
    }
    // the float model is PyTorch's, value by value
    assert_eq!(v["reference"]["passed"], true, "{}", v["reference"]);
    assert!(f(&v["reference"]["agreement_without_ties"]) >= 0.999);

    // a reference that is off by 1 % of the outputs' scale on half of the jets fails (exit 2)
    let scale = d.torch.iter().fold(0f32, |m, v| m.max(v.abs()));
    let wrong: Vec<f32> = d
        .torch
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if (i / d.outputs).is_multiple_of(2) {
                v + 0.01 * scale
            } else {
                *v
            }
        })
        .collect();
    write_data(&data, &d, Some((&t, d.outputs)), Some(&wrong));
    let (code, out, err) = validate(&m, &data);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains("bit2hls is not computing your model"), "{err}");
}

#[test]
fn a_regressor_without_a_target_reports_differences_only() {
    let dir = tempfile::tempdir().unwrap();
    let m = regressor(dir.path(), |_| {});
    let d = golden();
    let data = dir.path().join("d.npz");
    write_data(&data, &d, None, None);
    let (code, out, err) = validate(&m, &data);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["regression"]["has_target"], false);
    let fig = &v["regression"]["outputs"][0];
    assert!(fig["float"].is_null() && fig["modes"][0]["residuals"].is_null());
    assert!(f(&fig["modes"][0]["vs_float"]["mean_abs"]) >= 0.0);
    // the table a user reads
    let o = bin()
        .args(["validate", "--only", "dynamic"])
        .arg(&m)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("task: regression of angle (modulo 3.14159"),
        "{text}"
    );
    assert!(text.contains("residuals are not computed"), "{text}");
}

#[test]
fn bad_tasks_and_targets_are_refused_by_name() {
    let d = golden();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|doc| doc["schema"] = "bit2hls.arch/3".into()),
            "key 'task' needs schema 'bit2hls.arch/4'",
        ),
        (
            Box::new(|doc| doc["task"]["period"] = (-1.0).into()),
            "period -1 must be a positive number",
        ),
        (
            Box::new(|doc| {
                doc["task"] = serde_json::json!({"kind": "classification", "period": 2.0})
            }),
            "'period' and 'target' are for",
        ),
        (
            Box::new(|doc| doc["task"] = serde_json::json!({"kind": "ranking"})),
            "unknown variant `ranking`",
        ),
    ];
    for (edit, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let m = regressor(dir.path(), edit);
        let data = dir.path().join("d.npz");
        write_data(&data, &d, None, None);
        let (code, _, err) = validate(&m, &data);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(want) && err.contains("r.json"),
            "{err}\nexpected: {want}"
        );
    }
    // a target with the wrong number of rows, and a non-finite one
    let dir = tempfile::tempdir().unwrap();
    let m = regressor(dir.path(), |_| {});
    let data = dir.path().join("d.npz");
    let t = target(&d);
    write_data(
        &data,
        &d,
        Some((&t[..t.len() - d.outputs], d.outputs)),
        None,
    );
    let (code, _, err) = validate(&m, &data);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("'target' is [") && err.contains("d.npz"),
        "{err}"
    );
    // regression targets stored as 'y' (where a classifier's labels go) are refused, saying where
    // they belong
    let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    let x = ndarray::Array3::from_shape_vec((d.jets, d.particles, d.features), d.x.clone());
    z.add_array("x", &x.unwrap()).unwrap();
    let mk = ndarray::Array2::from_shape_vec((d.jets, d.particles), d.mask.clone()).unwrap();
    z.add_array("mask", &mk).unwrap();
    let y = ndarray::Array2::from_shape_vec((d.jets, d.outputs), t.clone()).unwrap();
    z.add_array("y", &y).unwrap();
    z.finish().unwrap();
    let (code, _, err) = validate(&m, &data);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("has 'y' but no 'target'"), "{err}");
    let mut bad = t.clone();
    bad[3] = f64::NAN;
    write_data(&data, &d, Some((&bad, d.outputs)), None);
    let (code, _, err) = validate(&m, &data);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("'target'[") && err.contains("must be finite"),
        "{err}"
    );
}

/// A chain regressor (no period): validate's residuals and differences equal the ones computed
/// here from the emulator (dynamic mode) and the float reference.
#[test]
fn chain_regressor_figures_equal_the_emulator_and_the_float_model() {
    use bit2hls::front::load;
    use bit2hls::pipeline::lower_for;
    use bit2hls::reference::fixed::Emulator;
    use bit2hls::testutil::{fw_options, gaussian, safetensors_bytes, sequential_state_dict};
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("c.safetensors");
    let sd = sequential_state_dict(&[6, 16, 2], "net.", true, 5);
    std::fs::write(&m, safetensors_bytes(&sd, None)).unwrap();
    let doc = serde_json::json!({
        "schema": "bit2hls.arch/4", "inputs": 6,
        "task": {"kind": "regression", "target": "energy"},
        "layers": [
            {"op": "bitlinear", "weight": "net.0.weight", "bias": "net.0.bias"},
            {"op": "relu"},
            {"op": "bitlinear", "weight": "net.2.weight", "bias": "net.2.bias"}
        ]
    });
    std::fs::write(dir.path().join("c.json"), doc.to_string()).unwrap();
    let n = 700;
    let x = gaussian(n * 6, 21);
    let t: Vec<f64> = (0..n * 2).map(|i| (i as f64 * 0.37).cos()).collect();
    let data = dir.path().join("d.npz");
    let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    z.add_array(
        "x",
        &ndarray::Array2::from_shape_vec((n, 6), x.clone()).unwrap(),
    )
    .unwrap();
    z.add_array(
        "target",
        &ndarray::Array2::from_shape_vec((n, 2), t.clone()).unwrap(),
    )
    .unwrap();
    z.finish().unwrap();
    let o = bin()
        .args(["validate", "--json", "--only", "dynamic"])
        .arg(&m)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let loaded = load(&m, &LoadOptions::default()).unwrap();
    assert_eq!(
        loaded.task,
        bit2hls::ir::task::Task::Regression {
            period: None,
            target: Some("energy".into())
        }
    );
    let fw = lower_for(&loaded, &fw_options(Mode::Dynamic), Mode::Dynamic, None).unwrap();
    let fw_out: Vec<f64> = Emulator::new(&fw)
        .run_batch(&x)
        .iter()
        .map(|&c| code_to_f64(c, fw.output_type()))
        .collect();
    let float_out: Vec<f64> = x
        .chunks(6)
        .flat_map(|e| float::forward(&loaded.model, e, None))
        .map(|y| y as f64)
        .collect();
    for o in 0..2 {
        let fig = &v["regression"]["outputs"][o];
        let res = |p: &[f64]| -> Vec<f64> {
            p.iter()
                .zip(&t)
                .skip(o)
                .step_by(2)
                .map(|(a, b)| a - b)
                .collect()
        };
        let (rf, rw) = (res(&float_out), res(&fw_out));
        let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len() as f64;
        close(f(&fig["float"]["mean"]), mean(&rf), "float mean");
        close(
            f(&fig["modes"][0]["residuals"]["mean"]),
            mean(&rw),
            "firmware mean",
        );
        let m0 = mean(&rw);
        let std = (rw.iter().map(|r| (r - m0) * (r - m0)).sum::<f64>() / rw.len() as f64).sqrt();
        close(f(&fig["modes"][0]["residuals"]["std"]), std, "firmware std");
        assert!(
            fig["modes"][0]["residuals"]["mean_sin2"].is_null(),
            "no period, no sin²"
        );
        let mean_abs = rw.iter().zip(&rf).map(|(a, b)| (a - b).abs()).sum::<f64>() / n as f64;
        close(
            f(&fig["modes"][0]["vs_float"]["mean_abs"]),
            mean_abs,
            "mean |fw − float|",
        );
    }
}
