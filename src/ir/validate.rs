//! The validator of lowered firmware: [`validate`] accepts exactly the [`Firmware`] every
//! emulator and backend can execute without panicking or overflowing `i64`.
//!
//! It re-derives the range analysis of [`crate::pass::lower`] from the firmware's own constants
//! (weights, scales, biases, shifts), starting from the input type, and checks that every range
//! and type the firmware records contains the re-derived one. So a firmware read from disk
//! (`firmware.json`, which the user can edit) is either executed exactly as the lowering
//! would have produced it, or refused with an error naming the layer, the field and what was
//! expected. The lowering runs it on its own output in debug builds.
//!
//! All interval arithmetic here is checked (`i128`); a value that does not fit is an error.

use super::firmware::{
    AffineFw, DenseFw, Dequant, Firmware, FwKind, FwLayer, HiddenUnits, Mode, Quantizer, TernaryFw,
};
use super::fixed::{bit_length, ceil_log2, shift_round_i128, FixedType, Interval, MAX_WIDTH};
use super::profile::InNorm;
use super::Matrix;
use std::fmt;

/// Largest magnitude of a rounding shift (every shift is a valid `i64` operation).
pub const MAX_SHIFT: i32 = 62;
/// Largest fractional bits of the hidden and output values (exact decimal printing of
/// `code · 2^-frac` in `u64` needs `frac ≤ 58`).
pub const MAX_FRAC_BITS: i32 = 58;
/// Largest magnitude of an activation code or its clamp bounds.
const MAX_CODE: i64 = 1 << 15;

/// Where a firmware is invalid and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmwareError {
    /// `(index, name)` of the layer, `None` for the network's own fields.
    pub layer: Option<(usize, String)>,
    /// The field, as spelled in `firmware.json` (e.g. `scale[3]`, `quant.m_type`).
    pub field: String,
    /// What is wrong and what was expected.
    pub detail: String,
}

impl fmt::Display for FirmwareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.layer {
            Some((i, name)) => write!(f, "layer #{i} '{name}', {}: {}", self.field, self.detail),
            None => write!(f, "{}: {}", self.field, self.detail),
        }
    }
}

impl std::error::Error for FirmwareError {}

type Res<T> = Result<T, FirmwareError>;

/// Error builder for one layer (or the network when `layer` is `None`).
struct At<'a> {
    layer: Option<(usize, &'a str)>,
}

impl At<'_> {
    fn err<T>(&self, field: impl Into<String>, detail: impl Into<String>) -> Res<T> {
        Err(FirmwareError {
            layer: self.layer.map(|(i, n)| (i, n.to_string())),
            field: field.into(),
            detail: detail.into(),
        })
    }

    fn ensure(&self, ok: bool, field: &str, detail: impl FnOnce() -> String) -> Res<()> {
        if ok {
            Ok(())
        } else {
            self.err(field, detail())
        }
    }

    /// A type the firmware can hold: 1..=62 bits, `|frac| ≤ 62`. (Range analysis gives a
    /// 1-bit signed type, codes {-1, 0}, to a value in [-1, 0]; `ap_fixed<1,I>` holds it.)
    fn ty(&self, field: &str, t: FixedType) -> Res<()> {
        self.ensure((1..=MAX_WIDTH).contains(&t.width), field, || {
            format!("width {} (expected 1..={MAX_WIDTH} bits)", t.width)
        })?;
        self.ensure((-MAX_SHIFT..=MAX_SHIFT).contains(&t.frac), field, || {
            format!(
                "{} fractional bits (expected -{MAX_SHIFT}..={MAX_SHIFT})",
                t.frac
            )
        })
    }

    /// `t` is valid, integer when `integer`, and holds every value of `iv`.
    fn holds(&self, field: &str, t: FixedType, iv: Interval, integer: bool) -> Res<()> {
        self.ty(field, t)?;
        self.ensure(!integer || t.frac == 0, field, || {
            format!("{} fractional bits (expected an integer type)", t.frac)
        })?;
        self.ensure(
            t.min_code() <= iv.lo && iv.hi <= t.max_code(),
            field,
            || {
                format!(
                    "{t} (codes [{}, {}]) does not hold the range [{}, {}] it must hold",
                    t.min_code(),
                    t.max_code(),
                    iv.lo,
                    iv.hi
                )
            },
        )
    }

    /// A recorded interval is well formed and contains the re-derived one.
    fn covers(&self, field: &str, recorded: Interval, derived: Interval) -> Res<()> {
        self.ensure(recorded.lo <= recorded.hi, field, || {
            format!("empty range [{}, {}]", recorded.lo, recorded.hi)
        })?;
        self.ensure(
            recorded.lo <= derived.lo && derived.hi <= recorded.hi,
            field,
            || {
                format!(
                    "range [{}, {}] does not contain [{}, {}], the range its inputs and constants give",
                    recorded.lo, recorded.hi, derived.lo, derived.hi
                )
            },
        )
    }

    fn shift(&self, field: &str, s: i32) -> Res<()> {
        self.ensure((-MAX_SHIFT..=MAX_SHIFT).contains(&s), field, || {
            format!("shift {s} (expected -{MAX_SHIFT}..={MAX_SHIFT})")
        })
    }

    fn eq<T: PartialEq + fmt::Debug>(&self, field: &str, got: T, want: T, why: &str) -> Res<()> {
        self.ensure(got == want, field, || {
            format!("{got:?}, expected {want:?} ({why})")
        })
    }

    fn len(&self, field: &str, got: usize, want: usize) -> Res<()> {
        self.ensure(got == want, field, || {
            format!("{got} entries, expected {want}")
        })
    }

    fn bits(&self, field: &str, bits: u32, lo: u32) -> Res<()> {
        self.ensure((lo..=MAX_WIDTH).contains(&bits), field, || {
            format!("{bits} bits (expected {lo}..={MAX_WIDTH})")
        })
    }

    /// Every value fits a `bits`-bit signed constant.
    fn consts(&self, field: &str, v: &[i64], bits: u32) -> Res<()> {
        let lim = 1i64 << (bits - 1);
        match v.iter().position(|c| !(-lim..lim).contains(c)) {
            Some(k) => self.err(
                format!("{field}[{k}]"),
                format!("{} does not fit {bits}-bit signed constants", v[k]),
            ),
            None => Ok(()),
        }
    }

    fn overflow<T>(&self, field: &str) -> Res<T> {
        self.err(field, "its range overflows the 128-bit range analysis")
    }
}

fn mul(a: Interval, b: Interval) -> Option<Interval> {
    let c = [
        a.lo.checked_mul(b.lo)?,
        a.lo.checked_mul(b.hi)?,
        a.hi.checked_mul(b.lo)?,
        a.hi.checked_mul(b.hi)?,
    ];
    Some(Interval {
        lo: *c.iter().min()?,
        hi: *c.iter().max()?,
    })
}

fn add(a: Interval, b: Interval) -> Option<Interval> {
    Some(Interval {
        lo: a.lo.checked_add(b.lo)?,
        hi: a.hi.checked_add(b.hi)?,
    })
}

