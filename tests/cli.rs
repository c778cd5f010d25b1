//! The command line as a user drives it: outputs equal the library, bad input fails cleanly.

use bit2hls::front::{load, LoadOptions, Loaded};
use bit2hls::io::npy::NpyWriter;
use bit2hls::ir::firmware::Mode;
use bit2hls::pipeline::lower_for;
use bit2hls::reference::fixed::Emulator;
use bit2hls::testutil::fw_options;
use bit2hls::testutil::{gaussian, safetensors_bytes, sequential_state_dict};
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bit2hls"))
}

fn model(dir: &Path, bias: bool) -> PathBuf {
    let p = dir.join(if bias {
        "m.safetensors"
    } else {
        "nb.safetensors"
    });
    std::fs::write(
        &p,
        safetensors_bytes(
            &sequential_state_dict(&[16, 32, 8, 5], "net.", bias, 3),
            None,
        ),
    )
    .unwrap();
    p
}

fn write_npy(path: &Path, rows: usize, cols: usize, v: &[f32]) {
    let mut w = NpyWriter::create(path, "<f4", rows, cols).unwrap();
    w.write_f32(v).unwrap();
    w.finish().unwrap();
}

fn read_npy_f64(path: &Path) -> Vec<f64> {
    let a: ndarray::Array2<f64> = ndarray_npy::read_npy(path).unwrap();
    a.iter().copied().collect()
}

fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run_err(c: &mut Command) -> String {
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "should have failed");
    assert_eq!(
        o.status.code(),
        Some(1),
        "clean error exit, not a panic: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn emulate_equals_library_emulator_in_every_mode() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path(), true);
    let n = 3000;
    let x = gaussian(n * 16, 42);
    let xin = d.path().join("x.npy");
    write_npy(&xin, n, 16, &x);
    let loaded: Loaded = load(&m, &LoadOptions::default()).unwrap();
    for mode in [Mode::Dynamic, Mode::DynamicPow2] {
        let out = d.path().join(format!("y_{mode}.npy"));
        run_ok(
            bin()
                .args(["emulate"])
                .arg(&m)
                .args(["--mode", mode.as_str(), "--input"])
                .arg(&xin)
                .arg("--output")
                .arg(&out),
        );
        let fw = lower_for(&loaded, &fw_options(mode), mode, None).unwrap();
        let expect = Emulator::new(&fw).run_batch(&x);
        let got = read_npy_f64(&out);
        let t = fw.output_type();
        let expect: Vec<f64> = expect
            .iter()
            .map(|&c| bit2hls::reference::fixed::code_to_f64(c, t))
            .collect();
        assert_eq!(got, expect, "mode {mode}");
    }
    // Float reference.
    let out = d.path().join("yf.npy");
    run_ok(
        bin()
            .arg("emulate")
            .arg(&m)
            .arg("--float")
            .arg("--input")
            .arg(&xin)
            .arg("--output")
            .arg(&out),
    );
    let a: ndarray::Array2<f32> = ndarray_npy::read_npy(&out).unwrap();
    let first: Vec<f32> = bit2hls::reference::float::forward(&loaded.model, &x[..16], None);
    assert_eq!(a.row(0).to_vec(), first);
}

#[test]
fn inspect_shows_every_pass() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path(), false);
    let s = run_ok(bin().arg("inspect").arg(&m));
    for needle in [
        "== front + ternarize",
        "inferred from tensor names",
        "== fold",
        "== lower",
        "accumulator",
        "ap_fixed<16,6> [default",
    ] {
        assert!(s.contains(needle), "missing '{needle}' in:\n{s}");
    }
}

