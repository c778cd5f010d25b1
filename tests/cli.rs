//! The command line as a user drives it: outputs equal the library, bad input fails cleanly.

use bit2hls::back::emu::fixed::Emulator;
use bit2hls::front::{load, LoadOptions, Loaded};
use bit2hls::io::npy::NpyWriter;
use bit2hls::ir::firmware::Mode;
use bit2hls::pipeline::{lower_for, FwArgs};
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

fn fw_args(mode: Mode) -> FwArgs {
    FwArgs {
        mode,
        calib: None,
        input_type: None,
        input_bits: 16,
        frac_bits: 12,
        const_bits: 18,
        weight_bits: 16,
        calib_quantile: 1.0,
    }
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
        let fw = lower_for(&loaded, &fw_args(mode), mode, None).unwrap();
        let expect = Emulator::new(&fw).run_batch(&x);
        let got = read_npy_f64(&out);
        let t = fw.output_type();
        let expect: Vec<f64> = expect
            .iter()
            .map(|&c| bit2hls::back::emu::fixed::code_to_f64(c, t))
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
    let first: Vec<f32> = bit2hls::back::emu::float::forward(&loaded.model, &x[..16], None);
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