/// Image of `iv` under `shift_round(·, s)`, `|s| ≤ 62`.
fn shift_round(iv: Interval, s: i32) -> Option<Interval> {
    let lim = 1i128 << 100;
    if s < 0 && (iv.abs_max() >= lim >> (-s)) {
        return None;
    }
    Some(Interval {
        lo: shift_round_i128(iv.lo, s),
        hi: shift_round_i128(iv.hi, s),
    })
}

fn union_all(v: impl IntoIterator<Item = Interval>) -> Option<Interval> {
    v.into_iter().reduce(Interval::union)
}

/// Checks `fw` (see the module documentation). The first problem found is returned.
pub fn validate(fw: &Firmware) -> Result<(), FirmwareError> {
    let net = At { layer: None };
    network_fields(fw, &net)?;
    // Shapes first: every length below is then backed by data, so allocating by it is safe.
    let mut width = fw.n_in;
    for (i, l) in fw.layers.iter().enumerate() {
        let at = At {
            layer: Some((i, &l.name)),
        };
        at.eq("n_in", l.n_in, width, "the previous stage's outputs")?;
        shape(l, &at)?;
        width = l.n_out;
    }
    net.eq("n_out", fw.n_out, width, "the last stage's outputs")?;
    let mut in_type = fw.options.input_type;
    let mut in_ranges = vec![in_type.interval(); fw.n_in];
    for (i, l) in fw.layers.iter().enumerate() {
        let at = At {
            layer: Some((i, &l.name)),
        };
        at.eq(
            "in_type",
            l.in_type,
            in_type,
            "the output type of the previous stage",
        )?;
        layer(fw, l, &at, &in_ranges)?;
        fused_pair(fw, i, &at)?;
        in_type = l.out_type;
        in_ranges = l.out_ranges.clone();
    }
    Ok(())
}

/// Fused requantization pairs up: stage `i` requantizes ([`Dequant::Requant`]) exactly when
/// stage `i + 1` is ternary and reads codes ([`Quantizer::Codes`]).
fn fused_pair(fw: &Firmware, i: usize, at: &At) -> Res<()> {
    let requant = |l: &FwLayer| matches!(&l.kind, FwKind::Ternary(t) if matches!(t.dequant, Dequant::Requant { .. }));
    let codes = |l: &FwLayer| matches!(&l.kind, FwKind::Ternary(t) if matches!(t.quant, Quantizer::Codes { .. }));
    let this = requant(&fw.layers[i]);
    let next = fw.layers.get(i + 1).is_some_and(codes);
    at.ensure(this == next, "dequant", || {
        if this {
            "requant, but the next stage does not read codes (quant.mode codes)".into()
        } else {
            "not requant, but the next stage reads codes (quant.mode codes)".into()
        }
    })?;
    scaled_pair(fw, i, at)?;
    let first_reads_codes = i == 0 && codes(&fw.layers[0]);
    at.ensure(!first_reads_codes, "quant.mode", || {
        "codes in the first stage (no stage requantizes into it)".into()
    })
}

/// [`Dequant::Scaled`] at stage `i` needs a consumer whose codes ignore the units: a dynamic
/// ternary stage without mean subtraction.
fn scaled_pair(fw: &Firmware, i: usize, at: &At) -> Res<()> {
    let scaled = matches!(&fw.layers[i].kind, FwKind::Ternary(t) if t.dequant == Dequant::Scaled);
    let ok = |l: &FwLayer| {
        matches!(&l.kind, FwKind::Ternary(t)
            if matches!(t.quant, Quantizer::Dynamic { .. }) && t.center.is_none())
    };
    at.ensure(
        !scaled || fw.layers.get(i + 1).is_some_and(ok),
        "dequant",
        || {
            "scaled, but the next stage is not a dynamic ternary stage (only its quantizer ignores \
         the units)"
                .into()
        },
    )
}

/// [`Dequant::Scaled`] multiplies by `M` alone: every `scale` is 1 with `scale_frac` 0.
fn scaled_consts(t: &TernaryFw, at: &At) -> Res<()> {
    at.eq("scale_frac", t.scale_frac, 0, "0 (scaled units)")?;
    match t.scale.iter().position(|&c| c != 1) {
        Some(n) => at.err(
            format!("scale[{n}]"),
            format!("{} (expected 1: scaled units)", t.scale[n]),
        ),
        None => Ok(()),
    }
}

/// Every per-input and per-output vector of `l` has the length its `n_in` / `n_out` says.
fn shape(l: &FwLayer, at: &At) -> Res<()> {
    at.ensure(l.n_out >= 1, "n_out", || "0 (expected ≥ 1 output)".into())?;
    at.len("out_ranges", l.out_ranges.len(), l.n_out)?;
    let mut lens = vec![];
    match &l.kind {
        FwKind::Ternary(t) => {
            matrix_shape(at, &t.weights, l)?;
            lens.extend([("scale", t.scale.len()), ("bias", t.bias.len())]);
            lens.push(("acc_ranges", t.acc_ranges.len()));
        }
        FwKind::Dense(d) => {
            matrix_shape(at, &d.weights, l)?;
            lens.extend([("bias", d.bias.len()), ("acc_ranges", d.acc_ranges.len())]);
        }
        FwKind::Affine(a) => {
            at.eq("n_out", l.n_out, l.n_in, "an affine stage is per channel")?;
            lens.extend([("scale", a.scale.len()), ("bias", a.bias.len())]);
        }
    }
    lens.iter()
        .try_for_each(|(f, len)| at.len(f, *len, l.n_out))
}

fn matrix_shape<T>(at: &At, w: &Matrix<T>, l: &FwLayer) -> Res<()> {
    at.ensure(w.rows == l.n_out && w.cols == l.n_in, "weights", || {
        format!(
            "{}x{} (expected n_out x n_in = {}x{})",
            w.rows, w.cols, l.n_out, l.n_in
        )
    })?;
    at.ensure(
        w.rows.checked_mul(w.cols) == Some(w.data.len()),
        "weights",
        || {
            format!(
                "{} entries for a {}x{} matrix",
                w.data.len(),
                w.rows,
                w.cols
            )
        },
    )
}

