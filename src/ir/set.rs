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
    /// `Σ_{i real} Φ(x_i) / c` with `c` the number of real particles (0 for a jet without
    /// particles): PyTorch's `(phi * mask).sum(1) / mask.sum(1).clamp(min=1)`. In firmware the
    /// exact rounded quotient of [`MeanDiv`].
    Mean,
    /// Per feature `max_{i real} Φ(x_i)`, 0 for a jet without particles.
    Max,
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::Sum => "sum",
            PoolKind::Mean => "mean",
            PoolKind::Max => "max",
        }
    }

    /// The exact range of the pooled value of one feature whose per-particle values lie in
    /// `r`, over any subset of at most `n` particles (the empty subset gives 0), in units of
    /// the per-particle values (a mean's codes carry [`MeanDiv::extra`] more fractional bits:
    /// scale this range by `2^extra`; the rounded quotient stays inside it, whose ends are
    /// integers).
    pub fn range(self, r: Interval, n: usize) -> Interval {
        let with_zero = r.union(Interval::point(0));
        match self {
            PoolKind::Sum => {
                let n = n as i128;
                Interval::new(n * with_zero.lo, n * with_zero.hi)
            }
            PoolKind::Mean | PoolKind::Max => with_zero,
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
    /// Proven range of each pooled feature, in codes of [`Self::out_type`] ([`PoolKind::range`]
    /// of `Φ`'s proven output ranges, times `2^extra` for a mean).
    pub out_ranges: Vec<Interval>,
    /// One type for every pooled feature: `in_type`'s `frac` (plus [`MeanDiv::extra`] for a
    /// mean).
    pub out_type: FixedType,
    /// The accumulator of the masked sum a mean divides (`in_type`'s `frac`, the range of a sum
    /// of up to `n` particles); [`Self::out_type`] for a sum or a max, which accumulate in it.
    pub acc_type: FixedType,
    /// The division of a mean pool (`None` for a sum or a max).
    pub mean: Option<MeanDiv>,
}

impl PoolFw {
    /// The pool of `n` particles of `phi`'s outputs: exact ranges of any subset of them
    /// ([`PoolKind::range`] of `phi`'s proven output ranges) and one signed type with `phi`'s
    /// fractional bits (plus [`MeanDiv::extra`] for a mean). `Err` names the width when it
    /// exceeds [`MAX_WIDTH`].
    pub fn new(kind: PoolKind, n: usize, phi: &Firmware) -> Result<PoolFw, String> {
        let in_type = phi.output_type();
        let in_ranges: Vec<Interval> = match phi.layers.last() {
            Some(l) => l.out_ranges.clone(),
            None => vec![in_type.interval(); phi.n_out],
        };
        let fit = |ranges: &[Interval], frac: i32| {
            let all = ranges.iter().fold(Interval::point(-1), |a, r| a.union(*r));
            FixedType::fitting(all, frac)
        };
        let too_wide = |t: FixedType| {
            format!(
                "the {} pool of {n} particles needs {} bits (Φ's output {in_type}); at most \
                 {MAX_WIDTH} are supported: lower --frac-bits or the number of particles",
                kind.as_str(),
                t.width
            )
        };
        let sums: Vec<Interval> = in_ranges
            .iter()
            .map(|r| PoolKind::Sum.range(*r, n))
            .collect();
        let (out_ranges, mean) = match kind {
            PoolKind::Sum => (sums.clone(), None),
            PoolKind::Max => (in_ranges.iter().map(|r| kind.range(*r, n)).collect(), None),
            PoolKind::Mean => {
                let max_abs = sums.iter().map(|r| r.abs_max()).max().unwrap_or(0);
                let div = MeanDiv::new(n, max_abs)?;
                let k = 1i128 << div.extra;
                let scaled = |r: &Interval| {
                    let m = kind.range(*r, n);
                    Interval::new(m.lo * k, m.hi * k)
                };
                (in_ranges.iter().map(scaled).collect(), Some(div))
            }
        };
        let extra = mean.as_ref().map_or(0, |m| m.extra as i32);
        let out_type = fit(&out_ranges, in_type.frac + extra);
        let acc_type = match mean {
            Some(_) => fit(&sums, in_type.frac),
            None => out_type,
        };
        for t in [out_type, acc_type] {
            if t.width > MAX_WIDTH {
                return Err(too_wide(t));
            }
        }
        Ok(PoolFw {
            kind,
            n,
            in_type,
            out_ranges,
            out_type,
            acc_type,
            mean,
        })
    }

    /// The pooled code of a jet from its accumulated value `acc` (the masked sum, or max) and
    /// its number of real particles `count` (0 = no particle: the pool is 0).
    pub fn finish(&self, acc: i64, count: usize) -> i64 {
        match (&self.mean, count) {
            (_, 0) => 0,
            (Some(m), c) => m.exact(acc, c),
            (None, _) => acc,
        }
    }
}

/// The division of a mean pool (docs/arithmetic.md, "Mean pool"): the pooled code of a sum `S`
/// of `c ≥ 1` particles is `S·2^k / c` rounded half away from zero,
/// `sgn(S)·⌊(|S|·2^(k+1) + c) / (2c)⌋`, with `k` = [`Self::extra`] fractional bits more than
/// `Φ`'s output. Firmware divides with a table of reciprocals: `⌊n·M_c / 2^s⌋` with
/// `n = |S|·2^(k+1) + c` and `M_c = ⌈2^s / (2c)⌉`, equal to `⌊n / (2c)⌋` whenever
/// `n·(M_c·2c − 2^s) < 2^s` (write `n = q·2c + r`: the product is `q + (r + n·e/2^s)/(2c)`
/// with `r ≤ 2c − 1`). [`MeanDiv::new`] picks the smallest `s` for which that holds for every
/// `c ≤ N` and every `|S|` in the proven range, so the table form is exact by construction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeanDiv {
    /// `k`: fractional bits the quotient has beyond `Φ`'s output (`⌈log2 N⌉`).
    pub extra: u32,
    /// `s`: the reciprocals' binary point.
    pub shift: u32,
    /// `M_c` for `c = 0..=N` (`M_0 = 0`: a jet without particles has `S = 0`, `n = 0`).
    pub recip: Vec<i64>,
    /// The largest `|S|` of the proven sum ranges.
    pub max_abs_sum: i128,
}

