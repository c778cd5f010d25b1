//! Seeded synthetic models and inputs (SplitMix64, no external RNG state): the events of the
//! test benches a project ships when no `--tb-data` is given, and the models `bit2hls bench`
//! and the calibration runs use. Deterministic: the same seed gives the same bytes everywhere.

use crate::ir::{BitLinear, Layer, LayerKind, Matrix, Model, Profile, ProfileName, WeightSource};

/// SplitMix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` standard-normal f32 values.
pub fn gaussian(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..n).map(|_| r.normal() as f32).collect()
}

/// A BitLinear MLP with the given widths, uniform ternary weights (1/3 zeros), ReLU between,
/// β ≈ 1/sqrt(fan-in), optional small biases.
pub fn random_mlp(widths: &[usize], seed: u64, bias: bool) -> Model {
    let mut r = Rng(seed);
    let mut layers = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        if i > 0 {
            layers.push(Layer {
                name: format!("relu{i}"),
                kind: LayerKind::Relu,
            });
        }
        let codes: Vec<i8> = (0..w[0] * w[1])
            .map(|_| (r.next_u64() % 3) as i8 - 1)
            .collect();
        let b = bias.then(|| (0..w[1]).map(|_| (r.normal() * 0.1) as f32).collect());
        layers.push(Layer {
            name: format!("fc{}", i + 1),
            kind: LayerKind::BitLinear(BitLinear {
                codes: Matrix::new(w[1], w[0], codes),
                beta: (1.0 / (w[0] as f64).sqrt()) as f32,
                bias: b,
                source: WeightSource::TernaryI8,
                master: None,
            }),
        });
    }
    Model {
        name: format!(
            "random_{}",
            widths
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("_")
        ),
        inputs: widths[0],
        profile: Profile::named(ProfileName::Bithep),
        layers,
        input_type: None,
    }
}
