//! Seeded synthetic models and inputs (SplitMix64, no external RNG state): the events of the
//! test benches a project ships when no `--tb-data` is given, and the models `bit2hls bench`
//! and the calibration runs use. Deterministic: the same seed gives the same bytes everywhere.

use crate::io::particles::{JetShape, Jets};
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

/// Test-bench jets of `n` particle slots with `f` features: `count` jets, `x[count·n·f]`,
/// `mask[count·n]` (and per-jet inputs `jet[count·G]`, standard normal, ±`big` in the
/// saturating jet, 0 in the all-zero jet). The first jets are the adversarial cases of a masked pool, then random
/// jets of every multiplicity:
/// - a jet without particles whose padded slots hold junk (masking must ignore it);
/// - one real particle in each slot in turn (the others junk);
/// - every slot real, all particles identical (ties in a max pool, equal pooled terms);
/// - every slot real with features of ±`big` (saturating any input type that cannot hold them)
///   and a particle whose features are all equal (ties in a dynamic absmax);
/// - real particles after padded ones (a non-contiguous mask);
/// - every slot real, every feature 0 (a zero absmax).
///
/// Junk and random features are standard normal, scaled by 4 every other jet.
pub fn adversarial_jets(shape: JetShape, count: usize, big: f32, seed: u64) -> Jets {
    let (n, f, g) = (shape.particles, shape.features, shape.jet);
    let mut r = Rng(seed);
    let mut x = vec![0f32; count * n * f];
    let mut mask = vec![0u8; count * n];
    let normal = |r: &mut Rng, j: usize| r.normal() as f32 * if j % 2 == 1 { 4.0 } else { 1.0 };
    for j in 0..count {
        let (xj, mj) = (
            &mut x[j * n * f..(j + 1) * n * f],
            &mut mask[j * n..(j + 1) * n],
        );
        for v in xj.iter_mut() {
            *v = normal(&mut r, j);
        }
        match j {
            0 => {}
            k if k <= n => mj[k - 1] = 1,
            k if k == n + 1 => {
                mj.fill(1);
                let first: Vec<f32> = xj[..f].to_vec();
                for p in xj.chunks_mut(f) {
                    p.copy_from_slice(&first);
                }
            }
            k if k == n + 2 => {
                mj.fill(1);
                for (i, v) in xj.iter_mut().enumerate() {
                    *v = if (i / f + i) % 2 == 0 { big } else { -big };
                }
                let tie = if r.uniform() < 0.5 { 1.5 } else { -0.75 };
                xj[..f].fill(tie);
            }
            k if k == n + 3 => {
                for (i, m) in mj.iter_mut().enumerate() {
                    *m = u8::from(i % 2 == 1 || i + 1 == n);
                }
            }
            k if k == n + 4 => {
                mj.fill(1);
                xj.fill(0.0);
            }
            k => {
                let real = (k - n - 5) % (n + 1);
                mj[..real].fill(1);
            }
        }
    }
    let mut jet = vec![0f32; count * g];
    for (j, v) in jet.chunks_mut(g.max(1)).enumerate() {
        for (i, e) in v.iter_mut().enumerate() {
            *e = match j {
                k if k == n + 2 => {
                    if i % 2 == 0 {
                        big
                    } else {
                        -big
                    }
                }
                k if k == n + 4 => 0.0,
                _ => normal(&mut r, j),
            };
        }
    }
    Jets {
        x,
        mask,
        jet,
        jets: count,
        particles: n,
        features: f,
        y: None,
        notes: Vec::new(),
    }
}