impl MeanDiv {
    /// The division for up to `n` particles and sums `|S| ≤ max_abs_sum`.
    pub fn new(n: usize, max_abs_sum: i128) -> Result<MeanDiv, String> {
        let extra = usize::BITS - n.max(1).saturating_sub(1).leading_zeros();
        let n_max = |c: usize| (max_abs_sum << (extra + 1)) + c as i128;
        for shift in 1..=100u32 {
            let two_s = 1i128 << shift;
            let recip: Vec<i128> = (0..=n)
                .map(|c| {
                    if c == 0 {
                        0
                    } else {
                        (two_s + 2 * c as i128 - 1) / (2 * c as i128)
                    }
                })
                .collect();
            let exact = (1..=n).all(|c| {
                let e = recip[c] * 2 * c as i128 - two_s;
                n_max(c).checked_mul(e).is_some_and(|p| p < two_s)
            });
            if exact && recip[1] <= i64::MAX as i128 {
                let width = 128 - n_max(n).leading_zeros() + shift;
                if width > 120 {
                    break;
                }
                return Ok(MeanDiv {
                    extra,
                    shift,
                    recip: recip.into_iter().map(|m| m as i64).collect(),
                    max_abs_sum,
                });
            }
        }
        Err(format!(
            "the mean pool of {n} particles of sums up to {max_abs_sum} needs a reciprocal \
             wider than 120 bits: lower --frac-bits or the number of particles"
        ))
    }

    /// `n = |S|·2^(k+1) + c`, the numerator both forms divide.
    pub fn numerator(&self, sum: i64, count: usize) -> i128 {
        ((sum.unsigned_abs() as i128) << (self.extra + 1)) + count as i128
    }

    /// The specification: `sgn(S)·⌊n / (2c)⌋` for `c ≥ 1`.
    pub fn exact(&self, sum: i64, count: usize) -> i64 {
        let q = (self.numerator(sum, count) / (2 * count as i128)) as i64;
        if sum < 0 {
            -q
        } else {
            q
        }
    }

