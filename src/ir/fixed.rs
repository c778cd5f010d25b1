//! Fixed-point types, integer intervals and the rounding primitives of the firmware.
//!
//! Every firmware value is an integer `v` standing for `v · 2^-frac`. A [`FixedType`] is the
//! C++ `ap_fixed<width, width - frac>` (or `ap_ufixed`) that holds it. Widths are never chosen by
//! default: they come from an [`Interval`] that range analysis proved for the value.

use serde::Serialize;
use std::fmt;

/// Widest value the emulator (i64 with headroom) and the generated code support.
pub const MAX_WIDTH: u32 = 62;

/// A fixed-point type: `width` bits, `frac` of them fractional, two's complement when `signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FixedType {
    pub signed: bool,
    pub width: u32,
    pub frac: i32,
}

impl FixedType {
    /// Integer bits as `ap_fixed` counts them (sign bit included for signed types).
    pub fn int_bits(&self) -> i32 {
        self.width as i32 - self.frac
    }

    /// Smallest representable integer code.
    pub fn min_code(&self) -> i128 {
        if self.signed {
            -(1i128 << (self.width - 1))
        } else {
            0
        }
    }

    /// Largest representable integer code.
    pub fn max_code(&self) -> i128 {
        if self.signed {
            (1i128 << (self.width - 1)) - 1
        } else {
            (1i128 << self.width) - 1
        }
    }

    /// The narrowest type with `frac` fractional bits that holds every code of `iv`.
    pub fn fitting(iv: Interval, frac: i32) -> FixedType {
        let signed = iv.lo < 0;
        let mut width = 1u32;
        loop {
            let t = FixedType {
                signed,
                width,
                frac,
            };
            // 126 bits is the widest type whose bounds fit i128; callers refuse anything > 62.
            if width >= 126 || (t.min_code() <= iv.lo && iv.hi <= t.max_code()) {
                return t;
            }
            width += 1;
        }
    }

    /// The interval of all codes of this type.
    pub fn interval(&self) -> Interval {
        Interval {
            lo: self.min_code(),
            hi: self.max_code(),
        }
    }

    /// The C++ spelling of the type, with its quantization and overflow modes.
    pub fn cpp(&self) -> String {
        let base = if self.signed { "ap_fixed" } else { "ap_ufixed" };
        format!("{base}<{},{}>", self.width, self.int_bits())
    }

    /// Parses `ap_fixed<W,I>` / `ap_ufixed<W,I>` (optional modes after `I` are ignored).
    pub fn parse(s: &str) -> Option<FixedType> {
        let s = s.trim();
        let (signed, rest) = if let Some(r) = s.strip_prefix("ap_fixed<") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("ap_ufixed<") {
            (false, r)
        } else {
            return None;
        };
        let rest = rest.strip_suffix('>')?;
        let mut parts = rest.split(',').map(str::trim);
        let width: u32 = parts.next()?.parse().ok()?;
        let int_bits: i32 = parts.next()?.parse().ok()?;
        if width == 0 || width > 62 || (signed && width < 2) {
            return None;
        }
        Some(FixedType {
            signed,
            width,
            frac: width as i32 - int_bits,
        })
    }
}

impl fmt::Display for FixedType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cpp())
    }
}

/// A closed interval of integers, the result of range analysis. `i128` so that products of two
/// 62-bit bounds never overflow while they are being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub lo: i128,
    pub hi: i128,
}

impl Interval {
    pub fn new(lo: i128, hi: i128) -> Interval {
        debug_assert!(lo <= hi);
        Interval { lo, hi }
    }
    pub fn point(v: i128) -> Interval {
        Interval { lo: v, hi: v }
    }
    pub fn add(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo + o.lo,
            hi: self.hi + o.hi,
        }
    }
    pub fn neg(self) -> Interval {
        Interval {
            lo: -self.hi,
            hi: -self.lo,
        }
    }
    pub fn mul(self, o: Interval) -> Interval {
        let c = [
            self.lo * o.lo,
            self.lo * o.hi,
            self.hi * o.lo,
            self.hi * o.hi,
        ];
        Interval {
            lo: *c.iter().min().unwrap(),
            hi: *c.iter().max().unwrap(),
        }
    }
    pub fn union(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }
    pub fn relu(self) -> Interval {
        Interval {
            lo: self.lo.max(0),
            hi: self.hi.max(0),
        }
    }
    pub fn clamp(self, lo: i128, hi: i128) -> Interval {
        Interval {
            lo: self.lo.clamp(lo, hi),
            hi: self.hi.clamp(lo, hi),
        }
    }
    /// Rounding is monotone, so the image of an interval is the interval of the rounded ends.
    pub fn shift_round(self, s: i32) -> Interval {
        Interval {
            lo: shift_round_i128(self.lo, s),
            hi: shift_round_i128(self.hi, s),
        }
    }
    /// Largest absolute value.
    pub fn abs_max(self) -> i128 {
        self.lo.abs().max(self.hi.abs())
    }
    /// Bits of a two's-complement (or unsigned, when `lo ≥ 0`) integer holding the interval.
    pub fn bits(self) -> u32 {
        FixedType::fitting(self, 0).width
    }
}

