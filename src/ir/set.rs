//! Particle-level models (Deep Sets / Particle Flow Networks): `F(pool_i Φ(x_i))`.
//!
//! The input of one jet is `x[N, F]` (up to `N` particles of `F` features, zero-padded) and a
//! mask `m[N]` (1 = real particle). `Φ` is a chain of layers applied to every particle with
//! shared weights — a BitLinear on `[B, N, F]` takes its absmax over the last axis, so every
//! particle has its own activation scale, exactly as PyTorch does. The pool is *masked*: padded
//! particles contribute nothing (not `Φ(0)`, which is non-zero when a layer has a bias).
//! `F` is a chain on the pooled per-jet vector, optionally concatenated with `G` per-jet inputs
//! (`F([pool_i Φ(x_i), jet])`, e.g. jet observables). Both chains are ordinary [`Model`]s, so every
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
    /// Per-jet inputs `G` concatenated after the pooled vector (0 = none): `F`'s input is
    /// `[pooled (Φ's outputs), jet (G)]`, in that order.
    pub jet_features: usize,
    /// The per-jet chain on the pooled vector (`inputs` = `phi`'s outputs + `jet_features`).
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

/// The lowered concatenation `[pooled, jet]` of the pool's output with `n` per-jet inputs.
///
/// The jet inputs are quantized with the model's input type (the particle features' type,
/// [`JetConcatFw::in_type`]); both parts are then aligned to one type with the larger number
/// of fractional bits (a left shift of the codes, exact), which is `F`'s input type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JetConcatFw {
    /// Per-jet inputs `G`.
    pub n: usize,
    /// Their type: `Φ`'s input type.
    pub in_type: FixedType,
    /// The pool's output type.
    pub pool_type: FixedType,
    /// The concatenation's type: `frac` = the larger of both, covering both ranges.
    pub out_type: FixedType,
}

impl JetConcatFw {
    /// The concatenation of `pool` with `n` jet inputs of type `in_type`. `Err` names the
    /// width when it exceeds [`MAX_WIDTH`].
    pub fn new(n: usize, in_type: FixedType, pool: &PoolFw) -> Result<JetConcatFw, String> {
        let pool_type = pool.out_type;
        let frac = in_type.frac.max(pool_type.frac);
        let shift = |t: FixedType, iv: Interval| {
            let k = 1i128 << (frac - t.frac);
            Interval::new(iv.lo * k, iv.hi * k)
        };
        let all = shift(in_type, in_type.interval()).union(shift(pool_type, pool_type.interval()));
        let out_type = FixedType::fitting(all, frac);
        if out_type.width > MAX_WIDTH {
            return Err(format!(
                "concatenating the pool ({pool_type}) with the jet inputs ({in_type}) needs {} \
                 bits; at most {MAX_WIDTH} are supported: lower --frac-bits",
                out_type.width
            ));
        }
        Ok(JetConcatFw {
            n,
            in_type,
            pool_type,
            out_type,
        })
    }
    /// Left shift of a pooled code into [`Self::out_type`].
    pub fn pool_shift(&self) -> u32 {
        (self.out_type.frac - self.pool_type.frac) as u32
    }
    /// Left shift of a jet-input code into [`Self::out_type`].
    pub fn jet_shift(&self) -> u32 {
        (self.out_type.frac - self.in_type.frac) as u32
    }
}

/// The lowered particle-level model: `rho([pool(phi(x_i)), jet])` in integers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetFirmware {
    pub name: String,
    pub phi: Firmware,
    pub pool: PoolFw,
    /// The per-jet inputs after the pool, if the model has any.
    pub jet: Option<JetConcatFw>,
    /// Its input type is [`SetFirmware::rho_input_type`].
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
    /// Per-jet inputs `G` (0 = none).
    pub fn jet_features(&self) -> usize {
        self.jet.as_ref().map_or(0, |j| j.n)
    }
    /// `F`'s input type: the concatenation's, or the pool's.
    pub fn rho_input_type(&self) -> FixedType {
        self.jet.as_ref().map_or(self.pool.out_type, |j| j.out_type)
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