#[test]
fn validate_reports_all_modes() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path(), true);
    let n = 500;
    let x = ndarray::Array2::from_shape_vec((n, 16), gaussian(n * 16, 8)).unwrap();
    let y = ndarray::Array1::from_iter((0..n as i64).map(|i| i % 2));
    let data = d.path().join("d.npz");
    let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    z.add_array("x", &x).unwrap();
    z.add_array("y", &y).unwrap();
    z.finish().unwrap();
    let s = run_ok(
        bin()
            .arg("validate")
            .arg(&m)
            .arg("--data")
            .arg(&data)
            .arg("--json"),
    );
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    let modes: Vec<&str> = v["modes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["dynamic", "dynamic-pow2", "static"]);
    for m in v["modes"].as_array().unwrap() {
        let agree = m["argmax_agreement"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&agree));
        assert_eq!(m["flipped_codes"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn bad_inputs_fail_cleanly_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path(), true);
    let out = d.path().join("out.npy");

    // A missing model: the file and the OS reason, once.
    let missing = d.path().join("missing.safetensors");
    let e = run_err(bin().arg("estimate").arg(&missing));
    assert!(e.contains("missing.safetensors: cannot read: "), "{e}");
    let rest = e.split("cannot read: ").nth(1).unwrap_or_default();
    let os = rest.split(": ").next().unwrap_or_default().trim();
    assert!(!os.is_empty(), "{e}");
    assert_eq!(e.matches(os).count(), 1, "reason printed twice: {e}");

    // Wrong width.
    let xin = d.path().join("w.npy");
    write_npy(&xin, 4, 7, &[0.0; 28]);
    let e = run_err(
        bin()
            .arg("emulate")
            .arg(&m)
            .arg("--input")
            .arg(&xin)
            .arg("--output")
            .arg(&out),
    );
    assert!(
        e.contains("w.npy") && e.contains("7 features") && e.contains("takes 16"),
        "{e}"
    );
    assert!(!out.exists());

    // Wrong dtype (int64).
    let xi = d.path().join("i.npy");
    let mut w = NpyWriter::create(&xi, "<i8", 2, 16).unwrap();
    w.write_i64(&[0; 32]).unwrap();
    w.finish().unwrap();
    let e = run_err(
        bin()
            .arg("emulate")
            .arg(&m)
            .arg("--input")
            .arg(&xi)
            .arg("--output")
            .arg(&out),
    );
    assert!(e.contains("i.npy") && e.contains("float32"), "{e}");
    assert!(!out.exists());

    // NaN input.
    let xn = d.path().join("n.npy");
    let mut v = vec![0.5f32; 32];
    v[20] = f32::NAN;
    write_npy(&xn, 2, 16, &v);
    let e = run_err(
        bin()
            .arg("emulate")
            .arg(&m)
            .arg("--input")
            .arg(&xn)
            .arg("--output")
            .arg(&out),
    );
    assert!(e.contains("row 1, column 4"), "{e}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(d.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".part"))
            .count(),
        0
    );

    // Missing model, not-a-model, bad input type.
    let e = run_err(bin().arg("inspect").arg(d.path().join("nope.safetensors")));
    assert!(
        e.contains("nope.safetensors") && e.contains("cannot read"),
        "{e}"
    );
    let e = run_err(bin().arg("inspect").arg(&xin));
    assert!(e.contains("w.npy") && e.contains("safetensors"), "{e}");
    let e = run_err(bin().arg("inspect").arg(&m).args(["--input-type", "float"]));
    assert!(e.contains("--input-type 'float'"), "{e}");
    let e = run_err(bin().arg("inspect").arg(&m).args(["--mode", "static"]));
    assert!(e.contains("static mode needs calibration data"), "{e}");
}

/// Files written by models/training/make_export_tests.py with PyTorch.
fn export_test(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/export_tests")
        .join(name)
}

#[test]
fn every_command_warns_about_the_assumed_activations() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path(), true);
    let xin = d.path().join("x.npy");
    write_npy(&xin, 3, 16, &gaussian(48, 1));
    let cmds: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["inspect".into(), m.clone().into()],
        vec!["inspect".into(), m.clone().into(), "--json".into()],
        vec![
            "emulate".into(),
            m.clone().into(),
            "--input".into(),
            xin.clone().into(),
            "--output".into(),
            d.path().join("y.npy").into(),
        ],
        vec!["estimate".into(), m.clone().into()],
        vec![
            "compile".into(),
            m.clone().into(),
            "-o".into(),
            d.path().join("prj").into(),
        ],
    ];
    for args in cmds {
        let o = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{args:?}: {err}");
        for needle in [
            "warning: ",
            "m.safetensors",
            "assumed ReLU between 'net.0' and 'net.2'; assumed ReLU between 'net.2' and 'net.4'",
            "Tanh, GELU, SiLU",
            "--arch FILE",
        ] {
            assert!(
                err.contains(needle),
                "{args:?}: missing '{needle}' in stderr:\n{err}"
            );
        }
    }
    let report = std::fs::read_to_string(d.path().join("prj/report.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        v["assumptions"].as_array().unwrap().len(),
        2,
        "{}",
        v["assumptions"]
    );
    let html = std::fs::read_to_string(d.path().join("prj/report.html")).unwrap();
    assert!(html.contains("assumed ReLU between"));
}

