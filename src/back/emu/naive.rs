//! A naive wide-integer reference of docs/arithmetic.md, written independently of the fast
//! emulator: dense loops, `i128`, and rounding of rationals by exact division. Test-only.

use crate::ir::firmware::{Dequant, Firmware, FwKind, Quantizer};

/// Round half to even of the rational `a / b` (`b > 0`).
pub fn round_div(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    let r = a.rem_euclid(b); // 0 ≤ r < b
    match (2 * r).cmp(&b) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => {
            if q % 2 == 0 {
                q
            } else {
                q + 1
            }
        }
    }
}

/// `x · 2^-s` rounded half to even, any sign of `s`.
fn rnd(x: i128, s: i32) -> i128 {
    if s <= 0 {
        x * (1i128 << (-s))
    } else {
        round_div(x, 1i128 << s)
    }
}

/// Runs one sample from input codes.
pub fn run(fw: &Firmware, input: &[i64]) -> Vec<i64> {
    let mut x: Vec<i128> = input.iter().map(|&v| v as i128).collect();
    for layer in &fw.layers {
        let mut y: Vec<i128> = vec![0; layer.n_out];
        match &layer.kind {
            FwKind::Ternary(t) => {
                if t.center.is_some() {
                    let k = layer.n_in as i128;
                    let s: i128 = x.iter().sum();
                    x = x.iter().map(|v| k * v - s).collect();
                }
                let m_abs = x.iter().map(|v| v.abs()).max().unwrap_or(0);
                let (lo, hi) = (t.clamp.0 as i128, t.clamp.1 as i128);
                let q = t.qmax as i128;
                let mut codes = vec![0i128; layer.n_in];
                let mut scale_m = 1i128;
                let mut pow2_e = 0i32;
                match &t.quant {
                    Quantizer::Dynamic { m_floor, guard, .. } => {
                        let m = m_abs.max(*m_floor as i128);
                        let mut e = 0;
                        while (1i128 << e) <= m {
                            e += 1;
                        }
                        let r = (q * (1i128 << (guard + e)) + m / 2).div_euclid(m);
                        for k in 0..layer.n_in {
                            codes[k] = rnd(x[k] * r, guard + e).clamp(lo, hi);
                        }
                        scale_m = m;
                    }
                    Quantizer::Pow2 { m_floor, .. } => {
                        let m = m_abs.max(*m_floor as i128);
                        let mut e = 0;
                        while (1i128 << e) < m {
                            e += 1;
                        }
                        for k in 0..layer.n_in {
                            codes[k] = rnd(q * x[k], e).clamp(lo, hi);
                        }
                        pow2_e = e;
                    }
                    Quantizer::Static {
                        recip, recip_frac, ..
                    } => {
                        for k in 0..layer.n_in {
                            codes[k] = rnd(x[k] * *recip as i128, *recip_frac).clamp(lo, hi);
                        }
                    }
                    Quantizer::Codes { .. } => codes.copy_from_slice(&x[..layer.n_in]),
                }
                for n in 0..layer.n_out {
                    let acc: i128 = (0..layer.n_in)
                        .map(|k| t.weights.at(n, k) as i128 * codes[k])
                        .sum();
                    let (e, h) = (t.scale[n] as i128, t.bias[n] as i128);
                    y[n] = match t.dequant {
                        Dequant::Requant { lo, hi } => {
                            rnd(acc * e + h, t.shift).clamp(lo as i128, hi as i128)
                        }
                        Dequant::CodeUnits => rnd(acc * e, t.shift) + h,
                        Dequant::InputUnits | Dequant::Scaled => {
                            rnd(acc * scale_m * e, t.shift - pow2_e) + h
                        }
                    };
                }
            }
            FwKind::Dense(d) => {
                for n in 0..layer.n_out {
                    let acc: i128 = (0..layer.n_in)
                        .map(|k| d.weights.at(n, k) as i128 * x[k])
                        .sum();
                    y[n] = rnd(acc, d.shift) + d.bias[n] as i128;
                }
            }
            FwKind::Affine(a) => {
                for n in 0..layer.n_out {
                    y[n] = rnd(x[n] * a.scale[n] as i128, a.shift) + a.bias[n] as i128;
                }
            }
        }
        if layer.relu {
            for v in y.iter_mut() {
                *v = (*v).max(0);
            }
        }
        x = y;
    }
    x.iter()
        .map(|&v| i64::try_from(v).expect("output fits i64"))
        .collect()
}