    /// What the firmware computes: `sgn(S)·⌊n·M_c / 2^s⌋`.
    pub fn by_table(&self, sum: i64, count: usize) -> i64 {
        let q = ((self.numerator(sum, count) * self.recip[count] as i128) >> self.shift) as i64;
        if sum < 0 {
            -q
        } else {
            q
        }
    }

    /// Bits of the largest numerator `n` and of the largest reciprocal `M_1`.
    pub fn widths(&self) -> (u32, u32) {
        let n_max = (self.max_abs_sum << (self.extra + 1)) + (self.recip.len() - 1) as i128;
        let m_max = self.recip.iter().copied().max().unwrap_or(0);
        (
            128 - n_max.leading_zeros(),
            64 - (m_max as u64).leading_zeros(),
        )
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
        assert_eq!(PoolKind::Mean.range(r, 3), Interval::new(-7, 0));
    }

    /// The rounding rule by hand: `S·2^k/c` rounded to the nearest integer (`k = ⌈log2 N⌉`).
    /// A tie would need `S·2^(k+1) = c·(2q + 1)`, impossible for `c ≤ N ≤ 2^k` (fewer factors
    /// of 2 on the right), so the quotient is never half-way.
    #[test]
    fn mean_rounds_to_nearest() {
        let d = MeanDiv::new(1, 10).unwrap();
        assert_eq!((d.extra, d.exact(-7, 1)), (0, -7));
        let d = MeanDiv::new(2, 10).unwrap();
        assert_eq!(d.extra, 1);
        assert_eq!((d.exact(1, 2), d.exact(-3, 2)), (1, -3));
        let d = MeanDiv::new(3, 100).unwrap();
        assert_eq!(d.extra, 2);
        assert_eq!(d.exact(1, 3), 1); // 4/3 = 1.33
        assert_eq!(d.exact(2, 3), 3); // 8/3 = 2.67
        assert_eq!(d.exact(-2, 3), -3);
        assert_eq!(d.exact(3, 2), 6); // 12/2
        let d = MeanDiv::new(8, 100).unwrap();
        assert_eq!(d.extra, 3);
        assert_eq!(d.exact(3, 5), 5); // 24/5 = 4.8
        assert_eq!(d.exact(-1, 5), -2); // -8/5 = -1.6
        assert_eq!(d.exact(5, 8), 5); // 40/8
        assert_eq!(d.exact(1, 6), 1); // 8/6 = 1.33
        assert_eq!(d.exact(1, 7), 1); // 8/7 = 1.14
        let d = MeanDiv::new(16, 100).unwrap();
        assert_eq!(d.extra, 4);
        assert_eq!(d.exact(1, 10), 2); // 16/10 = 1.6
        assert_eq!(d.exact(-5, 10), -8); // -80/10
        assert_eq!(d.exact(-1, 12), -1); // -16/12 = -1.33
        assert_eq!(d.exact(15, 16), 15); // 240/16
        assert_eq!(MeanDiv::new(32, 100).unwrap().extra, 5);
    }

    /// The reciprocal table equals the exact quotient on every sum of the proven range.
    #[test]
    fn mean_table_is_exact_on_the_whole_range() {
        for (n, max_abs) in [
            (1usize, 40i128),
            (3, 300),
            (5, 1000),
            (8, 255),
            (13, 4000),
            (32, 1 << 12),
        ] {
            let d = MeanDiv::new(n, max_abs).unwrap();
            for c in 1..=n {
                for s in -(max_abs as i64)..=(max_abs as i64) {
                    assert_eq!(d.by_table(s, c), d.exact(s, c), "n {n} c {c} S {s}");
                }
            }
        }
        // Large sums: the edges of the range and a sample inside.
        let max_abs = (1i128 << 40) - 3;
        let d = MeanDiv::new(32, max_abs).unwrap();
        for c in 1..=32 {
            for s in (0..2000i64)
                .map(|i| i * 549_755_813 % (max_abs as i64))
                .chain([max_abs as i64, 1, 0])
            {
                assert_eq!(d.by_table(s, c), d.exact(s, c));
                assert_eq!(d.by_table(-s, c), d.exact(-s, c));
            }
        }
    }
}