#[test]
fn pytorch_export_files_are_read_or_refused_by_layer() {
    // The plain state dict of a module with attributes inp/hid/out: refused, layers named.
    let e = run_err(
        bin()
            .arg("inspect")
            .arg(export_test("attrs_plain.safetensors")),
    );
    for needle in [
        "attrs_plain.safetensors",
        "'hid', 'inp', 'out'",
        "--arch",
        "export.py",
    ] {
        assert!(e.contains(needle), "missing '{needle}' in: {e}");
    }
    // export.py traced the call order: inp, hid, out, and nothing is assumed.
    let o = bin()
        .arg("inspect")
        .arg(export_test("attrs.safetensors"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
    let (i, h, t) = (
        out.find("#0 inp").unwrap(),
        out.find("#2 hid").unwrap(),
        out.find("#4 out").unwrap(),
    );
    assert!(i < h && h < t, "{out}");
    // export.py wrote the Tanh as it is: refused, naming the layer and the op.
    let e = run_err(bin().arg("inspect").arg(export_test("tanh.safetensors")));
    for needle in [
        "tanh.json",
        "layer #1 '1'",
        "'tanh' (nn.Tanh)",
        "not supported",
    ] {
        assert!(e.contains(needle), "missing '{needle}' in: {e}");
    }
}

/// `validate --reference` on the AttrNet files: `extra` args describe the model.
fn validate_against_torch(extra: &[&std::ffi::OsStr]) -> (std::process::Output, serde_json::Value) {
    let o = bin()
        .arg("validate")
        .args(extra)
        .arg("--data")
        .arg(export_test("attrs_data.npz"))
        .arg("--reference")
        .arg(export_test("attrs_torch.npy"))
        .args(["--only", "dynamic", "--json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o, v)
}

#[test]
fn reference_outputs_pass_the_right_model_and_fail_a_wrong_one() {
    // The right model (order from export.py's document): int8 labels are read, PyTorch agrees.
    let (o, v) = validate_against_torch(&[export_test("attrs.safetensors").as_os_str()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = &v["reference"];
    assert_eq!(r["events"], 2000);
    assert_eq!(r["passed"], true, "{r}");
    assert!(
        r["agreement_without_ties"].as_f64().unwrap() >= 0.999,
        "{r}"
    );
    assert!(
        v["float_accuracy"].as_f64().unwrap() >= 0.999,
        "labels are PyTorch's argmax"
    );
    assert!(
        v["modes"][0]["reference"]["argmax_agreement"]
            .as_f64()
            .unwrap()
            > 0.98
    );

    // The same weights in the alphabetical order the old reader chose: a reported failure.
    let d = tempfile::tempdir().unwrap();
    let wrong = d.path().join("alphabetical.json");
    let layers: Vec<String> = ["hid", "inp", "out"]
        .iter()
        .map(|n| format!(r#"{{"op":"bitlinear","weight":"{n}.weight","bias":"{n}.bias"}}"#))
        .collect();
    let doc = format!(
        r#"{{"schema":"bit2hls.arch/1","layers":[{}]}}"#,
        layers.join(r#",{"op":"relu"},"#)
    );
    std::fs::write(&wrong, doc).unwrap();
    let (o, v) = validate_against_torch(&[
        export_test("attrs_plain.safetensors").as_os_str(),
        "--arch".as_ref(),
        wrong.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(v["reference"]["passed"], false);
    assert!(
        v["reference"]["float"]["argmax_agreement"]
            .as_f64()
            .unwrap()
            < 0.99
    );
    assert!(
        err.contains("attrs_torch.npy") && err.contains("below --min-agreement"),
        "{err}"
    );

    // A missing activation (--hidden-act none on a ReLU model) fails the same way.
    let none_doc = d.path().join("none.json");
    std::fs::write(
        &none_doc,
        format!(r#"{{"schema":"bit2hls.arch/1","layers":[{}]}}"#, {
            let l: Vec<String> = ["inp", "hid", "out"]
                .iter()
                .map(|n| format!(r#"{{"op":"bitlinear","weight":"{n}.weight","bias":"{n}.bias"}}"#))
                .collect();
            l.join(",")
        }),
    )
    .unwrap();
    let (o, _) = validate_against_torch(&[
        export_test("attrs_plain.safetensors").as_os_str(),
        "--arch".as_ref(),
        none_doc.as_os_str(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A reference of the wrong width is refused before anything runs.
    let bad = d.path().join("three.npy");
    write_npy(&bad, 2000, 3, &vec![0.0; 6000]);
    let e = run_err(
        bin()
            .arg("validate")
            .arg(export_test("attrs.safetensors"))
            .arg("--data")
            .arg(export_test("attrs_data.npz"))
            .arg("--reference")
            .arg(&bad),
    );
    assert!(
        e.contains("three.npy") && e.contains("3 outputs") && e.contains("has 2"),
        "{e}"
    );
}

#[test]
fn torch_save_file_gets_the_save_file_advice() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("model.pt");
    std::fs::write(&p, b"PK\x03\x04\x14\x00\x00\x08\x08\x00archive/data.pkl").unwrap();
    let e = run_err(bin().arg("inspect").arg(&p));
    assert!(
        e.contains("model.pt")
            && e.contains("torch.save")
            && e.contains("safetensors.torch.save_file"),
        "{e}"
    );
}

#[test]
fn compile_records_the_pytorch_check_and_fails_a_wrong_model() {
    let d = tempfile::tempdir().unwrap();
    let compile = |model: &Path, arch: Option<&Path>, out: &Path| {
        let mut c = bin();
        c.arg("compile").arg(model).arg("-o").arg(out);
        if let Some(a) = arch {
            c.arg("--arch").arg(a);
        }
        c.arg("--data")
            .arg(export_test("attrs_data.npz"))
            .arg("--reference")
            .arg(export_test("attrs_torch.npy"))
            .output()
            .unwrap()
    };
    let ok = d.path().join("ok");
    let o = compile(&export_test("attrs.safetensors"), None, &ok);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ok.join("report.json")).unwrap()).unwrap();
    assert_eq!(v["validation"]["reference"]["passed"], true);
    let html = std::fs::read_to_string(ok.join("report.html")).unwrap();
    assert!(
        html.contains(r#"<span class="pill pass">PASS</span> The float model agrees with PyTorch on 100.000 %"#),
        "{html}"
    );

    let wrong = d.path().join("alphabetical.json");
    std::fs::write(
        &wrong,
        r#"{"schema":"bit2hls.arch/1","layers":[
        {"op":"bitlinear","weight":"hid.weight","bias":"hid.bias"},{"op":"relu"},
        {"op":"bitlinear","weight":"inp.weight","bias":"inp.bias"},{"op":"relu"},
        {"op":"bitlinear","weight":"out.weight","bias":"out.bias"}]}"#,
    )
    .unwrap();
    let bad = d.path().join("bad");
    let o = compile(&export_test("attrs_plain.safetensors"), Some(&wrong), &bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("below --min-agreement"), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bad.join("report.json")).unwrap()).unwrap();
    assert_eq!(v["validation"]["reference"]["passed"], false);
    let html = std::fs::read_to_string(bad.join("report.html")).unwrap();
    assert!(
        html.contains(r#"<span class="pill fail">FAIL</span> The float model agrees"#)
            && html.contains("attrs_torch.npy"),
        "{html}"
    );

    // A reference without data cannot be compared.
    let e = run_err(
        bin()
            .arg("compile")
            .arg(export_test("attrs.safetensors"))
            .arg("-o")
            .arg(d.path().join("nodata"))
            .arg("--reference")
            .arg(export_test("attrs_torch.npy")),
    );
    assert!(e.contains("--reference needs --data"), "{e}");
}

/// The data (`x`, `label` as `y`) and PyTorch outputs (`y`) of a shipped model's golden.npz,
/// as `validate --data` and `--reference` files in `dir`.
fn golden_files(model: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{model}/golden.npz"));
    let mut z = ndarray_npy::NpzReader::new(std::fs::File::open(golden).unwrap()).unwrap();
    let x: ndarray::Array2<f32> = z.by_name("x").unwrap();
    let y: ndarray::Array2<f32> = z.by_name("y").unwrap();
    let label: ndarray::Array1<i64> = z.by_name("label").unwrap();
    let data = dir.join(format!("{model}_data.npz"));
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    w.add_array("x", &x).unwrap();
    w.add_array("y", &label).unwrap();
    w.finish().unwrap();
    let reference = dir.join(format!("{model}_torch.npy"));
    ndarray_npy::write_npy(&reference, &y).unwrap();
    (data, reference)
}

#[test]
fn shipped_models_agree_with_their_pytorch_outputs_and_a_wrong_profile_fails() {
    let d = tempfile::tempdir().unwrap();
    // qg_mlp_tiny is bias-free: it hits rounding ties, which are counted apart.
    for model in ["qg_mlp", "qg_mlp_tiny", "qg_mlp_partial"] {
        let (data, reference) = golden_files(model, d.path());
        let path = format!(
            "{}/models/{model}/{model}.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let s = run_ok(
            bin()
                .arg("validate")
                .arg(&path)
                .arg("--data")
                .arg(&data)
                .arg("--reference")
                .arg(&reference)
                .args(["--only", "dynamic", "--json"]),
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let r = &v["reference"];
        assert_eq!(r["passed"], true, "{model}: {r}");
        assert!(
            r["agreement_without_ties"].as_f64().unwrap() >= 0.999,
            "{model}: {r}"
        );
    }
    // The same bias-free model with a wrong profile decision (weight eps 0.5 instead of 1e-8).
    let (data, reference) = golden_files("qg_mlp_tiny", d.path());
    let o = bin()
        .arg("validate")
        .arg(format!(
            "{}/models/qg_mlp_tiny/qg_mlp_tiny.safetensors",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--eps-w", "0.5", "--only", "dynamic"])
        .arg("--data")
        .arg(&data)
        .arg("--reference")
        .arg(&reference)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("qg_mlp_tiny_torch.npy") && err.contains("below --min-agreement 99.900 %"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));

    // Reference rows that are not the data's events are refused, naming both files.
    let (other_data, _) = golden_files("qg_mlp", d.path());
    let short = d.path().join("short.npy");
    write_npy(&short, 10, 2, &[0.0; 20]);
    let e = run_err(
        bin()
            .arg("validate")
            .arg(format!(
                "{}/models/qg_mlp/qg_mlp.safetensors",
                env!("CARGO_MANIFEST_DIR")
            ))
            .arg("--data")
            .arg(&other_data)
            .arg("--reference")
            .arg(&short)
            .args(["--only", "dynamic"]),
    );
    assert!(
        e.contains("short.npy") && e.contains("has 10 events") && e.contains("qg_mlp_data.npz"),
        "{e}"
    );

    // Labels that are not class indices are refused, naming the file and the index.
    let bad = d.path().join("bad_labels.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&bad).unwrap());
    w.add_array("x", &ndarray::Array2::<f32>::zeros((3, 16)))
        .unwrap();
    w.add_array("y", &ndarray::arr1(&[0.0f32, 1.0, 0.5]))
        .unwrap();
    w.finish().unwrap();
    let e = run_err(
        bin()
            .arg("validate")
            .arg(format!(
                "{}/models/qg_mlp/qg_mlp.safetensors",
                env!("CARGO_MANIFEST_DIR")
            ))
            .arg("--data")
            .arg(&bad),
    );
    assert!(
        e.contains("bad_labels.npz") && e.contains("'y'[2] = 0.5"),
        "{e}"
    );
}

#[test]
fn a_torch_member_of_the_data_file_is_the_reference() {
    let d = tempfile::tempdir().unwrap();
    let src = export_test("attrs_data.npz");
    let mut z = ndarray_npy::NpzReader::new(std::fs::File::open(src).unwrap()).unwrap();
    let x: ndarray::Array2<f32> = z.by_name("x").unwrap();
    let y: ndarray::Array1<i8> = z.by_name("y").unwrap();
    let torch: ndarray::Array2<f32> =
        ndarray_npy::read_npy(export_test("attrs_torch.npy")).unwrap();
    let data = d.path().join("with_torch.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    w.add_array("x", &x).unwrap();
    w.add_array("y", &y).unwrap();
    w.add_array("torch", &torch).unwrap();
    w.finish().unwrap();
    let s = run_ok(
        bin()
            .arg("validate")
            .arg(export_test("attrs.safetensors"))
            .arg("--data")
            .arg(&data)
            .args(["--only", "dynamic", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert!(
        v["reference"]["path"]
            .as_str()
            .unwrap()
            .ends_with("with_torch.npz:torch"),
        "{v}"
    );
    assert_eq!(v["reference"]["passed"], true);
}

/// `csim`/`rtlsim --input` recompute the expected outputs from the project's firmware.json,
/// which the user can edit: a shortened per-output list is refused with the layer and field
/// (it used to panic with an index out of bounds in the emulator).
#[test]
fn edited_firmware_json_is_refused_by_csim_and_rtlsim() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path(), true);
    let xin = d.path().join("x.npy");
    write_npy(&xin, 4, 16, &gaussian(4 * 16, 5));
    for (cmd, backend) in [("csim", "hls"), ("rtlsim", "verilog")] {
        let prj = d.path().join(backend);
        run_ok(
            bin()
                .arg("compile")
                .arg(&m)
                .arg("-o")
                .arg(&prj)
                .args(["--backend", backend]),
        );
        let fj = prj.join("firmware.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&fj).unwrap()).unwrap();
        v["layers"][0]["scale"].as_array_mut().unwrap().pop();
        std::fs::write(&fj, v.to_string()).unwrap();
        let err = run_err(bin().arg(cmd).arg(&prj).arg("--input").arg(&xin));
        assert!(
            err.contains(
                "firmware.json: invalid firmware: layer #0 'net.0', scale: 31 entries, expected 32"
            ),
            "{cmd}: {err}"
        );
    }
}

/// `attrs.safetensors` (a real PyTorch export) with `example` stored as `bit2hls.example`, as
/// the Python package's `bit2hls.export(..., example_input=x)` writes it.
fn with_stored_example(dir: &Path, example: Option<(safetensors::Dtype, Vec<u8>)>) -> PathBuf {
    use bit2hls::testutil::RawTensor;
    let bytes = std::fs::read(export_test("attrs.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<RawTensor> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| RawTensor {
            name,
            dtype: v.dtype(),
            shape: v.shape().to_vec(),
            data: v.data().to_vec(),
        })
        .collect();
    if let Some((dtype, data)) = example {
        tensors.push(RawTensor {
            name: "bit2hls.example".into(),
            dtype,
            shape: vec![data.len()],
            data,
        });
    }
    let md = meta.metadata().clone().map(|m| m.into_iter().collect());
    let p = dir.join("stored.safetensors");
    std::fs::write(&p, safetensors_bytes(&tensors, md)).unwrap();
    p
}

/// The bytes of an .npz with `x` and `y` (the AttrNet test inputs and labels) and `ref`
/// (PyTorch's outputs): the data file `validate_against_torch` gives, in one.
fn example_npz() -> Vec<u8> {
    use ndarray::Array2;
    let mut z =
        ndarray_npy::NpzReader::new(std::fs::File::open(export_test("attrs_data.npz")).unwrap())
            .unwrap();
    let x: Array2<f32> = z.by_name("x").unwrap();
    let y: ndarray::Array1<i8> = z.by_name("y").unwrap();
    let r: Array2<f32> = ndarray_npy::read_npy(export_test("attrs_torch.npy")).unwrap();
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = ndarray_npy::NpzWriter::new(&mut buf);
    w.add_array("x", &x).unwrap();
    w.add_array("y", &y).unwrap();
    w.add_array("ref", &r).unwrap();
    w.finish().unwrap();
    buf.into_inner()
}

/// `validate` without `--data` uses the stored example and reports exactly what `--data` +
/// `--reference` with the same arrays report; without an example (or with a malformed one) it
/// fails naming what to give.
#[test]
fn validate_uses_the_example_stored_in_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_stored_example(dir.path(), Some((safetensors::Dtype::U8, example_npz())));
    let o = bin()
        .arg("validate")
        .arg(&p)
        .args(["--only", "dynamic", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("example stored in the model file"));
    let stored: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (o2, given) = validate_against_torch(&[p.as_os_str()]);
    assert!(
        o2.status.success(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    let refs = |v: &serde_json::Value| {
        let mut r = v["reference"].clone();
        r.as_object_mut().unwrap().remove("path");
        r
    };
    assert_eq!(refs(&stored), refs(&given));
    assert_eq!(stored["modes"], given["modes"]);
    assert!(stored["reference"]["passed"].as_bool().unwrap());
    assert!(stored["reference"]["path"]
        .as_str()
        .unwrap()
        .ends_with("stored.safetensors (bit2hls.example)"));

    for (example, needle) in [
        (None, "validate needs --data"),
        (
            Some((safetensors::Dtype::I8, vec![0u8; 16])),
            "expected a 1-D U8 tensor",
        ),
        (
            Some((safetensors::Dtype::U8, b"not a zip file".to_vec())),
            "not the bytes of an .npz",
        ),
    ] {
        let p = with_stored_example(dir.path(), example);
        let o = bin().arg("validate").arg(&p).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && !e.contains("panicked"), "{e}");
        assert!(e.contains(needle), "missing '{needle}' in: {e}");
    }
}
