//! Ternary weights as 2-bit lanes packed into 64-bit ROM words (resource strategy).
//!
//! Layout (docs/hls.md, "Lane layout"): the flat weight index is `i = n·n_in + k` (PyTorch
//! `[out, in]` row-major). With reuse factor `R`, ROM row `r = i mod R` holds lane
//! `j = i div R` (`block = n_in·n_out / R` lanes per row), in word `j div 32` at bits
//! `[2(j mod 32)+1 : 2(j mod 32)]`. Lane codes: `00` = 0 (skip), `01` = +1 (add),
//! `11` = −1 (subtract); `10` is never written (decoders treat it as 0). Unused high lanes of
//! the last word are 0.

use crate::ir::Matrix;

/// Lanes per 64-bit word.
pub const LANES_PER_WORD: usize = 32;

/// The packed form: `rows[r][w]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedLanes {
    pub reuse: usize,
    /// Lanes per ROM row (`n_in·n_out / reuse`).
    pub block: usize,
    /// Words per ROM row (`ceil(block / 32)`).
    pub words: usize,
    pub rows: Vec<Vec<u64>>,
}

fn code(t: i8) -> u64 {
    match t {
        1 => 0b01,
        -1 => 0b11,
        _ => 0b00,
    }
}

fn decode(bits: u64) -> i8 {
    match bits & 3 {
        0b01 => 1,
        0b11 => -1,
        _ => 0,
    }
}

/// Packs `w` (`[n_out][n_in]`, entries in {-1,0,1}) for reuse factor `reuse`, which must divide
/// `n_in·n_out` (checked by the caller; panics otherwise).
pub fn pack(w: &Matrix<i8>, reuse: usize) -> PackedLanes {
    let total = w.rows * w.cols;
    assert!(
        reuse >= 1 && total.is_multiple_of(reuse),
        "reuse {reuse} must divide {total}"
    );
    let block = total / reuse;
    let words = block.div_ceil(LANES_PER_WORD).max(1);
    let mut rows = vec![vec![0u64; words]; reuse];
    for (i, &t) in w.data.iter().enumerate() {
        let (r, j) = (i % reuse, i / reuse);
        rows[r][j / LANES_PER_WORD] |= code(t) << (2 * (j % LANES_PER_WORD));
    }
    PackedLanes {
        reuse,
        block,
        words,
        rows,
    }
}

/// Inverse of [`pack`].
pub fn unpack(p: &PackedLanes, n_out: usize, n_in: usize) -> Matrix<i8> {
    let total = n_out * n_in;
    let data = (0..total)
        .map(|i| {
            let (r, j) = (i % p.reuse, i / p.reuse);
            decode(p.rows[r][j / LANES_PER_WORD] >> (2 * (j % LANES_PER_WORD)))
        })
        .collect();
    Matrix::new(n_out, n_in, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn divisors(n: usize) -> Vec<usize> {
        (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
    }

    proptest! {
        #[test]
        fn round_trip(n_out in 1usize..40, n_in in 1usize..70, seed in any::<u64>(), pick in any::<usize>()) {
            let mut rng = crate::testutil::Rng(seed);
            let data: Vec<i8> = (0..n_out * n_in).map(|_| (rng.next_u64() % 3) as i8 - 1).collect();
            let w = Matrix::new(n_out, n_in, data);
            let ds = divisors(n_out * n_in);
            let reuse = ds[pick % ds.len()];
            let p = pack(&w, reuse);
            prop_assert_eq!(p.rows.len(), reuse);
            prop_assert!(p.rows.iter().all(|r| r.len() == p.words));
            prop_assert_eq!(unpack(&p, n_out, n_in), w);
        }
    }

    #[test]
    fn layout_is_documented() {
        // 1x3 matrix [+1, -1, 0], reuse 1: lanes 0,1,2 in word 0.
        let p = pack(&Matrix::new(1, 3, vec![1, -1, 0]), 1);
        assert_eq!(p.rows, vec![vec![0b00_11_01]]);
        // reuse 3: one lane per row.
        let p = pack(&Matrix::new(1, 3, vec![1, -1, 0]), 3);
        assert_eq!(p.rows, vec![vec![0b01], vec![0b11], vec![0b00]]);
    }
}
