//! Adder sharing (`bit2hls::cmvm`): exactness and depth caps on random small matrices, and the
//! acceptance criterion against da4ml on the 21 seeded matrices of its anchor
//! (tests/data/cmvm, made by models/data/make_cmvm_matrices.py; figures in da4ml.json).

use bit2hls::cmvm::{naive_depth, plain, shared, Graph, Options};
use bit2hls::ir::Matrix;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cmvm")
}

fn matvec(w: &Matrix<i8>, x: &[i64]) -> Vec<i64> {
    (0..w.rows)
        .map(|r| {
            w.row(r)
                .iter()
                .zip(x)
                .map(|(&c, &v)| i64::from(c) * v)
                .sum()
        })
        .collect()
}

fn nnz(w: &Matrix<i8>, r: usize) -> usize {
    w.row(r).iter().filter(|&&v| v != 0).count()
}

/// The per-output depth caps of `o` (None without a cap).
fn caps(w: &Matrix<i8>, o: &Options) -> Option<Vec<u32>> {
    let dc = o.max_extra_depth?;
    let layer = (0..w.rows)
        .map(|r| naive_depth(nnz(w, r)))
        .max()
        .unwrap_or(0);
    Some(
        (0..w.rows)
            .map(|r| {
                dc + if o.per_output {
                    naive_depth(nnz(w, r))
                } else {
                    layer
                }
            })
            .collect(),
    )
}

/// `g` computes `w·x` exactly (coefficients and the given vectors) and respects `o`'s cap.
fn check(w: &Matrix<i8>, g: &Graph, o: &Options, xs: &[Vec<i64>]) -> Result<(), TestCaseError> {
    prop_assert!(g.reproduces(w), "coefficients differ");
    for x in xs {
        prop_assert_eq!(g.eval(x), matvec(w, x));
    }
    for a in &g.adders {
        prop_assert!(!a.a.neg, "adder with a negated first operand");
    }
    if let Some(c) = caps(w, o) {
        for (r, (d, cap)) in g.output_depths().iter().zip(&c).enumerate() {
            prop_assert!(d <= cap, "row {r}: depth {d} > cap {cap}");
        }
    }
    Ok(())
}

/// Small ternary matrices with the awkward cases mixed in: zero rows, single-term rows,
/// all-negative rows and duplicate rows.
fn matrix() -> impl Strategy<Value = Matrix<i8>> {
    (1usize..9, 1usize..13, 0u8..4).prop_flat_map(|(rows, cols, dense)| {
        let entry = prop_oneof![
            (1 + u32::from(dense)) => Just(0i8),
            2 => Just(1i8),
            2 => Just(-1i8),
        ];
        let special = proptest::collection::vec(0u8..5, rows);
        (proptest::collection::vec(entry, rows * cols), special).prop_map(move |(mut d, sp)| {
            for (r, kind) in sp.iter().enumerate() {
                let row = r * cols..(r + 1) * cols;
                match kind {
                    0 => d[row].fill(0),
                    1 => d[row].iter_mut().for_each(|v| *v = -v.abs()),
                    2 if r > 0 => d.copy_within((r - 1) * cols..r * cols, r * cols),
                    3 => d[row]
                        .iter_mut()
                        .enumerate()
                        .for_each(|(i, v)| *v *= i8::from(i == r % cols)),
                    _ => {}
                }
            }
            Matrix::new(rows, cols, d)
        })
    })
}