fn network_fields(fw: &Firmware, at: &At) -> Res<()> {
    let o = &fw.options;
    let p = &fw.profile;
    at.ensure(fw.n_in >= 1, "n_in", || "0 (expected ≥ 1 input)".into())?;
    at.ensure(!fw.layers.is_empty(), "layers", || {
        "none (expected at least one stage)".into()
    })?;
    at.ty("options.input_type", o.input_type)?;
    at.ensure(
        (0..=MAX_FRAC_BITS).contains(&o.frac_bits),
        "options.frac_bits",
        || format!("{} (expected 0..={MAX_FRAC_BITS})", o.frac_bits),
    )?;
    at.bits("options.const_bits", o.const_bits, 2)?;
    at.bits("options.weight_bits", o.weight_bits, 2)?;
    at.ensure(
        (0..=MAX_SHIFT).contains(&o.recip_guard_bits),
        "options.recip_guard_bits",
        || format!("{} (expected 0..={MAX_SHIFT})", o.recip_guard_bits),
    )?;
    at.ensure(
        (1..=MAX_CODE as i32).contains(&p.act_qmax),
        "profile.act_qmax",
        || format!("{} (expected 1..={MAX_CODE})", p.act_qmax),
    )?;
    let (lo, hi) = p.act_clamp;
    at.ensure(
        -MAX_CODE as i32 <= lo && lo < 0 && 0 < hi && hi <= MAX_CODE as i32,
        "profile.act_clamp",
        || format!("[{lo}, {hi}] (expected lo < 0 < hi, |bounds| ≤ {MAX_CODE})"),
    )?;
    at.ensure(
        p.eps_act.is_finite() && p.eps_act > 0.0,
        "profile.eps_act",
        || format!("{} (expected a positive number)", p.eps_act),
    )?;
    // 0 where the profile has no clamp (kyegomez: no weight eps; bithep: no in-layer norm).
    for (field, v) in [("profile.eps_w", p.eps_w), ("profile.eps_norm", p.eps_norm)] {
        at.ensure(v.is_finite() && v >= 0.0, field, || {
            format!("{v} (expected a number >= 0)")
        })?;
    }
    Ok(())
}

fn layer(fw: &Firmware, l: &FwLayer, at: &At, in_ranges: &[Interval]) -> Res<()> {
    at.ensure(!l.sources.is_empty(), "sources", || {
        "none (expected the float layers folded into this stage)".into()
    })?;
    let pre = match &l.kind {
        FwKind::Ternary(t) => ternary(fw, l, t, at, in_ranges)?,
        FwKind::Dense(d) => dense(fw, l, d, at, in_ranges)?,
        FwKind::Affine(a) => affine(fw, l, a, at, in_ranges)?,
    };
    let f_out = fw.options.frac_bits;
    let Some(pre_u) = union_all(pre.iter().copied()) else {
        return at.err("n_out", "no outputs");
    };
    // The pre-activation is held in an `i64` before ReLU: ≤ 62 bits like every value.
    at.ensure(
        FixedType::fitting(pre_u, 0).width <= MAX_WIDTH,
        "bias",
        || {
            format!(
                "pre-activation range [{}, {}] needs more than {MAX_WIDTH} bits",
                pre_u.lo, pre_u.hi
            )
        },
    )?;
    let requant =
        matches!(&l.kind, FwKind::Ternary(t) if matches!(t.dequant, Dequant::Requant { .. }));
    let scaled = matches!(&l.kind, FwKind::Ternary(t) if t.dequant == Dequant::Scaled);
    let (f_want, rule) = if requant {
        (0, "0 (fused requantization outputs codes)")
    } else if scaled {
        (0, "0 (scaled units are integers)")
    } else {
        (f_out, "options.frac_bits")
    };
    at.eq("out_type.frac", l.out_type.frac, f_want, rule)?;
    for (n, (r, p)) in l.out_ranges.iter().zip(&pre).enumerate() {
        let derived = if l.relu { p.relu() } else { *p };
        at.covers(&format!("out_ranges[{n}]"), *r, derived)?;
        at.holds("out_type", l.out_type, *r, false)?;
    }
    Ok(())
}

/// Each weight (shape already checked) satisfies `ok`.
fn matrix<T: Copy + fmt::Display>(
    at: &At,
    w: &Matrix<T>,
    l: &FwLayer,
    ok: impl Fn(T) -> bool,
    expected: &str,
) -> Res<()> {
    match w.data.iter().position(|&v| !ok(v)) {
        Some(k) => at.err(
            format!("weights[{}][{}]", k / l.n_in, k % l.n_in),
            format!("{} (expected {expected})", w.data[k]),
        ),
        None => Ok(()),
    }
}

/// What the quantizer checks of one ternary layer need.
struct QCtx<'a> {
    fw: &'a Firmware,
    t: &'a TernaryFw,
    at: &'a At<'a>,
    /// `Q`, the input's fractional bits, its largest magnitude, whether it is ≥ 0.
    q: i128,
    f_in: i32,
    v_abs: i128,
    nonneg: bool,
    /// [`Dequant::CodeUnits`]: `y = (acc·C_n) >> shift` in every mode, `M` floored at 1.
    code_units: bool,
}

impl QCtx<'_> {
    /// Checks `m_floor` and `m_type`; returns the largest `M`.
    fn m_range(&self, m_floor: i64, m_type: FixedType) -> Res<i128> {
        let rule = if self.code_units {
            "1 (in-layer norm: the eps clamp never acts, docs/semantics.md)"
        } else {
            "max(1, ceil(eps_act · 2^frac_in))"
        };
        let floor = super::firmware::m_floor(&self.fw.profile, self.f_in);
        self.at.eq("quant.m_floor", m_floor, floor, rule)?;
        let m_max = self.v_abs.max(m_floor as i128);
        self.at
            .holds("quant.m_type", m_type, Interval::new(0, m_max), true)?;
        Ok(m_max)
    }

    /// The dequantization shift: `scale_frac + frac_in − frac_bits` where the product carries
    /// `M` (dynamic, pow2 in input units), else `scale_frac − frac_bits`.
    fn check_shift(&self, carries_m: bool) -> Res<()> {
        let (t, o) = (self.t, &self.fw.options);
        if let Dequant::Requant { .. } = t.dequant {
            self.at.eq(
                "shift",
                t.shift,
                t.scale_frac,
                "scale_frac (fused requantization)",
            )
        } else if t.dequant == Dequant::Scaled {
            // Scaled units: any shift (its range is checked with the other shifts).
            Ok(())
        } else if carries_m && !self.code_units {
            self.at.eq(
                "shift",
                t.shift,
                t.scale_frac + self.f_in - o.frac_bits,
                "scale_frac + frac_in - frac_bits",
            )
        } else {
            self.at.eq(
                "shift",
                t.shift,
                t.scale_frac - o.frac_bits,
                "scale_frac - frac_bits",
            )
        }
    }

    /// A product of the input by a positive factor is ≥ 0 when the input is.
    fn signed_prod(&self, bound: Interval) -> Interval {
        if self.nonneg {
            bound.relu()
        } else {
            bound
        }
    }
}

/// The quantizer's range facts: checks its fields against the mode and the input range, and
/// returns the factor of the dequantization product (`M`'s range, or 1).
fn quantizer(
    fw: &Firmware,
    l: &FwLayer,
    t: &TernaryFw,
    at: &At,
    in_ranges: &[Interval],
) -> Res<Interval> {
    let c = QCtx {
        fw,
        t,
        at,
        q: t.qmax as i128,
        f_in: l.in_type.frac,
        v_abs: in_ranges.iter().map(|r| r.abs_max()).max().unwrap_or(0),
        nonneg: in_ranges.iter().all(|r| r.lo >= 0),
        code_units: t.dequant == Dequant::CodeUnits,
    };
    match (&t.quant, fw.options.mode) {
        (
            Quantizer::Dynamic {
                m_type,
                m_floor,
                guard,
                e_type,
                recip_type,
                prod_type,
            },
            Mode::Dynamic,
        ) => quant_dynamic(
            &c,
            (*m_type, *m_floor),
            *guard,
            *e_type,
            *recip_type,
            *prod_type,
        ),
        (
            Quantizer::Pow2 {
                m_type,
                m_floor,
                e_max,
                e_type,
                prod_type,
            },
            Mode::DynamicPow2,
        ) => quant_pow2(&c, (*m_type, *m_floor), *e_max, *e_type, *prod_type),
        (
            Quantizer::Static {
                m_cal,
                recip,
                recip_frac,
                prod_type,
            },
            Mode::Static,
        ) => quant_static(&c, *m_cal, *recip, *recip_frac, *prod_type),
        (Quantizer::Codes { m_cal }, Mode::Static) => quant_codes(&c, *m_cal, in_ranges),
        (_, mode) => at.err(
            "quant.mode",
            format!("does not match the firmware's mode '{mode}'"),
        ),
    }
}