/// `x · 2^-s` rounded to the nearest integer, ties to even; `s ≤ 0` is an exact left shift.
///
/// This is the only rounding the firmware performs (`AP_RND_CONV` in C++).
#[inline(always)]
pub fn shift_round(x: i64, s: i32) -> i64 {
    if s <= 0 {
        return x << (-s);
    }
    let q = x >> s; // floor
    let r = x - (q << s);
    let half = 1i64 << (s - 1);
    if r > half || (r == half && (q & 1) == 1) {
        q + 1
    } else {
        q
    }
}

/// [`shift_round`] on `i128`, used by range analysis.
pub fn shift_round_i128(x: i128, s: i32) -> i128 {
    if s <= 0 {
        return x << (-s);
    }
    let q = x >> s;
    let r = x - (q << s);
    let half = 1i128 << (s - 1);
    if r > half || (r == half && (q & 1) == 1) {
        q + 1
    } else {
        q
    }
}

/// Float to fixed-point code: `round_half_even(v · 2^frac)`, saturated to the type.
/// `v` must be finite (callers reject NaN/Inf first).
pub fn quantize_f64(v: f64, t: FixedType) -> i64 {
    let scaled = v * (2f64).powi(t.frac);
    let r = scaled.round_ties_even();
    let lo = t.min_code() as f64;
    let hi = t.max_code() as f64;
    r.clamp(lo, hi) as i64
}

/// Whether [`quantize_f64`] saturates `v` in type `t`.
pub fn saturates(v: f64, t: FixedType) -> bool {
    SaturationBounds::new(t).saturates(v)
}

/// Precomputed test for [`saturates`] without rounding: with ties to even, `v·2^frac` rounds
/// past the largest code (odd, `2^k − 1`) exactly when it is `≥ max + 1/2`, and below the
/// smallest (even: `−2^k` or 0) exactly when it is `< min − 1/2`.
#[derive(Clone, Copy, Debug)]
pub struct SaturationBounds {
    scale: f64,
    lo: f64,
    hi: f64,
}

impl SaturationBounds {
    pub fn new(t: FixedType) -> SaturationBounds {
        SaturationBounds {
            scale: (2f64).powi(t.frac),
            lo: t.min_code() as f64 - 0.5,
            hi: t.max_code() as f64 + 0.5,
        }
    }
    #[inline(always)]
    pub fn saturates(&self, v: f64) -> bool {
        let s = v * self.scale;
        s < self.lo || s >= self.hi
    }
}

/// Quantizes a real constant to `frac` fractional bits (round half to even), exactly.
pub fn const_code(v: f64, frac: i32) -> i64 {
    (v * (2f64).powi(frac)).round_ties_even() as i64
}

/// The fractional bits that give the largest `|c|` of `consts` a magnitude in `[2^(bits-2), 2^(bits-1))`
/// — i.e. `bits`-bit signed constants with full precision. Zero constants get 0.
pub fn const_frac(consts: impl IntoIterator<Item = f64>, bits: u32) -> i32 {
    let max = consts.into_iter().fold(0f64, |a, c| a.max(c.abs()));
    if max == 0.0 {
        return 0;
    }
    let e = max.log2().floor() as i32;
    let mut frac = bits as i32 - 2 - e;
    // Guard against rounding the top constant up to 2^(bits-1).
    while const_code(max, frac) >= 1i64 << (bits - 1) {
        frac -= 1;
    }
    frac
}

/// Number of bits of `m ≥ 1`: the `e` with `2^(e-1) ≤ m < 2^e` (leading-one position + 1).
#[inline(always)]
pub fn bit_length(m: i64) -> i32 {
    debug_assert!(m >= 1);
    64 - (m as u64).leading_zeros() as i32
}

/// Smallest `e ≥ 0` with `2^e ≥ m` (`m ≥ 1`).
#[inline(always)]
pub fn ceil_log2(m: i64) -> i32 {
    debug_assert!(m >= 1);
    if m <= 1 {
        0
    } else {
        64 - ((m - 1) as u64).leading_zeros() as i32
    }
}

/// The non-zero canonical-signed-digit (non-adjacent form) digits of `c` as `(k, positive)`:
/// `c = Σ ±2^k`, lowest `k` first, no two adjacent; the fewest non-zero digits of any signed
/// binary form. Empty for 0.
pub fn csd_digits(c: i64) -> Vec<(u32, bool)> {
    let mut v = c as i128;
    let mut out = Vec::new();
    let mut k = 0u32;
    while v != 0 {
        if v & 1 != 0 {
            // Digit ±1 chosen so that the remaining value is divisible by 4.
            let d: i128 = if v & 3 == 3 { -1 } else { 1 };
            out.push((k, d > 0));
            v -= d;
        }
        v >>= 1;
        k += 1;
    }
    out
}

