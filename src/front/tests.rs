//! Front-end tests: every accepted layout, and every malformed input with its message.

use super::ternarize::pack_hf;
use super::{load, LoadOptions};
use crate::ir::{LayerKind, WeightSource};
use crate::testutil::{safetensors_bytes, sequential_state_dict, RawTensor};
use std::path::PathBuf;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_of(path: &std::path::Path, opts: &LoadOptions) -> String {
    match load(path, opts) {
        Ok(_) => panic!("{} loaded but should have been refused", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn plain_sequential_with_prefix_and_bias() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        &d,
        "m.safetensors",
        &safetensors_bytes(
            &sequential_state_dict(&[16, 64, 32, 5], "net.", true, 1),
            None,
        ),
    );
    let l = load(&p, &LoadOptions::default()).unwrap();
    let ops: Vec<&str> = l.model.layers.iter().map(|x| x.op_name()).collect();
    assert_eq!(ops, ["bitlinear", "relu", "bitlinear", "relu", "bitlinear"]);
    assert_eq!(l.model.inputs, 16);
    assert_eq!(l.model.outputs(), 5);
    assert_eq!(l.model.layers[0].name, "net.0");
    let LayerKind::BitLinear(b) = &l.model.layers[4].kind else {
        panic!()
    };
    assert!(b.bias.is_some());
    assert_eq!(b.source, WeightSource::FloatMaster);
}

#[test]
fn numeric_module_order_is_natural() {
    // Modules 2 and 10: lexical order would put 10 first and break the chain.
    let mut t = sequential_state_dict(&[8, 6], "", false, 2);
    t[0].name = "2.weight".into();
    let mut t2 = sequential_state_dict(&[6, 3], "", false, 3);
    t2[0].name = "10.weight".into();
    t.extend(t2);
    let d = tempfile::tempdir().unwrap();
    let p = write(&d, "m.safetensors", &safetensors_bytes(&t, None));
    let l = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(l.model.layers[0].name, "2");
    assert_eq!(l.model.layers[2].name, "10");
}

#[test]
fn i8_codes_with_beta_and_hf_packed() {
    let codes: Vec<i8> = (0..5 * 4).map(|i| (i % 3) as i8 - 1).collect();
    let d = tempfile::tempdir().unwrap();
    let p = write(
        &d,
        "i8.safetensors",
        &safetensors_bytes(
            &[
                RawTensor::i8("0.weight", &[5, 4], &codes),
                RawTensor::f32("0.weight_beta", &[1], &[0.25]),
            ],
            None,
        ),
    );
    let l = load(&p, &LoadOptions::default()).unwrap();
    let LayerKind::BitLinear(b) = &l.model.layers[0].kind else {
        panic!()
    };
    assert_eq!(b.codes.data, codes);
    assert_eq!(b.beta, 0.25);

    let m = crate::ir::Matrix::new(5, 4, codes.clone());
    let (packed, rows) = pack_hf(&m);
    let packed_t = vec![
        RawTensor::u8("0.weight", &[rows, 4], &packed),
        RawTensor::f32("0.weight_scale", &[1], &[4.0]),
        RawTensor::f32("0.bias", &[5], &[0.0; 5]),
    ];
    let p = write(&d, "hf.safetensors", &safetensors_bytes(&packed_t, None));
    let e = err_of(&p, &LoadOptions::default());
    assert!(e.contains("never guesses"), "{e}");
    let opts = LoadOptions {
        weight_scale_is: Some("inv_beta".into()),
        ..Default::default()
    };
    let l = load(&p, &opts).unwrap();
    let LayerKind::BitLinear(b) = &l.model.layers[0].kind else {
        panic!()
    };
    assert_eq!(
        b.codes.data, codes,
        "out_features 5 taken from the bias, padding rows dropped"
    );
    assert_eq!(b.beta, 0.25);
}

#[test]
fn batchnorm_and_metadata_architecture() {
    let mut t = sequential_state_dict(&[4, 3], "", true, 5);
    t.push(RawTensor::f32("1.weight", &[3], &[1.0, 2.0, 0.5]));
    t.push(RawTensor::f32("1.bias", &[3], &[0.0, 0.1, 0.2]));
    t.push(RawTensor::f32("1.running_mean", &[3], &[0.0; 3]));
    t.push(RawTensor::f32("1.running_var", &[3], &[1.0; 3]));
    let d = tempfile::tempdir().unwrap();
    let p = write(&d, "bn.safetensors", &safetensors_bytes(&t, None));
    let l = load(&p, &LoadOptions::default()).unwrap();
    let ops: Vec<&str> = l.model.layers.iter().map(|x| x.op_name()).collect();
    assert_eq!(ops, ["bitlinear", "batchnorm"]);

    let arch = r#"{"schema":"bit2hls.arch/1","name":"x","layers":[
        {"op":"linear","name":"first","weight":"0.weight","bias":"0.bias"},
        {"op":"batchnorm","weight":"1.weight","bias":"1.bias","running_mean":"1.running_mean","running_var":"1.running_var"},
        {"op":"relu"}]}"#;
    let p = write(
        &d,
        "meta.safetensors",
        &safetensors_bytes(&t, Some(vec![("bit2hls.arch".into(), arch.into())])),
    );
    let l = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(l.model.name, "x");
    let ops: Vec<&str> = l.model.layers.iter().map(|x| x.op_name()).collect();
    assert_eq!(ops, ["linear", "batchnorm", "relu"]);
}

