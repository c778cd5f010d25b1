//! Float master weights → ternary codes and β, exactly as the profile's PyTorch code does it.

use crate::ir::profile::{Profile, WeightDiv, WeightQuant};
use crate::ir::Matrix;

/// Result of ternarizing one weight tensor.
pub struct Ternarized {
    pub codes: Matrix<i8>,
    pub beta: f32,
    /// Weights whose `|W/β|` lies within 1e-5 (relative) of 0.5 or 1.5: a 1-ulp difference in β
    /// (PyTorch's own reduction order) could flip them.
    pub tie_fragile: usize,
}

/// Ternarizes `w` as the profile's PyTorch code does ([`WeightQuant`]).
///
/// Means are accumulated in f64 and rounded once to f32 (the correctly rounded mean); PyTorch's
/// vectorized f32 reduction can differ by 1 ulp (reference §9), which is why exported codes are
/// preferred when a file has them. The median is PyTorch's `median()`: the lower middle element.
pub fn ternarize(w: &Matrix<f32>, profile: &Profile) -> Ternarized {
    match profile.weight_quant {
        WeightQuant::AbsMeanTernary => {
            let beta = abs_mean(&w.data).max(profile.eps_w);
            round_codes(w, beta, profile)
        }
        WeightQuant::AbsMedianTernary => {
            let mut a: Vec<f32> = w.data.iter().map(|v| v.abs()).collect();
            let mid = (a.len().max(1) - 1) / 2;
            let med = if a.is_empty() {
                0.0
            } else {
                *a.select_nth_unstable_by(mid, f32::total_cmp).1
            };
            round_codes(w, med.max(profile.eps_w), profile)
        }
        WeightQuant::SignBinary => sign_codes(w),
    }
}

fn abs_mean(w: &[f32]) -> f32 {
    (w.iter().map(|v| v.abs() as f64).sum::<f64>() / w.len().max(1) as f64) as f32
}

/// `codes = clamp(round_half_even(W / β), -1, 1)` (or `W·(1/β)`).
fn round_codes(w: &Matrix<f32>, beta: f32, profile: &Profile) -> Ternarized {
    let inv = 1.0f32 / beta;
    let mut tie_fragile = 0;
    let codes = w
        .data
        .iter()
        .map(|&v| {
            let r = match profile.weight_div {
                WeightDiv::Divide => v / beta,
                WeightDiv::MulReciprocal => v * inv,
            };
            let a = r.abs();
            if (a - 0.5).abs() <= 0.5e-5 || (a - 1.5).abs() <= 1.5e-5 {
                tie_fragile += 1;
            }
            r.round_ties_even().clamp(-1.0, 1.0) as i8
        })
        .collect();
    Ternarized {
        codes: Matrix::new(w.rows, w.cols, codes),
        beta,
        tie_fragile,
    }
}

/// kyegomez `weight_quant`: `sign(W − mean W)` times `β = mean|W|` (no eps). `W − e` is exactly 0
/// in f32 only when `W == e`, so a 0 code needs a weight equal to the f32 mean; weights within
/// 1e-6 (relative) of the mean are counted as fragile (PyTorch's mean may differ by an ulp).
fn sign_codes(w: &Matrix<f32>) -> Ternarized {
    let n = w.data.len().max(1) as f64;
    let mean = (w.data.iter().map(|&v| v as f64).sum::<f64>() / n) as f32;
    let mut tie_fragile = 0;
    let codes = w
        .data
        .iter()
        .map(|&v| {
            if (v - mean).abs() <= 1e-6 * mean.abs().max(f32::MIN_POSITIVE) {
                tie_fragile += 1;
            }
            match (v - mean).partial_cmp(&0.0) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            }
        })
        .collect();
    Ternarized {
        codes: Matrix::new(w.rows, w.cols, codes),
        beta: abs_mean(&w.data),
        tie_fragile,
    }
}