/// `M = max(max|V|, m_floor)`, `e = bitlen(M)`, `R = floor((Q·2^(G+e) + floor(M/2)) / M)`.
fn quant_dynamic(
    c: &QCtx,
    (m_type, m_floor): (FixedType, i64),
    guard: i32,
    e_type: FixedType,
    recip_type: FixedType,
    prod_type: FixedType,
) -> Res<Interval> {
    let QCtx { at, q, .. } = *c;
    let o = &c.fw.options;
    let (m_floor, m_type, guard, e_type, recip_type, prod_type) =
        (&m_floor, &m_type, &guard, &e_type, &recip_type, &prod_type);
    let m_max = c.m_range(*m_floor, *m_type)?;
    at.eq(
        "quant.guard",
        *guard,
        o.recip_guard_bits,
        "options.recip_guard_bits",
    )?;
    let (e_min, e_max) = (bit_length(*m_floor), bit_length(m_max as i64));
    at.holds(
        "quant.e_type",
        *e_type,
        Interval::new(0, e_max as i128),
        true,
    )?;
    at.ensure(guard + e_max <= MAX_SHIFT, "quant.guard", || {
        format!("guard {guard} + exponent {e_max} exceeds the {MAX_SHIFT}-bit shift limit")
    })?;
    let num_max = (q << (guard + e_max)) + m_max / 2;
    at.ensure(num_max < 1i128 << MAX_WIDTH, "quant.guard", || {
        format!("reciprocal numerator {num_max} needs more than {MAX_WIDTH} bits")
    })?;
    let (mut r_iv, mut bound) = (None::<Interval>, 0i128);
    for e in e_min..=e_max {
        let num = q << (guard + e);
        let lo_m = (1i128 << (e - 1)).max(*m_floor as i128);
        let hi_m = ((1i128 << e) - 1).min(m_max);
        if lo_m > hi_m {
            continue;
        }
        let iv = Interval::new((num + hi_m / 2) / hi_m, (num + lo_m / 2) / lo_m);
        r_iv = Some(r_iv.map_or(iv, |u| u.union(iv)));
        bound = bound.max(num + hi_m / 2);
    }
    let Some(r_iv) = r_iv else {
        return at.err("quant.m_floor", "no value of max|x| is possible");
    };
    at.holds("quant.recip_type", *recip_type, r_iv, true)?;
    let prod = c.signed_prod(Interval::new(-bound, bound));
    at.holds("quant.prod_type", *prod_type, prod, true)?;
    c.check_shift(true)?;
    Ok(if c.code_units {
        Interval::point(1)
    } else {
        Interval::new(*m_floor as i128, m_max)
    })
}

/// `M` as above, `e = ceil(log2 M)`, codes `round(Q·V / 2^e)`.
fn quant_pow2(
    c: &QCtx,
    (m_type, m_floor): (FixedType, i64),
    e_max: i32,
    e_type: FixedType,
    prod_type: FixedType,
) -> Res<Interval> {
    let QCtx {
        at, q, t, v_abs, ..
    } = *c;
    let (m_floor, m_type, e_max, e_type, prod_type) =
        (&m_floor, &m_type, &e_max, &e_type, &prod_type);
    let m_max = c.m_range(*m_floor, *m_type)?;
    let need = ceil_log2(m_max as i64);
    at.ensure(*e_max >= need && *e_max <= MAX_SHIFT, "quant.e_max", || {
        format!("{e_max} (expected {need}..={MAX_SHIFT}: ceil(log2 max|x|))")
    })?;
    at.holds(
        "quant.e_type",
        *e_type,
        Interval::new(0, *e_max as i128),
        true,
    )?;
    let Some(prod) = mul(Interval::new(-v_abs, v_abs), Interval::point(q)) else {
        return at.overflow("quant.prod_type");
    };
    at.holds("quant.prod_type", *prod_type, c.signed_prod(prod), true)?;
    c.check_shift(true)?;
    if !c.code_units {
        at.shift("shift - quant.e_max", t.shift - e_max)?;
        at.shift("shift - ceil(log2 m_floor)", t.shift - ceil_log2(*m_floor))?;
    }
    Ok(Interval::point(1))
}

/// Codes `round(V·R / 2^P)` with a constant `R`.
fn quant_static(
    c: &QCtx,
    m_cal: f64,
    recip: i64,
    recip_frac: i32,
    prod_type: FixedType,
) -> Res<Interval> {
    let QCtx { at, v_abs, .. } = *c;
    let o = &c.fw.options;
    let (m_cal, recip, recip_frac, prod_type) = (&m_cal, &recip, &recip_frac, &prod_type);
    at.ensure(m_cal.is_finite() && *m_cal > 0.0, "quant.m_cal", || {
        format!("{m_cal} (expected a positive number)")
    })?;
    at.shift("quant.recip_frac", *recip_frac)?;
    at.consts("quant.recip", &[*recip], o.const_bits)?;
    // A positive R keeps the sign of V (codes of a non-negative input are ≥ 0).
    at.ensure(*recip >= 1, "quant.recip", || {
        format!("{recip} (expected a positive reciprocal)")
    })?;
    if let Some(d) = o.input_digits {
        let n = super::fixed::csd_digits(*recip).len() as u32;
        at.ensure(n <= d, "quant.recip", || {
            format!("{recip} has {n} signed digits, more than options.input_digits = {d}")
        })?;
    }
    let Some(prod) = mul(
        Interval::new(-v_abs, v_abs),
        Interval::point(*recip as i128),
    ) else {
        return at.overflow("quant.prod_type");
    };
    at.holds("quant.prod_type", *prod_type, c.signed_prod(prod), true)?;
    // A negative recip_frac is a left shift of V·R before the clamp: it must not wrap.
    let fits = shift_round(c.signed_prod(prod), *recip_frac)
        .is_some_and(|r| FixedType::fitting(r, 0).width <= MAX_WIDTH);
    at.ensure(fits, "quant.recip_frac", || {
        format!("V·R shifted by {recip_frac} needs more than {MAX_WIDTH} bits")
    })?;
    c.check_shift(false)?;
    Ok(Interval::point(1))
}

