//! Random small networks for property tests ("problems" in tract's sense), shared by the
//! reference-emulator and fast-emulator tests. Test-only.

use crate::ir::{
    Affine, BitLinear, Layer, LayerKind, Linear, Matrix, Model, Profile, ProfileName, WeightSource,
};
use crate::testutil::Rng;
use proptest::prelude::*;

/// A random network: BitLinear stages, sometimes a full-precision layer, a batch-norm, biases.
#[derive(Debug, Clone)]
pub struct Problem {
    pub widths: Vec<usize>,
    pub seed: u64,
    pub bias: bool,
    pub dense_first: bool,
    pub batchnorm: bool,
    pub zero_frac: f64,
    pub in_width: u32,
    pub in_int: i32,
    pub frac_bits: i32,
    pub profile: ProfileName,
    /// Number of events to run (used by the fast-emulator tests).
    pub events: usize,
}

/// Random problems with layer widths below `max_width` and input types up to `max_in_width` bits.
pub fn problem(max_width: usize, max_in_width: u32) -> impl Strategy<Value = Problem> {
    (
        prop::collection::vec(1usize..max_width, 2..5),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0.0), Just(0.33), Just(0.9), Just(1.0)],
        4u32..max_in_width,
        1i32..8,
        0i32..16,
        prop_oneof![Just(ProfileName::Bithep), Just(ProfileName::MsB158)],
        0usize..150,
    )
        .prop_map(
            |(
                widths,
                seed,
                bias,
                dense_first,
                batchnorm,
                zero_frac,
                in_width,
                in_int,
                frac_bits,
                profile,
                events,
            )| Problem {
                widths,
                seed,
                bias,
                dense_first,
                batchnorm,
                zero_frac,
                in_width,
                in_int: in_int.min(in_width as i32),
                frac_bits,
                profile,
                events,
            },
        )
}

/// Like [`problem`], with every profile, including the in-layer-norm ones (kyegomez,
/// schneiderkamp: centring stage and code-unit dequantization, which the fast emulator runs on
/// the reference path, so the fast-path tests use [`problem`]).
pub fn problem_all_profiles(max_width: usize, max_in_width: u32) -> impl Strategy<Value = Problem> {
    (
        problem(max_width, max_in_width),
        prop::sample::select(ProfileName::ALL.to_vec()),
    )
        .prop_map(|(p, profile)| Problem { profile, ..p })
}

/// The model of a problem (Q = 128 for a third of the seeds, a symmetric clamp for a fifth).
pub fn build(p: &Problem) -> Model {
    let mut r = Rng(p.seed);
    // In-layer-norm profiles lower only BitLinear + ReLU networks (docs/semantics.md).
    let norm = Profile::named(p.profile).in_norm != crate::ir::profile::InNorm::None;
    let (dense_first, batchnorm) = (p.dense_first && !norm, p.batchnorm && !norm);
    let mut layers = Vec::new();
    for (i, w) in p.widths.windows(2).enumerate() {
        if i > 0 {
            layers.push(Layer {
                name: format!("relu{i}"),
                kind: LayerKind::Relu,
            });
        }
        let bias = p
            .bias
            .then(|| (0..w[1]).map(|_| (r.normal() * 0.5) as f32).collect());
        if i == 0 && dense_first {
            let wts = (0..w[0] * w[1])
                .map(|_| (r.normal() * 0.7) as f32)
                .collect();
            layers.push(Layer {
                name: format!("fc{i}"),
                kind: LayerKind::Linear(Linear {
                    weight: Matrix::new(w[1], w[0], wts),
                    bias,
                }),
            });
        } else {
            let codes = (0..w[0] * w[1])
                .map(|_| {
                    if r.uniform() < p.zero_frac {
                        0
                    } else if r.uniform() < 0.5 {
                        1
                    } else {
                        -1
                    }
                })
                .collect();
            layers.push(Layer {
                name: format!("fc{i}"),
                kind: LayerKind::BitLinear(BitLinear {
                    codes: Matrix::new(w[1], w[0], codes),
                    beta: (0.01 + r.uniform() * 2.0) as f32,
                    bias,
                    source: WeightSource::TernaryI8,
                    master: None,
                }),
            });
        }
        if batchnorm && i == 0 {
            layers.push(Layer {
                name: "bn".into(),
                kind: LayerKind::Affine(Affine {
                    scale: (0..w[1]).map(|_| (r.normal() * 2.0) as f32).collect(),
                    shift: (0..w[1]).map(|_| r.normal() as f32).collect(),
                    origin: "batchnorm",
                }),
            });
        }
    }
    let mut profile = Profile::named(p.profile);
    if p.seed.is_multiple_of(3) {
        profile.act_qmax = 128;
    }
    if p.seed.is_multiple_of(5) {
        profile.act_clamp = (-127, 127);
    }
    Model {
        name: "problem".into(),
        inputs: p.widths[0],
        profile,
        layers,
        input_type: None,
    }
}

/// Counts of (problem, mode) pairs a property test ran, and those it skipped because the
/// lowering refused them (the documented width limit).
#[derive(Default)]
pub struct Tally {
    ran: std::sync::atomic::AtomicUsize,
    skipped: std::sync::atomic::AtomicUsize,
}

impl Tally {
    pub fn ran(&self) {
        self.ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn skipped(&self) {
        self.skipped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs `case` on `cases` random problems of `strategy` (a proptest runner: the seeds saved in
/// `regressions` — relative to the crate root — run first, failures shrink and are saved
/// there as usual), then asserts that at least `min_ran` (a fraction) of the
/// (problem, mode) pairs the cases counted actually ran: a property test that silently skips
/// most of its inputs proves little.
pub fn run_counted(
    regressions: &'static str,
    cases: u32,
    strategy: impl Strategy<Value = Problem>,
    min_ran: f64,
    case: impl Fn(Problem, &Tally) -> Result<(), TestCaseError>,
) {
    let tally = Tally::default();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(regressions),
        )),
        ..ProptestConfig::default()
    });
    if let Err(e) = runner.run(&strategy, |p| case(p, &tally)) {
        panic!("{e}");
    }
    let ran = tally.ran.into_inner();
    let total = ran + tally.skipped.into_inner();
    eprintln!("{ran} of {total} (problem, mode) pairs ran");
    assert!(
        total > 0 && ran as f64 >= min_ran * total as f64,
        "only {ran} of {total} (problem, mode) pairs ran (the lowering refused the others): \
         at least {:.0} % must",
        min_ran * 100.0
    );
}
