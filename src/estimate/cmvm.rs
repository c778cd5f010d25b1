//! Random ternary layers as stand-alone designs (the estimator's calibration set).
//!
//! `y = W·x` for a seeded random ternary `W` (`n_out × n_in`, a given share of zeros, ±1
//! equally likely otherwise) on signed `bits`-bit inputs: exactly the add/subtract trees a
//! ternary layer of the Verilog backend contains, without quantizer and dequantization.

use crate::hw::build::accumulate;
use crate::hw::netlist::{Class, Netlist, Sig};
use crate::ir::fixed::Interval;
use crate::ir::Matrix;
use crate::target::AdderOptions;

/// Seeded random ternary matrix (SplitMix64; independent of any library's RNG).
pub fn random_ternary(n_out: usize, n_in: usize, zeros: f64, seed: u64) -> Matrix<i8> {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let data = (0..n_out * n_in)
        .map(|_| {
            let u = next();
            if u < zeros {
                0
            } else if u < zeros + (1.0 - zeros) / 2.0 {
                1
            } else {
                -1
            }
        })
        .collect();
    Matrix::new(n_out, n_in, data)
}

/// The netlist of `y = W·x` on signed `bits`-bit inputs (plain trees or shared adders, as
/// `adders` says); outputs at the widest output's width.
pub fn cmvm_netlist(w: &Matrix<i8>, bits: u32, adders: AdderOptions) -> Netlist {
    let iv = Interval::new(-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    cmvm_netlist_on(w, iv, adders)
}

/// As [`cmvm_netlist`], for inputs in `iv`.
pub fn cmvm_netlist_on(w: &Matrix<i8>, iv: Interval, adders: AdderOptions) -> Netlist {
    let mut nl = Netlist::default();
    nl.cur_class = Some(Class::Io);
    let x: Vec<Sig> = (0..w.cols).map(|k| nl.input(k, iv)).collect();
    nl.cur_class = Some(Class::TernaryAdder);
    let outs = accumulate(&mut nl, w, &x, adders);
    let ow = outs.iter().map(|s| nl.node(*s).width).max().unwrap_or(1);
    nl.out_signed = outs.iter().any(|s| nl.node(*s).signed);
    nl.out_width = ow
        + u32::from(
            nl.out_signed
                && outs
                    .iter()
                    .any(|s| !nl.node(*s).signed && nl.node(*s).width == ow),
        );
    nl.outputs = outs;
    nl
}