#[test]
fn bad_files_are_refused_with_where_and_what() {
    let d = tempfile::tempdir().unwrap();
    let good = safetensors_bytes(&sequential_state_dict(&[4, 3], "", true, 9), None);
    let o = LoadOptions::default();

    let p = write(&d, "short.safetensors", &good[..5]);
    assert!(err_of(&p, &o).contains("shorter than the 8-byte header"));

    let p = write(&d, "trunc.safetensors", &good[..good.len() - 3]);
    let e = err_of(&p, &o);
    assert!(
        e.contains("trunc.safetensors") && e.contains("truncated"),
        "{e}"
    );

    let mut big = good.clone();
    big[0..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let p = write(&d, "hdr.safetensors", &big);
    assert!(err_of(&p, &o).contains("runs past the end"));

    // Absurd shape: header claims a huge tensor.
    let header = r#"{"0.weight":{"dtype":"F32","shape":[1000000000000,1000000000000],"data_offsets":[0,4]}}"#;
    let mut raw = (header.len() as u64).to_le_bytes().to_vec();
    raw.extend(header.as_bytes());
    raw.extend([0u8; 4]);
    let p = write(&d, "absurd.safetensors", &raw);
    let e = err_of(&p, &o);
    assert!(e.contains("absurd.safetensors") && !e.is_empty(), "{e}");

    // Offsets beyond the buffer.
    let header = r#"{"0.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,4000]}}"#;
    let mut raw = (header.len() as u64).to_le_bytes().to_vec();
    raw.extend(header.as_bytes());
    raw.extend([0u8; 16]);
    let p = write(&d, "offs.safetensors", &raw);
    assert!(err_of(&p, &o).contains("offs.safetensors"));

    // Unknown / unsupported dtype.
    let t = [RawTensor {
        name: "0.weight".into(),
        dtype: safetensors::Dtype::I32,
        shape: vec![2, 2],
        data: vec![0; 16],
    }];
    let p = write(&d, "i32.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &o);
    assert!(e.contains("0.weight") && e.contains("I32"), "{e}");

    // NaN weight.
    let mut t = sequential_state_dict(&[4, 3], "", false, 9);
    t[0].data[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    let p = write(&d, "nan.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &o);
    assert!(
        e.contains("0.weight") && e.contains("element 2") && e.contains("NaN"),
        "{e}"
    );

    // Codes outside {-1,0,1}.
    let t = [
        RawTensor::i8("0.weight", &[2, 2], &[0, 1, 2, -1]),
        RawTensor::f32("0.weight_beta", &[1], &[1.0]),
    ];
    let p = write(&d, "codes.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &o);
    assert!(e.contains("ternary code 2 at [1][0]"), "{e}");

    // Bias of the wrong shape / dtype.
    let mut t = sequential_state_dict(&[4, 3], "", false, 9);
    t.push(RawTensor::f32("0.bias", &[4], &[0.0; 4]));
    let p = write(&d, "bias.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &o);
    assert!(
        e.contains("0.bias") && e.contains("expected shape [3]"),
        "{e}"
    );
    let mut t = sequential_state_dict(&[4, 3], "", false, 9);
    t.push(RawTensor::i8("0.bias", &[3], &[0; 3]));
    let p = write(&d, "biasdt.safetensors", &safetensors_bytes(&t, None));
    assert!(err_of(&p, &o).contains("expected a float tensor"));

    // Layers that do not chain.
    let mut t = sequential_state_dict(&[4, 3], "", false, 9);
    let mut t2 = sequential_state_dict(&[5, 2], "", false, 9);
    t2[0].name = "2.weight".into();
    t.extend(t2);
    let p = write(&d, "chain.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &o);
    assert!(
        e.contains("'2'") && e.contains("takes 5 inputs") && e.contains("gives 3"),
        "{e}"
    );

    // Architecture naming a missing tensor, and an unknown schema version.
    let t = sequential_state_dict(&[4, 3], "", false, 9);
    let arch = r#"{"schema":"bit2hls.arch/1","layers":[{"op":"bitlinear","weight":"fc.weight"}]}"#;
    let p = write(
        &d,
        "arch.safetensors",
        &safetensors_bytes(&t, Some(vec![("bit2hls.arch".into(), arch.into())])),
    );
    let e = err_of(&p, &o);
    assert!(e.contains("fc.weight") && e.contains("not found"), "{e}");
    let arch = r#"{"schema":"bit2hls.arch/9","layers":[{"op":"relu"}]}"#;
    let p = write(
        &d,
        "v9.safetensors",
        &safetensors_bytes(&t, Some(vec![("bit2hls.arch".into(), arch.into())])),
    );
    assert!(err_of(&p, &o).contains("bit2hls.arch/9"));
    let arch = r#"{"schema":"bit2hls.arch/1","layers":[{"op":"conv2d","weight":"0.weight"}]}"#;
    let p = write(
        &d,
        "conv.safetensors",
        &safetensors_bytes(&t, Some(vec![("bit2hls.arch".into(), arch.into())])),
    );
    assert!(err_of(&p, &o).contains("conv2d"));

    // No linear layer at all.
    let t = [RawTensor::f32("scale", &[3], &[1.0; 3])];
    let p = write(&d, "none.safetensors", &safetensors_bytes(&t, None));
    assert!(err_of(&p, &o).contains("no linear layer"));
}

/// Whatever the bytes, loading returns (never panics).
#[test]
fn random_corruptions_never_panic() {
    let good = safetensors_bytes(&sequential_state_dict(&[6, 4, 2], "net.", true, 11), None);
    let d = tempfile::tempdir().unwrap();
    let mut r = crate::testutil::Rng(5);
    for i in 0..300 {
        let mut b = good.clone();
        for _ in 0..1 + (r.next_u64() % 4) {
            let at = (r.next_u64() as usize) % b.len();
            b[at] = r.next_u64() as u8;
        }
        if i % 7 == 0 {
            b.truncate((r.next_u64() as usize) % b.len());
        }
        let p = write(&d, "c.safetensors", &b);
        let _ = load(&p, &LoadOptions::default());
    }
}

/// Renames the modules of a [`sequential_state_dict`] (`0`, `2`, `4`, … in order) to `names`.
fn renamed(widths: &[usize], names: &[&str]) -> Vec<RawTensor> {
    let mut t = sequential_state_dict(widths, "", true, 21);
    for r in &mut t {
        let (module, leaf) = r.name.split_once('.').unwrap();
        let i: usize = module.parse().unwrap();
        r.name = format!("{}.{leaf}", names[i / 2]);
    }
    t
}

#[test]
fn attribute_names_are_refused_with_the_layers_and_the_remedy() {
    // Widths chain in the alphabetical order too (hid, inp, out): the old reader compiled this.
    let d = tempfile::tempdir().unwrap();
    let t = renamed(&[8, 8, 8, 2], &["inp", "hid", "out"]);
    let p = write(&d, "attrs.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &LoadOptions::default());
    for needle in [
        "attrs.safetensors",
        "'hid', 'inp', 'out'",
        "Layers found: hid, inp, out",
        "--arch",
        "<model>.json",
        "models/export.py",
    ] {
        assert!(e.contains(needle), "missing '{needle}' in: {e}");
    }

    // Numeric indices mixed with a named head are just as ambiguous.
    let mut t = sequential_state_dict(&[8, 6], "", false, 2);
    let mut head = sequential_state_dict(&[6, 2], "", false, 3);
    head[0].name = "head.weight".into();
    t.extend(head);
    let p = write(&d, "mixed.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &LoadOptions::default());
    assert!(
        e.contains("'0', 'head'") && e.contains("at the top level"),
        "{e}"
    );

    // Two layers inside one block: their order is unknown.
    let t = renamed(&[8, 6, 2], &["blocks.0.fc1", "blocks.0.fc2"]);
    let p = write(&d, "block.safetensors", &safetensors_bytes(&t, None));
    let e = err_of(&p, &LoadOptions::default());
    assert!(
        e.contains("inside 'blocks.0'") && e.contains("'fc1', 'fc2'"),
        "{e}"
    );

    // The same file loads once an architecture document gives the order.
    let t = renamed(&[8, 8, 8, 2], &["inp", "hid", "out"]);
    let arch = r#"{"schema":"bit2hls.arch/1","layers":[
        {"op":"bitlinear","weight":"inp.weight","bias":"inp.bias"},{"op":"relu"},
        {"op":"bitlinear","weight":"hid.weight","bias":"hid.bias"},{"op":"relu"},
        {"op":"bitlinear","weight":"out.weight","bias":"out.bias"}]}"#;
    let p = write(&d, "attrs2.safetensors", &safetensors_bytes(&t, None));
    write(&d, "attrs2.json", arch.as_bytes());
    let l = load(&p, &LoadOptions::default()).unwrap();
    let names: Vec<&str> = l.model.layers.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["inp", "relu1", "hid", "relu3", "out"]);
    assert!(l.notes.iter().all(|n| !n.is_warning()), "nothing assumed");
}

#[test]
fn nested_sequential_indices_are_ordered_numerically() {
    let names = ["blocks.10.fc", "blocks.2.fc", "blocks.9.fc"];
    let modules: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        super::arch::execution_order(&modules).unwrap(),
        ["blocks.2.fc", "blocks.9.fc", "blocks.10.fc"]
    );
    // "01" is not a Sequential index PyTorch writes: refused rather than read as 1.
    let modules: Vec<String> = ["net.01", "net.2"].iter().map(|s| s.to_string()).collect();
    assert!(super::arch::execution_order(&modules).is_err());

    // Linear, BatchNorm, Linear in index order: the assumed ReLU goes after the BatchNorm.
    let mut t = renamed(&[4, 3, 2], &["model.blocks.0.fc", "model.blocks.2.fc"]);
    t.push(RawTensor::f32("model.blocks.1.fc.weight", &[3], &[1.0; 3]));
    t.push(RawTensor::f32("model.blocks.1.fc.bias", &[3], &[0.0; 3]));
    t.push(RawTensor::f32(
        "model.blocks.1.fc.running_mean",
        &[3],
        &[0.0; 3],
    ));
    t.push(RawTensor::f32(
        "model.blocks.1.fc.running_var",
        &[3],
        &[1.0; 3],
    ));
    let d = tempfile::tempdir().unwrap();
    let p = write(&d, "nested.safetensors", &safetensors_bytes(&t, None));
    let l = load(&p, &LoadOptions::default()).unwrap();
    let ops: Vec<&str> = l.model.layers.iter().map(|x| x.op_name()).collect();
    assert_eq!(ops, ["bitlinear", "batchnorm", "relu", "bitlinear"]);
}

#[test]
fn every_assumed_activation_is_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let t = sequential_state_dict(&[6, 5, 4, 2], "net.", false, 4);
    let p = write(&d, "seq.safetensors", &safetensors_bytes(&t, None));
    let l = load(&p, &LoadOptions::default()).unwrap();
    let w = l.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0], "assumed ReLU between 'net.0' and 'net.2'");
    assert_eq!(w[1], "assumed ReLU between 'net.2' and 'net.4'");
    let opts = LoadOptions {
        hidden_act: super::HiddenAct::None,
        ..Default::default()
    };
    let w = load(&p, &opts).unwrap().warnings();
    assert!(
        w[0].starts_with("assumed no activation (--hidden-act none) between 'net.0'"),
        "{w:?}"
    );
}

#[test]
fn unsupported_activation_in_the_document_names_the_layer() {
    let d = tempfile::tempdir().unwrap();
    let t = sequential_state_dict(&[4, 3, 2], "", false, 9);
    for (op, torch) in [
        ("tanh", "nn.Tanh"),
        ("gelu", "nn.GELU"),
        ("silu", "nn.SiLU"),
    ] {
        let arch = format!(
            r#"{{"schema":"bit2hls.arch/1","layers":[{{"op":"bitlinear","weight":"0.weight"}},
            {{"op":"{op}","name":"act1"}},{{"op":"bitlinear","weight":"2.weight"}}]}}"#
        );
        let p = write(&d, "act.safetensors", &safetensors_bytes(&t, None));
        write(&d, "act.json", arch.as_bytes());
        let e = err_of(&p, &LoadOptions::default());
        assert!(
            e.contains("act.json")
                && e.contains("layer #1 'act1'")
                && e.contains(torch)
                && e.contains("not supported"),
            "{e}"
        );
    }
}