/// [`Quantizer::Codes`]: the inputs are the codes, so each input range must lie inside the
/// code clamp (the previous stage clamped them).
fn quant_codes(c: &QCtx, m_cal: f64, in_ranges: &[Interval]) -> Res<Interval> {
    let at = c.at;
    at.ensure(m_cal.is_finite() && m_cal > 0.0, "quant.m_cal", || {
        format!("{m_cal} (expected a positive number)")
    })?;
    let (lo, hi) = c.t.clamp;
    for (k, r) in in_ranges.iter().enumerate() {
        at.ensure(
            r.lo >= lo as i128 && r.hi <= hi as i128,
            "quant.mode",
            || {
                format!(
                    "codes: input {k} range [{}, {}] leaves the clamp [{lo}, {hi}]",
                    r.lo, r.hi
                )
            },
        )?;
    }
    c.check_shift(false)?;
    Ok(Interval::point(1))
}

fn ternary(
    fw: &Firmware,
    l: &FwLayer,
    t: &TernaryFw,
    at: &At,
    in_ranges: &[Interval],
) -> Res<Vec<Interval>> {
    let p = &fw.profile;
    let o = &fw.options;
    matrix(at, &t.weights, l, |c| (-1..=1).contains(&c), "-1, 0 or 1")?;
    at.eq("qmax", t.qmax, p.act_qmax as i64, "profile.act_qmax")?;
    let clamp = (p.act_clamp.0 as i64, p.act_clamp.1 as i64);
    at.eq("clamp", t.clamp, clamp, "profile.act_clamp")?;
    at.shift("shift", t.shift)?;
    at.shift("scale_frac", t.scale_frac)?;
    at.consts("scale", &t.scale, o.const_bits)?;
    let code_units = p.in_norm != InNorm::None;
    let want = if code_units {
        Dequant::CodeUnits
    } else {
        Dequant::InputUnits
    };
    let fused = matches!(t.dequant, Dequant::Requant { lo, hi } if (lo, hi) == clamp);
    if let (Dequant::Requant { .. }, Some(d)) = (t.dequant, o.requant_digits) {
        let digits = |c: &i64| super::fixed::csd_digits(*c).len() as u32;
        if let Some(n) = t.scale.iter().position(|c| digits(c) > d) {
            return at.err(
                format!("scale[{n}]"),
                format!(
                    "{} has more than options.requant_digits = {d} signed digits",
                    t.scale[n]
                ),
            );
        }
    }
    at.ensure(
        !matches!(t.dequant, Dequant::Requant { .. }) || o.requant_digits.is_some(),
        "dequant",
        || "requant, but options.requant_digits is absent".into(),
    )?;
    let scaled = t.dequant == Dequant::Scaled
        && !code_units
        && o.mode == Mode::Dynamic
        && o.hidden_units == HiddenUnits::Scaled;
    if scaled {
        scaled_consts(t, at)?;
    }
    at.ensure(
        t.dequant == want || scaled || (fused && !code_units && o.mode == Mode::Static),
        "dequant",
        || {
            format!(
                "{:?} (the profile's in-layer norm needs {want:?})",
                t.dequant
            )
        },
    )?;
    let centred = center(p, t, at, in_ranges)?;
    let in_ranges: &[Interval] = centred.as_deref().unwrap_or(in_ranges);
    let prod_scale = quantizer(fw, l, t, at, in_ranges)?;
    // Codes: |q| ≤ Q in the dynamic modes (docs/arithmetic.md), any clamp value in static.
    let q = t.qmax;
    let (qlo, qhi) = match o.mode {
        Mode::Static => clamp,
        _ => ((-q).max(clamp.0), q.min(clamp.1)),
    };
    let nonneg = in_ranges.iter().all(|r| r.lo >= 0);
    let codes = Interval::new(if nonneg { 0 } else { qlo as i128 }, qhi as i128);
    at.covers("code_range", t.code_range, codes)?;
    let cl = Interval::new(clamp.0 as i128, clamp.1 as i128);
    at.covers("code_range (inside clamp)", cl, t.code_range)?;
    let mut pre = Vec::with_capacity(l.n_out);
    let mut dq_union: Option<Interval> = None;
    for n in 0..l.n_out {
        let acc = t
            .weights
            .row(n)
            .iter()
            .fold(Interval::point(0), |a, &w| match w {
                1 => a.add(t.code_range),
                -1 => a.add(t.code_range.neg()),
                _ => a,
            });
        at.covers(&format!("acc_ranges[{n}]"), t.acc_ranges[n], acc)?;
        at.holds("acc_type", t.acc_type, t.acc_ranges[n], true)?;
        let Some(prod) = mul(t.acc_ranges[n], prod_scale)
            .and_then(|a| mul(a, Interval::point(t.scale[n] as i128)))
        else {
            return at.overflow(&format!("scale[{n}]"));
        };
        dq_union = Some(dq_union.map_or(prod, |u| u.union(prod)));
        if let Dequant::Requant { lo, hi } = t.dequant {
            let Some(sum) = add(prod, Interval::point(t.bias[n] as i128)) else {
                return at.overflow(&format!("bias[{n}]"));
            };
            dq_union = dq_union.map(|u| u.union(sum));
            let Some(y) = shift_round(sum, t.shift) else {
                return at.overflow(&format!("bias[{n}]"));
            };
            pre.push(y.clamp(lo as i128, hi as i128));
            continue;
        }
        let y = match &t.quant {
            Quantizer::Pow2 { e_max, m_floor, .. } if !code_units => (ceil_log2(*m_floor)..=*e_max)
                .map(|e| shift_round(prod, t.shift - e))
                .collect::<Option<Vec<_>>>()
                .and_then(union_all),
            _ => shift_round(prod, t.shift),
        };
        let Some(y) = y.and_then(|y| add(y, Interval::point(t.bias[n] as i128))) else {
            return at.overflow(&format!("bias[{n}]"));
        };
        pre.push(y);
    }
    let dq = dq_union.expect("n_out ≥ 1 was checked");
    let dq = match &t.quant {
        // A left shift by up to e_max - shift happens on the product when shift < e.
        Quantizer::Pow2 { e_max, .. } if !code_units => {
            let Some(w) = shift_round(dq, -(e_max - t.shift).max(0)) else {
                return at.overflow("dequant_type");
            };
            w
        }
        _ => dq,
    };
    at.holds("dequant_type", t.dequant_type, dq, true)?;
    Ok(pre)
}

/// The mean subtraction of a layer-norm profile (`U_k = K·V_k − ΣV`): present exactly when
/// the profile has a layer norm, its types hold every prefix sum and every `U_k`. Returns the
/// ranges of `U` (the quantizer's input), or `None` without centring.
fn center(
    p: &crate::ir::Profile,
    t: &TernaryFw,
    at: &At,
    in_ranges: &[Interval],
) -> Res<Option<Vec<Interval>>> {
    let needed = p.in_norm == InNorm::LayerNorm;
    let c = match (&t.center, needed) {
        (None, false) => return Ok(None),
        (Some(c), true) => c,
        (Some(_), false) => return at.err("center", "present, but the profile has no layer norm"),
        (None, true) => return at.err("center", "missing: the profile's layer norm needs it"),
    };
    let Some((prefixes, u)) = super::firmware::centre_ranges(in_ranges) else {
        return at.overflow("center.sum_type");
    };
    at.holds("center.sum_type", c.sum_type, prefixes, true)?;
    for uk in &u {
        at.holds("center.u_type", c.u_type, *uk, true)?;
    }
    Ok(Some(u))
}