/// `v` rounded to at most `digits` non-zero signed digits, greedily: `digits` times, add the
/// signed power of two nearest to the remainder (the smaller one on a tie). The result's
/// canonical signed digits number at most `digits`; `digits = 0` gives 0.
pub fn csd_round(v: i64, digits: u32) -> i64 {
    let mut a = 0i128;
    for _ in 0..digits {
        let r = v as i128 - a;
        if r == 0 {
            break;
        }
        let m = r.unsigned_abs();
        let lo = 1u128 << (127 - m.leading_zeros());
        let p = if m - lo <= (lo << 1) - m { lo } else { lo << 1 } as i128;
        a += if r > 0 { p } else { -p };
    }
    a as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_go_to_even() {
        assert_eq!(shift_round(1, 1), 0); // 0.5 -> 0
        assert_eq!(shift_round(3, 1), 2); // 1.5 -> 2
        assert_eq!(shift_round(5, 1), 2); // 2.5 -> 2
        assert_eq!(shift_round(-1, 1), 0); // -0.5 -> 0
        assert_eq!(shift_round(-3, 1), -2); // -1.5 -> -2
        assert_eq!(shift_round(-5, 1), -2);
        assert_eq!(shift_round(6, 2), 2); // 1.5 -> 2
        assert_eq!(shift_round(7, 2), 2); // 1.75 -> 2
        assert_eq!(shift_round(5, 2), 1); // 1.25 -> 1
        assert_eq!(shift_round(3, -2), 12);
    }

    #[test]
    fn type_parse_and_fit() {
        let t = FixedType::parse("ap_fixed<16,6>").unwrap();
        assert_eq!(
            t,
            FixedType {
                signed: true,
                width: 16,
                frac: 10
            }
        );
        assert_eq!(t.cpp(), "ap_fixed<16,6>");
        assert_eq!(FixedType::fitting(Interval::new(-128, 127), 0).width, 8);
        assert_eq!(FixedType::fitting(Interval::new(-129, 127), 0).width, 9);
        assert_eq!(
            FixedType::fitting(Interval::new(0, 255), 0),
            FixedType {
                signed: false,
                width: 8,
                frac: 0
            }
        );
        assert!(FixedType::parse("ap_fixed<0,0>").is_none());
        assert!(FixedType::parse("float").is_none());
    }

    proptest! {
        /// shift_round equals round_ties_even of the exact quotient (checked in f64 where exact).
        #[test]
        fn shift_round_matches_float(x in -(1i64 << 40)..(1i64 << 40), s in 0i32..12) {
            let exact = (x as f64) / (2f64).powi(s);
            prop_assert_eq!(shift_round(x, s), exact.round_ties_even() as i64);
        }

        #[test]
        fn quantize_is_rhe_and_saturating(v in -100.0f64..100.0, w in 4u32..20, i in 1i32..8) {
            let t = FixedType { signed: true, width: w, frac: w as i32 - i };
            let c = quantize_f64(v, t) as i128;
            prop_assert!(c >= t.min_code() && c <= t.max_code());
            if !saturates(v, t) {
                prop_assert_eq!(c as f64, (v * (2f64).powi(t.frac)).round_ties_even());
            }
        }

        #[test]
        fn saturation_bounds_agree_with_rounding(v in -300.0f64..300.0, w in 2u32..20, i in -2i32..10, signed in any::<bool>(), half in any::<bool>()) {
            let t = FixedType { signed: signed || w < 2, width: w, frac: w as i32 - i };
            // Also probe the exact half-way points around the range ends.
            let v = if half { (v.round() + 0.5) * (2f64).powi(-t.frac) } else { v };
            let r = (v * (2f64).powi(t.frac)).round_ties_even();
            let direct = r < t.min_code() as f64 || r > t.max_code() as f64;
            prop_assert_eq!(saturates(v, t), direct);
        }

        #[test]
        fn ceil_log2_is_tight(m in 1i64..(1i64 << 50)) {
            let e = ceil_log2(m);
            prop_assert!((1i64 << e) >= m);
            prop_assert!(e == 0 || (1i64 << (e - 1)) < m);
        }

        #[test]
        fn fitting_is_minimal(lo in -100000i128..100000, len in 0i128..100000, frac in -4i32..20) {
            let iv = Interval::new(lo, lo + len);
            let t = FixedType::fitting(iv, frac);
            prop_assert!(t.min_code() <= iv.lo && iv.hi <= t.max_code());
            let smaller = FixedType { width: t.width - 1, ..t };
            prop_assert!(t.width == 1 || smaller.min_code() > iv.lo || iv.hi > smaller.max_code());
        }
    }
}