fn option_set() -> Vec<Options> {
    let mut v = Vec::new();
    for cap in [None, Some(0), Some(1), Some(3)] {
        for per_output in [false, true] {
            v.push(Options {
                max_extra_depth: cap,
                per_output,
                tries: 3,
            });
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn shared_is_exact_and_within_cap(w in matrix(), xs in proptest::collection::vec(proptest::collection::vec(-1000i64..1000, 12), 3)) {
        let xs: Vec<Vec<i64>> = xs.into_iter().map(|x| x[..w.cols].to_vec()).collect();
        for o in option_set() {
            check(&w, &shared(&w, &o), &o, &xs)?;
        }
        let p = plain(&w);
        check(&w, &p, &Options { max_extra_depth: Some(0), per_output: true, tries: 1 }, &xs)?;
        let naive: usize = (0..w.rows).map(|r| nnz(&w, r).saturating_sub(1)).sum();
        prop_assert_eq!(p.adders.len(), naive);
        let sh = shared(&w, &Options::default());
        prop_assert!(sh.adders.len() <= naive);
    }
}

/// An output is a negated adder only when it has to be: both of its last adder's terms were
/// negated (stored as `a + b`), or its difference is shared with another output or adder
/// (reused, negated). A negated output costs a negation where the layer stands alone.
fn negated_outputs_are_forced(g: &Graph) -> Result<(), TestCaseError> {
    use bit2hls::cmvm::Operand;
    let mut uses = vec![0usize; g.adders.len()];
    let terms = g.adders.iter().flat_map(|a| [a.a, a.b]);
    for t in terms.chain(g.outputs.iter().flatten().copied()) {
        if let Operand::Adder(k) = t.op {
            uses[k] += 1;
        }
    }
    for t in g.outputs.iter().flatten() {
        if let (true, Operand::Adder(k)) = (t.neg, t.op) {
            let diff = g.adders[k].b.neg;
            prop_assert!(
                !diff || uses[k] > 1,
                "output -adder {k} is an unshared difference"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn outputs_are_negated_only_when_forced(w in matrix()) {
        negated_outputs_are_forced(&plain(&w))?;
        for o in option_set() {
            negated_outputs_are_forced(&shared(&w, &o))?;
        }
    }
}

#[test]
fn one_by_one_and_empty() {
    for (rows, cols, d) in [
        (1, 1, vec![1i8]),
        (1, 1, vec![-1]),
        (1, 1, vec![0]),
        (2, 3, vec![0; 6]),
    ] {
        let w = Matrix::new(rows, cols, d);
        for o in option_set() {
            let g = shared(&w, &o);
            assert!(g.adders.is_empty() && g.reproduces(&w));
            assert_eq!(g.eval(&vec![5; cols]), matvec(&w, &vec![5; cols]));
        }
    }
}

/// One case of tests/data/cmvm/da4ml.json.
struct Case {
    file: String,
    naive: (usize, u32),
    dc0: (usize, u32),
    lut: Option<(usize, u32)>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data().join("da4ml.json")).expect("da4ml.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let pair = |c: &serde_json::Value, a: &str, d: &str| -> Option<(usize, u32)> {
        Some((c[a].as_u64()? as usize, c[d].as_u64()? as u32))
    };
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            file: c["file"].as_str().expect("file").to_string(),
            naive: pair(c, "naive_adders", "naive_depth").expect("naive"),
            dc0: pair(c, "dc0_adders", "dc0_depth").expect("dc0"),
            lut: pair(c, "lut_adders", "lut_depth"),
        })
        .collect()
}

fn load(file: &str) -> Matrix<i8> {
    let a: ndarray::Array2<i8> = ndarray_npy::read_npy(data().join(file)).expect(file);
    let (rows, cols) = a.dim();
    Matrix::new(rows, cols, a.iter().copied().collect())
}

/// The acceptance criterion: on every matrix of the anchor, no more adders than da4ml at no
/// larger depth — depth-capped (`dc = 0`, layer-wide like da4ml's `hard_dc`) against da4ml's
/// `dc0`, uncapped against its `lut` run (where da4ml ran it).
#[test]
fn at_most_da4mls_adders_on_the_anchor_matrices() {
    let cs = cases();
    assert_eq!(cs.len(), 21);
    let mut failures = Vec::new();
    for c in &cs {
        let w = load(&c.file);
        let p = plain(&w);
        assert_eq!(
            (p.adders.len(), p.depth()),
            c.naive,
            "{}: plain trees",
            c.file
        );
        let capped = Options {
            max_extra_depth: Some(0),
            ..Options::default()
        };
        let mut runs = vec![("dc0", capped, Some(c.dc0))];
        if c.lut.is_some() {
            runs.push((
                "uncapped",
                Options {
                    max_extra_depth: None,
                    ..Options::default()
                },
                c.lut,
            ));
        }
        for (name, o, target) in runs {
            let g = shared(&w, &o);
            assert!(
                g.reproduces(&w),
                "{}: {name} graph does not reproduce W",
                c.file
            );
            let (ta, td) = target.expect("target");
            let got = (g.adders.len(), g.depth());
            if got.0 > ta || got.1 > td {
                failures.push(format!(
                    "{} {name}: {got:?} vs da4ml {:?}",
                    c.file,
                    (ta, td)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "worse than da4ml: {failures:#?}");
}

#[test]
fn cli_reports_and_rejects_non_ternary() {
    let exe = env!("CARGO_BIN_EXE_bit2hls");
    let out = std::process::Command::new(exe)
        .args([
            "cmvm",
            data().join("32x5_z33.npy").to_str().unwrap(),
            "--no-depth-cap",
        ])
        .output()
        .expect("run bit2hls");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["plain"]["adders"], 99);
    assert_eq!(j["check"]["ok"], true);
    assert!(j["shared"]["adders"].as_u64().unwrap() <= 59);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.npy");
    ndarray_npy::write_npy(&bad, &ndarray::arr2(&[[1i32, 2], [0, -1]])).unwrap();
    let frac = dir.path().join("frac.npy");
    ndarray_npy::write_npy(&frac, &ndarray::arr2(&[[0.5f32, 1.0]])).unwrap();
    let text = dir.path().join("text.npy");
    std::fs::write(&text, "not an array").unwrap();
    for (p, what) in [
        (&bad, "element [0, 1] is 2"),
        (&frac, "is 0.5"),
        (&text, "cannot read"),
    ] {
        let out = std::process::Command::new(exe)
            .args(["cmvm", p.to_str().unwrap()])
            .output()
            .expect("run bit2hls");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(p.to_str().unwrap()) && err.contains(what),
            "{err}"
        );
    }
}
