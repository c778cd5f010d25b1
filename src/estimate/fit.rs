//! Least squares for the coefficient fit of `bit2hls calibrate fit`.

/// Coefficients `c ≥ 0` minimizing `Σ ((x_i·c − y_i) / y_i)²`: features that would get a
/// negative weight are dropped (set to 0) and the fit repeated. Features that are zero on every
/// design get 0.
pub fn weighted_least_squares<const K: usize>(
    x: &[[f64; K]],
    y: &[f64],
) -> anyhow::Result<[f64; K]> {
    anyhow::ensure!(
        !x.is_empty() && x.len() == y.len(),
        "no synthesized designs to fit"
    );
    let mut active: Vec<bool> = (0..K).map(|j| x.iter().any(|r| r[j] != 0.0)).collect();
    loop {
        let idx: Vec<usize> = (0..K).filter(|&j| active[j]).collect();
        let n = idx.len();
        let mut a = vec![vec![0f64; n + 1]; n];
        for (r, &yi) in x.iter().zip(y) {
            let wgt = 1.0 / (yi.max(1.0) * yi.max(1.0));
            for (p, &jp) in idx.iter().enumerate() {
                for (q, &jq) in idx.iter().enumerate() {
                    a[p][q] += wgt * r[jp] * r[jq];
                }
                a[p][n] += wgt * r[jp] * yi;
            }
        }
        let sol = solve(a).ok_or_else(|| {
            anyhow::anyhow!("the features are linearly dependent on this design set")
        })?;
        let mut c = [0f64; K];
        let mut neg = None;
        for (p, &j) in idx.iter().enumerate() {
            c[j] = sol[p];
            if sol[p] < 0.0 && neg.is_none_or(|(_, v)| sol[p] < v) {
                neg = Some((j, sol[p]));
            }
        }
        match neg {
            Some((j, _)) => active[j] = false,
            None => return Ok(c),
        }
    }
}

/// Gaussian elimination with partial pivoting on an augmented `n × (n+1)` matrix.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = a.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        for r in 0..n {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..=n {
                    a[r][c] -= f * a[col][c];
                }
            }
        }
    }
    Some((0..n).map(|i| a[i][n] / a[i][i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_exact_coefficients() {
        let x = [[1.0, 2.0], [3.0, 1.0], [2.0, 5.0], [7.0, 1.0]];
        let y: Vec<f64> = x.iter().map(|r| 1.5 * r[0] + 0.25 * r[1]).collect();
        let c = weighted_least_squares(&x, &y).unwrap();
        assert!(
            (c[0] - 1.5).abs() < 1e-9 && (c[1] - 0.25).abs() < 1e-9,
            "{c:?}"
        );
    }

    #[test]
    fn drops_a_feature_that_would_be_negative() {
        // y depends on feature 0 only; feature 1 is anti-correlated noise.
        let x = [[1.0, 0.5], [2.0, 0.1], [3.0, 0.4], [4.0, 0.05]];
        let y = [1.0, 2.0, 3.0, 4.0];
        let c = weighted_least_squares(&x, &y).unwrap();
        assert!(c.iter().all(|v| *v >= 0.0), "{c:?}");
        assert!((c[0] - 1.0).abs() < 1e-9);
    }
}