fn dense(
    fw: &Firmware,
    l: &FwLayer,
    d: &DenseFw,
    at: &At,
    in_ranges: &[Interval],
) -> Res<Vec<Interval>> {
    let o = &fw.options;
    let lim = 1i64 << (o.weight_bits - 1);
    matrix(
        at,
        &d.weights,
        l,
        |w| (-lim..lim).contains(&w),
        "a weight_bits-bit constant",
    )?;
    let w_iv = union_all(d.weights.data.iter().map(|&w| Interval::point(w as i128)))
        .unwrap_or(Interval::point(0));
    at.holds("weight_type", d.weight_type, w_iv, false)?;
    let f_in = l.in_type.frac;
    at.eq(
        "acc_type.frac",
        d.acc_type.frac,
        d.weight_type.frac + f_in,
        "weight frac + input frac",
    )?;
    at.shift("shift", d.shift)?;
    at.eq(
        "shift",
        d.shift,
        d.acc_type.frac - o.frac_bits,
        "acc_type.frac - frac_bits",
    )?;
    let mut pre = Vec::with_capacity(l.n_out);
    for n in 0..l.n_out {
        // Every partial sum is bounded by Σ|w·x|: it must stay within 62 bits too.
        let mut acc = Interval::point(0);
        let mut abs = 0i128;
        for (&w, r) in d.weights.row(n).iter().zip(in_ranges) {
            let term = mul(*r, Interval::point(w as i128)).expect("62-bit operands");
            abs = abs.saturating_add(term.abs_max());
            if abs >= 1i128 << MAX_WIDTH {
                break;
            }
            acc = acc.add(term);
        }
        at.ensure(abs < 1i128 << MAX_WIDTH, &format!("weights[{n}]"), || {
            format!("Σ|w·x| up to {abs} needs more than {MAX_WIDTH} bits")
        })?;
        at.covers(&format!("acc_ranges[{n}]"), d.acc_ranges[n], acc)?;
        at.holds("acc_type", d.acc_type, d.acc_ranges[n], false)?;
        let Some(y) = shift_round(d.acc_ranges[n], d.shift)
            .and_then(|y| add(y, Interval::point(d.bias[n] as i128)))
        else {
            return at.overflow(&format!("bias[{n}]"));
        };
        pre.push(y);
    }
    Ok(pre)
}