#[test]
fn torch_save_gguf_and_onnx_files_are_recognised() {
    let d = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "zip.pt",
            b"PK\x03\x04\x00\x00\x08\x00archive/data.pkl",
            "torch.save",
        ),
        (
            "pickle.pt",
            b"\x80\x02\x8a\x0alZ\xa7\xfc\x9cF\xf9j\xa8P",
            "torch.save",
        ),
        ("m.gguf", b"GGUF\x03\x00\x00\x00\x00\x00\x00\x00", "GGUF"),
        ("m.onnx", b"\x08\x07\x12\x07pytorch\x1a\x032.1", "ONNX"),
    ];
    for (name, bytes, what) in cases {
        let p = write(&d, name, bytes);
        let e = err_of(&p, &LoadOptions::default());
        assert!(
            e.contains(name)
                && e.contains(what)
                && e.contains(
                    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"
                ),
            "{e}"
        );
    }
}

#[test]
fn header_lengths_that_look_like_magic_bytes_are_safetensors() {
    // Header lengths 0x280 and 0x108 start with 80 02 (pickle protocol 2) and 08 01 (ONNX's
    // first field); byte 8, '{', says safetensors.
    for n in [0x280u64, 0x108] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend(b"{\"0.weight\": ");
        assert_eq!(super::tensors::foreign_format(&b), None, "header {n:#x}");
    }
    // Without the '{' the same first bytes are a pickle.
    let mut b = 0x280u64.to_le_bytes().to_vec();
    b.extend(b" \"0.weight\": ");
    assert_eq!(
        super::tensors::foreign_format(&b),
        Some(super::tensors::ForeignFormat::Pickle)
    );
}