/// Decodes the Hugging Face bitnet packed layout (reference §3.2): `packed` is `[ceil(out/4), in]`,
/// byte `P[r][c]` holds `W[i·R + r][c] + 1` in bits `2i+1:2i`. Code 3 is invalid.
/// Returns `Err((row, col))` of the first invalid code.
pub fn unpack_hf(
    packed: &[u8],
    packed_rows: usize,
    cols: usize,
    out: usize,
) -> Result<Matrix<i8>, (usize, usize)> {
    let mut codes = vec![0i8; out * cols];
    for i in 0..4 {
        for r in 0..packed_rows {
            let row = i * packed_rows + r;
            for c in 0..cols {
                let code = (packed[r * cols + c] >> (2 * i)) & 3;
                if code == 3 {
                    return Err((row, c));
                }
                if row < out {
                    codes[row * cols + c] = code as i8 - 1;
                }
            }
        }
    }
    Ok(Matrix::new(out, cols, codes))
}

/// Inverse of [`unpack_hf`] (padding rows encode 0).
pub fn pack_hf(codes: &Matrix<i8>) -> (Vec<u8>, usize) {
    let rows = codes.rows.div_ceil(4);
    let mut packed = vec![0u8; rows * codes.cols];
    for i in 0..4 {
        for r in 0..rows {
            let row = i * rows + r;
            for c in 0..codes.cols {
                let v = if row < codes.rows {
                    codes.at(row, c)
                } else {
                    0
                };
                packed[r * codes.cols + c] |= ((v + 1) as u8) << (2 * i);
            }
        }
    }
    (packed, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Profile, ProfileName};
    use proptest::prelude::*;

    #[test]
    fn hf_docstring_example() {
        // P[0][0] = 0b10_10_00_01 decodes to rows 0, R, 2R, 3R = 0, -1, +1, +1 (R = 1).
        let m = unpack_hf(&[0b10_10_00_01], 1, 1, 4).unwrap();
        assert_eq!(m.data, vec![0, -1, 1, 1]);
        assert_eq!(unpack_hf(&[0b11], 1, 1, 4).unwrap_err(), (0, 0));
    }

    #[test]
    fn ternarize_rounds_half_to_even_and_clamps() {
        // mean|W| = 1; W/β = [0.5, 1.5, -2.5, 3.0] -> [0, 1 (clamped 2), -1, 1]
        let w = Matrix::new(1, 4, vec![0.5f32, 1.5, -2.5, 0.0]);
        let p = Profile::named(ProfileName::Bithep);
        let t = ternarize(&w, &p);
        assert_eq!(t.beta, 1.125);
        let w = Matrix::new(1, 4, vec![0.5f32, 1.5, -1.0, 1.0]);
        let t = ternarize(&w, &p);
        assert_eq!(t.beta, 1.0);
        assert_eq!(t.codes.data, vec![0, 1, -1, 1]);
    }

    #[test]
    fn median_is_the_lower_middle_and_sign_codes_centre_on_the_mean() {
        // |W| sorted = [0.1, 0.2, 0.4, 0.8]: PyTorch's median() is the lower middle, 0.2.
        let w = Matrix::new(1, 4, vec![0.8f32, -0.1, 0.2, -0.4]);
        let t = ternarize(&w, &Profile::named(ProfileName::Schneiderkamp));
        assert_eq!(t.beta, 0.2);
        // W·(1/β) = [4, -0.5, 1, -2] -> [1, -0 (half to even), 1, -1]
        assert_eq!(t.codes.data, vec![1, 0, 1, -1]);
        // mean W = 0.125, mean|W| = 0.375: sign(W - 0.125) = [1, -1, 1, -1]; W = mean gives 0.
        let t = ternarize(&w, &Profile::named(ProfileName::Kyegomez));
        assert_eq!(t.beta, 0.375);
        assert_eq!(t.codes.data, vec![1, -1, 1, -1]);
        let w = Matrix::new(1, 3, vec![1.0f32, 2.0, 3.0]);
        let t = ternarize(&w, &Profile::named(ProfileName::Kyegomez));
        assert_eq!(t.codes.data, vec![-1, 0, 1]);
    }

    proptest! {
        #[test]
        fn hf_pack_round_trips(rows in 1usize..13, cols in 1usize..9, seed in any::<u64>()) {
            let mut s = seed;
            let data: Vec<i8> = (0..rows * cols).map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % 3) as i8 - 1
            }).collect();
            let m = Matrix::new(rows, cols, data);
            let (packed, prow) = pack_hf(&m);
            prop_assert_eq!(prow, rows.div_ceil(4));
            prop_assert_eq!(unpack_hf(&packed, prow, cols, rows).unwrap(), m);
        }
    }
}