fn affine(
    fw: &Firmware,
    l: &FwLayer,
    a: &AffineFw,
    at: &At,
    in_ranges: &[Interval],
) -> Res<Vec<Interval>> {
    let o = &fw.options;
    at.consts("scale", &a.scale, o.const_bits)?;
    at.shift("shift", a.shift)?;
    at.shift("scale_frac", a.scale_frac)?;
    at.eq(
        "shift",
        a.shift,
        a.scale_frac + l.in_type.frac - o.frac_bits,
        "scale_frac + frac_in - frac_bits",
    )?;
    let mut pre = Vec::with_capacity(l.n_out);
    let mut prods = Vec::with_capacity(l.n_out);
    for (n, r) in in_ranges.iter().enumerate() {
        let p = mul(*r, Interval::point(a.scale[n] as i128)).expect("62-bit operands");
        prods.push(p);
        let Some(y) =
            shift_round(p, a.shift).and_then(|y| add(y, Interval::point(a.bias[n] as i128)))
        else {
            return at.overflow(&format!("bias[{n}]"));
        };
        pre.push(y);
    }
    let u = union_all(prods).expect("n_out ≥ 1 was checked");
    at.holds("prod_type", a.prod_type, u, true)?;
    Ok(pre)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::front::{ArchOrigin, Loaded};
    use crate::ir::{
        Affine, BitLinear, Layer, LayerKind, Linear, Model, Profile, ProfileName, WeightSource,
    };
    use crate::pipeline::{lower_for, FwOptions};
    use crate::testutil::Rng;

    /// A model with every stage kind: an input batch-norm (affine stage), a BitLinear with ReLU,
    /// a batch-norm after the ReLU (another affine stage), a full-precision layer.
    pub(crate) fn every_kind_model() -> Model {
        let mut r = Rng(11);
        let mut v =
            |n: usize, s: f64| -> Vec<f32> { (0..n).map(|_| (r.normal() * s) as f32).collect() };
        let codes = (0..6 * 5).map(|i| (i % 3) as i8 - 1).collect();
        let layers = vec![
            (
                "bn0",
                LayerKind::Affine(Affine {
                    scale: v(5, 1.0),
                    shift: v(5, 0.3),
                    origin: "batchnorm",
                }),
            ),
            (
                "fc1",
                LayerKind::BitLinear(BitLinear {
                    codes: Matrix::new(6, 5, codes),
                    beta: 0.4,
                    bias: Some(v(6, 0.2)),
                    source: WeightSource::TernaryI8,
                    master: None,
                }),
            ),
            ("relu1", LayerKind::Relu),
            (
                "bn1",
                LayerKind::Affine(Affine {
                    scale: v(6, 1.0),
                    shift: v(6, 0.3),
                    origin: "batchnorm",
                }),
            ),
            (
                "fc2",
                LayerKind::Linear(Linear {
                    weight: Matrix::new(3, 6, v(18, 0.5)),
                    bias: Some(v(3, 0.1)),
                }),
            ),
        ];
        Model {
            name: "every_kind".into(),
            inputs: 5,
            profile: Profile::named(ProfileName::Bithep),
            layers: layers
                .into_iter()
                .map(|(n, kind)| Layer {
                    name: n.into(),
                    kind,
                })
                .collect(),
            input_type: None,
        }
    }

    /// [`every_kind_model`] lowered in `mode` (static mode calibrated on gaussian inputs).
    pub(crate) fn every_kind_fw(mode: Mode) -> Firmware {
        let model = every_kind_model();
        let cal = crate::pass::calibrate::calibrate(&model, &crate::testutil::gaussian(64 * 5, 3));
        let loaded = Loaded {
            model,
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let args = FwOptions {
            mode,
            calib: None,
            input_type: Some("ap_fixed<12,4>".into()),
            input_bits: 16,
            frac_bits: 10,
            const_bits: 18,
            weight_bits: 12,
            calib_quantile: 1.0,
            ..FwOptions::default()
        };
        lower_for(&loaded, &args, mode, Some(&cal)).unwrap()
    }

    /// A static 4-8-6-3 BitLinear stack lowered with fused requantization (`digits`).
    fn fused_fw(digits: u32) -> Firmware {
        let model = crate::synthetic::random_mlp(&[4, 8, 6, 3], 5, true);
        let cal = crate::pass::calibrate::calibrate(&model, &crate::testutil::gaussian(64 * 4, 3));
        let loaded = Loaded {
            model,
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let args = FwOptions {
            mode: Mode::Static,
            requant: crate::ir::firmware::Requant::Fused,
            requant_digits: digits,
            ..FwOptions::default()
        };
        lower_for(&loaded, &args, Mode::Static, Some(&cal)).unwrap()
    }

    fn fused_layer(fw: &mut Firmware, i: usize) -> &mut TernaryFw {
        match &mut fw.layers[i].kind {
            FwKind::Ternary(t) => t,
            _ => panic!("every layer is ternary"),
        }
    }

    /// Fused requantization lowers to requant stages feeding codes stages, and the validator
    /// refuses a broken pair, too many digits and an out-of-range output.
    #[test]
    fn fused_requantization_is_checked() {
        let mut fw = fused_fw(2);
        validate(&fw).unwrap();
        let forms: Vec<(bool, bool)> = (0..3)
            .map(|i| {
                let t = fused_layer(&mut fw, i);
                (
                    matches!(t.dequant, Dequant::Requant { .. }),
                    matches!(t.quant, Quantizer::Codes { .. }),
                )
            })
            .collect();
        assert_eq!(forms, [(true, false), (true, true), (false, true)]);
        let mut bad = fw.clone();
        fused_layer(&mut bad, 0).scale[0] = 0b1010101;
        assert_eq!(validate(&bad).unwrap_err().field, "scale[0]");
        let mut bad = fw.clone();
        fused_layer(&mut bad, 2).quant = Quantizer::Codes { m_cal: 1.0 };
        fused_layer(&mut bad, 1).dequant = Dequant::InputUnits;
        assert!(validate(&bad).is_err());
        let mut bad = fw.clone();
        bad.layers[0].out_ranges[0] = Interval::point(0);
        assert_eq!(validate(&bad).unwrap_err().field, "out_ranges[0]");
        let mut bad = fw.clone();
        bad.options.requant_digits = None;
        assert_eq!(validate(&bad).unwrap_err().field, "dequant");
        // The first quantizer's constant has at most options.input_digits signed digits.
        let mut fw1 = fw.clone();
        let Quantizer::Static { recip, .. } = fused_layer(&mut fw1, 0).quant else {
            panic!("the first stage quantizes statically")
        };
        assert_eq!(fw1.options.input_digits, Some(2 + 2));
        assert!(super::super::fixed::csd_digits(recip).len() <= 4);
        if let Quantizer::Static { recip, .. } = &mut fused_layer(&mut fw1, 0).quant {
            *recip = 0b10101; // three signed digits
        }
        fw1.options.input_digits = Some(2);
        assert_eq!(validate(&fw1).unwrap_err().field, "quant.recip");
    }

    /// A dynamic 4-8-6-3 BitLinear stack: the hidden stages lower to scaled units, and the
    /// validator refuses a scale other than 1, real-unit fractional bits and a consumer that is
    /// not a dynamic ternary stage.
    #[test]
    fn scaled_units_are_checked() {
        let model = crate::synthetic::random_mlp(&[4, 8, 6, 3], 5, true);
        let loaded = Loaded {
            model,
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let fw = lower_for(&loaded, &FwOptions::default(), Mode::Dynamic, None).unwrap();
        validate(&fw).unwrap();
        let mut fw = fw;
        let forms: Vec<Dequant> = (0..3).map(|i| fused_layer(&mut fw, i).dequant).collect();
        assert_eq!(
            forms,
            [Dequant::Scaled, Dequant::Scaled, Dequant::InputUnits]
        );
        let mut bad = fw.clone();
        fused_layer(&mut bad, 1).scale[2] = 2;
        assert_eq!(validate(&bad).unwrap_err().field, "scale[2]");
        let mut bad = fw.clone();
        fused_layer(&mut bad, 0).scale_frac = 3;
        assert_eq!(validate(&bad).unwrap_err().field, "scale_frac");
        let mut bad = fw.clone();
        bad.layers[1].out_type.frac = 12;
        bad.layers[2].in_type.frac = 12;
        assert_eq!(validate(&bad).unwrap_err().field, "out_type.frac");
        let mut bad = fw.clone();
        fused_layer(&mut bad, 2).dequant = Dequant::Scaled;
        assert!(validate(&bad).is_err());
        // A scaled stage whose consumer is not dynamic ternary.
        let mut bad = fw.clone();
        bad.layers.truncate(2);
        bad.n_out = bad.layers[1].n_out;
        assert_eq!(validate(&bad).unwrap_err().field, "dequant");
        let mut bad = fw.clone();
        bad.options.mode = Mode::DynamicPow2;
        assert!(validate(&bad).is_err());
        let mut bad = fw.clone();
        bad.options.hidden_units = HiddenUnits::Real;
        assert_eq!(validate(&bad).unwrap_err().field, "dequant");
    }

    fn ternary(fw: &mut Firmware) -> &mut TernaryFw {
        match &mut fw.layers[1].kind {
            FwKind::Ternary(t) => t,
            _ => panic!("layer 1 is ternary"),
        }
    }
    fn dense(fw: &mut Firmware) -> &mut DenseFw {
        match &mut fw.layers[3].kind {
            FwKind::Dense(d) => d,
            _ => panic!("layer 3 is dense"),
        }
    }
    fn affine(fw: &mut Firmware) -> &mut AffineFw {
        match &mut fw.layers[0].kind {
            FwKind::Affine(a) => a,
            _ => panic!("layer 0 is affine"),
        }
    }

    type Mutation = (&'static str, Option<usize>, &'static str, fn(&mut Firmware));

    /// One edit per check: (what, layer, field named in the error, edit).
    const MUTATIONS: &[Mutation] = &[
        ("short scale", Some(1), "scale", |f| {
            ternary(f).scale.pop();
        }),
        ("short bias", Some(3), "bias", |f| {
            dense(f).bias.pop();
        }),
        ("short affine scale", Some(0), "scale", |f| {
            affine(f).scale.pop();
        }),
        ("width 0", Some(1), "out_type", |f| {
            f.layers[1].out_type.width = 0
        }),
        ("width 63", Some(2), "out_type", |f| {
            f.layers[2].out_type.width = 63
        }),
        ("types do not chain", Some(1), "in_type", |f| {
            f.layers[1].in_type.frac += 1
        }),
        ("widths do not chain", Some(1), "n_in", |f| {
            f.layers[1].n_in += 1
        }),
        ("n_out", None, "n_out", |f| f.n_out += 1),
        ("no layers", None, "layers", |f| f.layers.clear()),
        ("weight code 2", Some(1), "weights[0][1]", |f| {
            ternary(f).weights.data[1] = 2
        }),
        ("shift out of range", Some(1), "shift", |f| {
            ternary(f).shift = 100
        }),
        ("shift inconsistent", Some(0), "shift", |f| {
            affine(f).shift += 1
        }),
        ("huge scale", Some(1), "scale[2]", |f| {
            ternary(f).scale[2] = i64::MAX / 3
        }),
        ("huge bias", Some(3), "bias", |f| dense(f).bias[0] = 1 << 61),
        ("bias outside range", Some(3), "out_ranges[1]", |f| {
            dense(f).bias[1] += 1 << 20
        }),
        ("acc range too narrow", Some(1), "acc_ranges[0]", |f| {
            ternary(f).acc_ranges[0].hi -= 1
        }),
        ("empty range", Some(0), "out_ranges[0]", |f| {
            f.layers[0].out_ranges[0] = Interval { lo: 1, hi: 0 }
        }),
        ("relu range below 0", Some(1), "out_type", |f| {
            f.layers[1].out_ranges[0].lo = -1
        }),
        ("code range outside clamp", Some(1), "code_range", |f| {
            ternary(f).code_range.hi = 300
        }),
        ("qmax", Some(1), "qmax", |f| ternary(f).qmax = 100),
        ("dense weight too wide", Some(3), "weights[1][0]", |f| {
            dense(f).weights.data[6] = 1 << 40
        }),
        ("dense weight matrix", Some(3), "weights", |f| {
            dense(f).weights.data.pop();
        }),
        ("mode", Some(1), "quant.mode", |f| {
            f.options.mode = match f.options.mode {
                Mode::Static => Mode::Dynamic,
                _ => Mode::Static,
            }
        }),
        ("frac bits", None, "options.frac_bits", |f| {
            f.options.frac_bits = 70
        }),
        ("clamp", None, "profile.act_clamp", |f| {
            f.profile.act_clamp = (0, 0)
        }),
        ("eps", None, "profile.eps_act", |f| {
            f.profile.eps_act = f32::NAN
        }),
        ("no inputs", None, "n_in", |f| f.n_in = 0),
    ];

    #[test]
    fn lowered_firmware_of_every_kind_is_valid() {
        for mode in Mode::ALL {
            let fw = every_kind_fw(mode);
            let kinds: Vec<&str> = fw
                .layers
                .iter()
                .map(|l| match l.kind {
                    FwKind::Affine(_) => "affine",
                    FwKind::Ternary(_) => "ternary",
                    FwKind::Dense(_) => "dense",
                })
                .collect();
            assert_eq!(kinds, ["affine", "ternary", "affine", "dense"], "{mode}");
            assert_eq!(validate(&fw), Ok(()), "{mode}");
        }
    }

    /// Each edit is refused, naming the layer (index and name) and the field.
    #[test]
    fn every_mutation_is_refused_naming_layer_and_field() {
        for mode in Mode::ALL {
            for (what, layer, field, edit) in MUTATIONS {
                let mut fw = every_kind_fw(mode);
                edit(&mut fw);
                let e = validate(&fw).expect_err(&format!("{mode}: {what} accepted"));
                let want_layer = layer.map(|i| (i, fw.layers[i].name.clone()));
                assert_eq!(e.layer, want_layer, "{mode}: {what}: {e}");
                assert!(e.field.starts_with(field), "{mode}: {what}: field of {e}");
                if let Some((i, name)) = &want_layer {
                    assert!(
                        e.to_string().starts_with(&format!("layer #{i} '{name}', ")),
                        "{e}"
                    );
                }
            }
        }
    }

    /// Static-mode quantizer fields.
    #[test]
    fn static_quantizer_fields_are_checked() {
        let mut fw = every_kind_fw(Mode::Static);
        if let Quantizer::Static { recip_frac, .. } = &mut ternary(&mut fw).quant {
            *recip_frac = 80;
        }
        assert_eq!(validate(&fw).unwrap_err().field, "quant.recip_frac");
        let mut fw = every_kind_fw(Mode::Static);
        if let Quantizer::Static { m_cal, .. } = &mut ternary(&mut fw).quant {
            *m_cal = -1.0;
        }
        assert_eq!(validate(&fw).unwrap_err().field, "quant.m_cal");
        // Found by tests/fuzz_replay.rs: a negative R made codes of a ReLU output negative,
        // outside the range derived for non-negative inputs.
        let mut fw = every_kind_fw(Mode::Static);
        if let Quantizer::Static { recip, .. } = &mut ternary(&mut fw).quant {
            *recip = -1;
        }
        assert_eq!(validate(&fw).unwrap_err().field, "quant.recip");
        // Found by fuzzing (edit_firmware): recip_frac -32 shifted V·R left past 64 bits, the
        // emulators wrapped differently.
        let mut fw = every_kind_fw(Mode::Static);
        if let Quantizer::Static { recip_frac, .. } = &mut ternary(&mut fw).quant {
            *recip_frac = -32;
        }
        assert_eq!(validate(&fw).unwrap_err().field, "quant.recip_frac");
    }

    /// Dynamic-mode quantizer fields: M's floor (divides), its type, the guard bits.
    #[test]
    fn dynamic_quantizer_fields_are_checked() {
        type Edit = fn(&mut Quantizer);
        let edits: [(Mode, &str, Edit); 5] = [
            (Mode::Dynamic, "quant.m_floor", |q| {
                if let Quantizer::Dynamic { m_floor, .. } = q {
                    *m_floor = 0
                }
            }),
            (Mode::Dynamic, "quant.m_type", |q| {
                if let Quantizer::Dynamic { m_type, .. } = q {
                    m_type.width = 2
                }
            }),
            (Mode::Dynamic, "quant.guard", |q| {
                if let Quantizer::Dynamic { guard, .. } = q {
                    *guard = 61
                }
            }),
            (Mode::Dynamic, "quant.prod_type", |q| {
                if let Quantizer::Dynamic { prod_type, .. } = q {
                    prod_type.width -= 1
                }
            }),
            (Mode::DynamicPow2, "quant.e_max", |q| {
                if let Quantizer::Pow2 { e_max, .. } = q {
                    *e_max = 0
                }
            }),
        ];
        for (mode, field, edit) in edits {
            let mut fw = every_kind_fw(mode);
            edit(&mut ternary(&mut fw).quant);
            let e = validate(&fw).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    /// The in-layer-norm stages: a schneiderkamp firmware validates in every mode, and each
    /// edit of its centring stage or dequantization kind is refused by field.
    #[test]
    fn norm_profile_stages_are_checked() {
        for mode in Mode::ALL {
            let mut model = crate::testutil::random_mlp(&[5, 6, 3], 8, true);
            model.profile = Profile::named(ProfileName::Schneiderkamp);
            let cal =
                crate::pass::calibrate::calibrate(&model, &crate::testutil::gaussian(64 * 5, 3));
            let loaded = Loaded {
                model,
                origin: ArchOrigin::Inferred,
                notes: vec![],
                task: Default::default(),
            };
            let fw = lower_for(&loaded, &FwOptions::default(), mode, Some(&cal)).unwrap();
            validate(&fw).unwrap();
            let edits: [(&str, fn(&mut TernaryFw)); 4] = [
                ("center", |t| t.center = None),
                ("dequant", |t| t.dequant = Dequant::InputUnits),
                ("center.u_type", |t| {
                    t.center.as_mut().unwrap().u_type.width -= 1;
                }),
                ("center.sum_type", |t| {
                    t.center.as_mut().unwrap().sum_type.width = 1;
                }),
            ];
            for (field, edit) in edits {
                let mut bad = fw.clone();
                let FwKind::Ternary(t) = &mut bad.layers[0].kind else {
                    panic!("layer 0 is ternary")
                };
                edit(t);
                let e = validate(&bad).unwrap_err().to_string();
                assert!(e.contains(&format!("{field}:")), "{mode} {field}: {e}");
            }
        }
    }
}
