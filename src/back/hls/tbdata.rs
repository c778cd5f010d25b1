//! Test-bench data: `tb_data/tb_input_features.dat` (f32 inputs, round-trip text) and
//! `tb_data/tb_output_predictions.dat` (the emulator's outputs as exact decimals).
//!
//! One sample per line, values separated by single spaces. Inputs are printed with Rust's
//! shortest round-trip f32 formatting, so `strtof` in the test bench reads the same f32.
//! Outputs `c · 2^-F` are printed exactly (every binary fraction has a finite decimal
//! expansion); the test bench prints its results with the same algorithm.

use crate::io::particles::Jets;
use crate::ir::firmware::Firmware;
use crate::ir::set::SetFirmware;
use crate::reference::fixed::Emulator;
use std::fmt::Write;

/// The exact decimal text of `code · 2^-frac` (`0 ≤ frac ≤ 58`): no exponent, no trailing zeros.
pub fn exact_decimal(code: i64, frac: i32) -> String {
    let mut s = String::new();
    if code < 0 {
        s.push('-');
    }
    let a = code.unsigned_abs();
    if frac <= 0 {
        let _ = write!(s, "{}", (a as u128) << (-frac) as u32);
        return s;
    }
    let f = frac as u32;
    let _ = write!(s, "{}", a >> f);
    let mut rem = a & ((1u64 << f) - 1);
    if rem != 0 {
        s.push('.');
        while rem != 0 {
            rem *= 10;
            s.push(char::from(b'0' + (rem >> f) as u8));
            rem &= (1u64 << f) - 1;
        }
    }
    s
}

/// Input lines: `n` samples of `k` values.
pub fn input_text(x: &[f32], k: usize) -> String {
    let mut s = String::with_capacity(x.len() * 12);
    for row in x.chunks(k) {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{v}");
        }
        s.push('\n');
    }
    s
}

/// Expected-output lines for inputs `x`, from the bit-exact emulator.
pub fn predictions_text(fw: &Firmware, x: &[f32]) -> String {
    let emu = Emulator::new(fw);
    let codes = emu.run_batch(x);
    let frac = fw.output_type().frac;
    let mut s = String::with_capacity(codes.len() * 10);
    for row in codes.chunks(fw.n_out.max(1)) {
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&exact_decimal(*c, frac));
        }
        s.push('\n');
    }
    s
}

/// Mask lines: `n` values 0 or 1 per jet.
pub fn mask_text(mask: &[u8], n: usize) -> String {
    let mut s = String::with_capacity(mask.len() * 2);
    for row in mask.chunks(n.max(1)) {
        let bits: Vec<&str> = row
            .iter()
            .map(|&m| if m != 0 { "1" } else { "0" })
            .collect();
        s.push_str(&bits.join(" "));
        s.push('\n');
    }
    s
}

/// Expected-output lines of the jets `tb`, from the reference
/// ([`crate::reference::set::SetReference`]).
pub fn set_predictions_text(fw: &SetFirmware, tb: &Jets) -> String {
    let reference = crate::reference::set::SetReference::new(fw);
    let frac = fw.output_type().frac;
    let mut s = String::new();
    for j in 0..tb.jets {
        let (x, mask, jet) = tb.get(j);
        let codes = reference.run(x, mask, jet);
        let text: Vec<String> = codes.iter().map(|c| exact_decimal(*c, frac)).collect();
        s.push_str(&text.join(" "));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(exact_decimal(0, 12), "0");
        assert_eq!(exact_decimal(4096, 12), "1");
        assert_eq!(exact_decimal(-1, 1), "-0.5");
        assert_eq!(exact_decimal(3, 2), "0.75");
        assert_eq!(exact_decimal(1, 12), "0.000244140625");
        assert_eq!(exact_decimal(5, -2), "20");
    }

    proptest! {
        #[test]
        fn parses_back_exactly(c in -(1i64 << 52)..(1i64 << 52), f in 0i32..40) {
            let s = exact_decimal(c, f);
            let v: f64 = s.parse().unwrap();
            prop_assert_eq!(v, c as f64 * (2f64).powi(-f));
        }
    }
}
