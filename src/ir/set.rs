//! Particle-level models (Deep Sets / Particle Flow Networks): `F(pool_i Φ(x_i))`.
//!
//! The input of one jet is `x[N, F]` (up to `N` particles of `F` features, zero-padded) and a
//! mask `m[N]` (1 = real particle). `Φ` is a chain of layers applied to every particle with
//! shared weights — a BitLinear on `[B, N, F]` takes its absmax over the last axis, so every
//! particle has its own activation scale, exactly as PyTorch does. The pool is *masked*: padded
//! particles contribute nothing (not `Φ(0)`, which is non-zero when a layer has a bias).
//! `F` is a chain on the pooled per-jet vector. Both chains are ordinary [`Model`]s, so every
//! pass that works on a chain works on each of them; a plain MLP is the case without `Φ`
//! (docs/particles.md).

use super::firmware::Firmware;
use super::fixed::{FixedType, Interval, MAX_WIDTH};
use super::{Model, Profile};
use serde::Serialize;

/// Masked pooling over the particle axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// `Σ_{i real} Φ(x_i)` (0 for a jet without particles).
    Sum,
    /// Per feature `max_{i real} Φ(x_i)`, 0 for a jet without particles.
    Max,
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::Sum => "sum",
            PoolKind::Max => "max",
        }
    }

    /// The exact range of the pooled value of one feature whose per-particle values lie in
    /// `r`, over any subset of at most `n` particles (the empty subset gives 0).
    pub fn range(self, r: Interval, n: usize) -> Interval {
        let with_zero = r.union(Interval::point(0));
        match self {
            PoolKind::Sum => {
                let n = n as i128;
                Interval::new(n * with_zero.lo, n * with_zero.hi)
            }
            PoolKind::Max => with_zero,
        }
    }
}

/// The float particle-level model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetModel {
    pub name: String,
    pub profile: Profile,
    /// Largest number of particles `N` per jet.
    pub particles: usize,
    /// Features per particle `F`.
    pub features: usize,
    /// The per-particle chain (`inputs` = `features`).
    pub phi: Model,
    pub pool: PoolKind,
    /// The per-jet chain on the pooled vector (`inputs` = `phi`'s outputs).
    pub rho: Model,
    /// Input type requested by the architecture document, if any.
    pub input_type: Option<FixedType>,
}

impl SetModel {
    pub fn outputs(&self) -> usize {
        self.rho.outputs()
    }
    /// Floats per jet of the input `x`.
    pub fn jet_len(&self) -> usize {
        self.particles * self.features
    }
}

/// Any model bit2hls reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Net {
    /// A chain of layers on one flat vector.
    Chain(Model),
    /// A permutation-invariant model over a set of particles.
    Set(SetModel),
}

impl Net {
    pub fn name(&self) -> &str {
        match self {
            Net::Chain(m) => &m.name,
            Net::Set(s) => &s.name,
        }
    }
    pub fn profile(&self) -> &Profile {
        match self {
            Net::Chain(m) => &m.profile,
            Net::Set(s) => &s.profile,
        }
    }
}

/// The lowered pool: integer codes of `Φ`'s output type in, the exact pooled type out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolFw {
    pub kind: PoolKind,
    /// Particles per jet.
    pub n: usize,
    /// `Φ`'s output type (every feature).
    pub in_type: FixedType,
    /// Proven range of each pooled feature ([`PoolKind::range`] of `Φ`'s output ranges).
    pub out_ranges: Vec<Interval>,
    /// One type for every pooled feature, same `frac` as `in_type`.
    pub out_type: FixedType,
}

impl PoolFw {
    /// The pool of `n` particles of `phi`'s outputs: exact ranges of any subset of them
    /// ([`PoolKind::range`] of `phi`'s proven output ranges) and one signed type with `phi`'s
    /// fractional bits. `Err` names the width when it exceeds [`MAX_WIDTH`].
    pub fn new(kind: PoolKind, n: usize, phi: &Firmware) -> Result<PoolFw, String> {
        let in_type = phi.output_type();
        let in_ranges: Vec<Interval> = match phi.layers.last() {
            Some(l) => l.out_ranges.clone(),
            None => vec![in_type.interval(); phi.n_out],
        };
        let out_ranges: Vec<Interval> = in_ranges.iter().map(|r| kind.range(*r, n)).collect();
        let all = out_ranges
            .iter()
            .fold(Interval::point(-1), |a, r| a.union(*r));
        let out_type = FixedType::fitting(all, in_type.frac);
        if out_type.width > MAX_WIDTH {
            return Err(format!(
                "the {} pool of {n} particles needs {} bits (Φ's output {in_type}); at most \
                 {MAX_WIDTH} are supported: lower --frac-bits or the number of particles",
                kind.as_str(),
                out_type.width
            ));
        }
        Ok(PoolFw {
            kind,
            n,
            in_type,
            out_ranges,
            out_type,
        })
    }
}

/// The lowered particle-level model: `rho(pool(phi(x_i)))` in integers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetFirmware {
    pub name: String,
    pub phi: Firmware,
    pub pool: PoolFw,
    /// Its input type is `pool.out_type`.
    pub rho: Firmware,
}

impl SetFirmware {
    pub fn n_out(&self) -> usize {
        self.rho.n_out
    }
    pub fn output_type(&self) -> FixedType {
        self.rho.output_type()
    }
    /// Features per particle.
    pub fn features(&self) -> usize {
        self.phi.n_in
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ranges_cover_every_subset_and_the_empty_jet() {
        let r = Interval::new(-3, 5);
        assert_eq!(PoolKind::Sum.range(r, 4), Interval::new(-12, 20));
        assert_eq!(PoolKind::Max.range(r, 4), Interval::new(-3, 5));
        // A range away from 0: the empty jet pools to 0.
        let r = Interval::new(2, 7);
        assert_eq!(PoolKind::Sum.range(r, 3), Interval::new(0, 21));
        assert_eq!(PoolKind::Max.range(r, 3), Interval::new(0, 7));
        let r = Interval::new(-7, -2);
        assert_eq!(PoolKind::Sum.range(r, 3), Interval::new(-21, 0));
        assert_eq!(PoolKind::Max.range(r, 3), Interval::new(-7, 0));
    }
}
