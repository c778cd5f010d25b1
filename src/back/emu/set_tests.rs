//! Property tests of particle-level firmware: random `Φ` / `F` chains ([`super::problem`])
//! around a random pool, random jets (empty, single-particle, full, random masks, saturating
//! features; a third of the models concatenate 1–2 per-jet inputs after the pool). Checks, per
//! mode: the fast set emulator equals the reference composition bit for
//! bit; every intermediate (each particle's `Φ`, the pool, `F`) stays inside its proven range;
//! padded slots holding junk change nothing.

use super::problem::{build, problem, run_counted, Problem};
use super::set::SetEmulator;
use crate::ir::firmware::Mode;
use crate::ir::fixed::FixedType;
use crate::ir::set::{PoolKind, SetFirmware, SetModel};
use crate::pass::set::calibrate_set;
use crate::pipeline::{lower_set_for, FwOptions};
use crate::reference::fixed::Emulator;
use crate::reference::set::{concat_codes, pool_codes, run, SetReference};
use crate::synthetic::Rng;
use proptest::prelude::*;

/// A set model from a problem: `Φ` = the problem's chain, `F` = a second chain on its outputs.
fn set_of(p: &Problem) -> SetModel {
    let phi = build(p);
    let l = *p.widths.last().expect("widths");
    let g = (p.seed / 3 % 3) as usize;
    let rho_p = Problem {
        widths: vec![l + g, 1 + (p.seed % 7) as usize, 2],
        seed: p.seed ^ 0x5eed,
        dense_first: false,
        ..p.clone()
    };
    let mut rho = build(&rho_p);
    rho.profile = phi.profile.clone();
    SetModel {
        name: "set".into(),
        profile: phi.profile.clone(),
        particles: 1 + (p.seed % 9) as usize,
        features: p.widths[0],
        phi,
        pool: match p.seed % 3 {
            0 => PoolKind::Sum,
            1 => PoolKind::Max,
            _ => PoolKind::Mean,
        },
        jet_features: g,
        rho,
        input_type: None,
    }
}

/// `jets` jets: the first empty, the second one particle, the third full with saturating
/// features (and jet inputs), then random masks; padded slots hold 0. Returns `x`, `mask`
/// and the per-jet inputs.
fn jets_of(s: &SetModel, jets: usize, seed: u64) -> (Vec<f32>, Vec<u8>, Vec<f32>) {
    let (n, f, g) = (s.particles, s.features, s.jet_features);
    let mut r = Rng(seed);
    let mut x = vec![0f32; jets * n * f];
    let mut mask = vec![0u8; jets * n];
    let jet: Vec<f32> = (0..jets * g)
        .map(|i| match (i / g.max(1), i % 2) {
            (2, 0) => 1e6,
            (2, _) => -1e6,
            _ => (r.normal() * 3.0) as f32,
        })
        .collect();
    for j in 0..jets {
        let real = match j {
            0 => 0,
            1 => 1,
            2 => n,
            _ => (r.uniform() * (n + 1) as f64) as usize,
        };
        for i in 0..real.min(n) {
            mask[j * n + i] = 1;
            for k in 0..f {
                x[(j * n + i) * f + k] = if j == 2 {
                    if k % 2 == 0 {
                        1e6
                    } else {
                        -1e6
                    }
                } else {
                    (r.normal() * 2.0) as f32
                };
            }
        }
    }
    (x, mask, jet)
}

/// Runs every jet through the range-checked reference; panics naming the stage that left its
/// range.
fn check_ranges(fw: &SetFirmware, x: &[f32], mask: &[u8], jet: &[f32]) {
    let (phi, rho) = (Emulator::new(&fw.phi), Emulator::new(&fw.rho));
    let (n, f, l, g) = (fw.pool.n, fw.phi.n_in, fw.phi.n_out, fw.jet_features());
    for (j, (xj, mj)) in x.chunks(n * f).zip(mask.chunks(n)).enumerate() {
        let mut out = vec![0i64; n * l];
        let mut codes = vec![0i64; f];
        for i in 0..n {
            phi.quantize_input(&xj[i * f..(i + 1) * f], &mut codes);
            phi.run_checked(&codes, &mut out[i * l..(i + 1) * l], None)
                .unwrap_or_else(|e| panic!("Φ out of range: {e:?}"));
        }
        let mut pooled = vec![0i64; l];
        pool_codes(&fw.pool, &out, mj, &mut pooled);
        for (v, r) in pooled.iter().zip(&fw.pool.out_ranges) {
            assert!(
                r.lo <= *v as i128 && (*v as i128) <= r.hi,
                "pool {v} outside {r:?}"
            );
        }
        assert!(pooled.iter().all(|v| {
            let t: FixedType = fw.pool.out_type;
            t.min_code() <= *v as i128 && (*v as i128) <= t.max_code()
        }));
        let mut input = vec![0i64; fw.rho.n_in];
        concat_codes(
            fw.jet.as_ref(),
            &pooled,
            &jet[j * g..(j + 1) * g],
            &mut input,
        );
        let t = fw.rho_input_type();
        assert!(input
            .iter()
            .all(|v| t.min_code() <= *v as i128 && (*v as i128) <= t.max_code()));
        let mut y = vec![0i64; fw.rho.n_out];
        rho.run_checked(&input, &mut y, None)
            .unwrap_or_else(|e| panic!("F out of range: {e:?}"));
    }
}

#[test]
fn set_firmware_is_exact_in_range_and_ignores_padding() {
    // Firmware pooled straight from the lane kernels (else from `Φ`'s codes; both compared).
    let lanes = std::sync::atomic::AtomicUsize::new(0);
    run_counted(
        "proptest-regressions/back/emu/set_tests.txt",
        160,
        problem(12, 16),
        0.8,
        |p, tally| {
            let set = set_of(&p);
            // Every fourth problem runs more jets than one task of the set emulator holds.
            let jets = if p.seed % 4 == 0 {
                2 * super::set::JETS_PER_TASK + 37
            } else {
                40
            };
            let (x, mask, jet) = jets_of(&set, jets, p.seed ^ 7);
            let cal = calibrate_set(&set, &x, &mask, &jet);
            let args = FwOptions {
                input_type: Some(format!("ap_fixed<{},{}>", p.in_width, p.in_int)),
                frac_bits: p.frac_bits,
                calib_quantile: 1.0,
                ..FwOptions::default()
            };
            // Junk in every padded slot.
            let junk: Vec<f32> = x
                .chunks(set.features)
                .zip(&mask)
                .flat_map(|(v, m)| {
                    v.iter()
                        .map(move |a| if *m == 0 { 3.5e3 } else { *a })
                        .collect::<Vec<_>>()
                })
                .collect();
            for mode in Mode::ALL {
                let Ok(fw) = lower_set_for(&set, &args, mode, Some(&cal)) else {
                    tally.skipped();
                    continue;
                };
                tally.ran();
                let emu = SetEmulator::new(&fw);
                if emu.pools_in_lanes() {
                    lanes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let fast = emu.run_batch(&x, &mask, &jet);
                prop_assert_eq!(
                    &SetEmulator::pooling_codes(&fw).run_batch(&x, &mask, &jet),
                    &fast
                );
                let o = fw.n_out();
                let (nf, g) = (set.jet_len(), set.jet_features);
                let reference = SetReference::new(&fw);
                for (j, (xj, mj)) in x.chunks(nf).zip(mask.chunks(set.particles)).enumerate() {
                    prop_assert_eq!(
                        &fast[j * o..(j + 1) * o],
                        &reference.run(xj, mj, &jet[j * g..(j + 1) * g])[..],
                        "jet {} {}",
                        j,
                        mode
                    );
                }
                check_ranges(&fw, &x, &mask, &jet);
                prop_assert_eq!(&SetEmulator::new(&fw).run_batch(&junk, &mask, &jet), &fast);
            }
            Ok(())
        },
    );
    assert!(lanes.into_inner() > 0);
}

/// The netlist of set firmware ([`crate::hw::build::build_set`]; sum, or max over a `Φ` with
/// or without a final ReLU) computes the reference's integers, every node inside its interval, on the
/// same random problems and jets (padded slots holding junk).
#[test]
fn set_netlist_equals_the_reference() {
    use crate::hw::eval::eval;
    use crate::hw::schedule::PipelineOptions;
    use crate::hw::Design;
    run_counted(
        "proptest-regressions/back/emu/set_netlist.txt",
        64,
        problem(8, 14),
        0.8,
        |p, tally| {
            let mut set = set_of(&p);
            if set.pool == PoolKind::Max && p.seed % 4 == 1 {
                // Half the max pools over a Φ ending with a ReLU (no offset), half over a Φ
                // whose outputs can be negative (the offset domain of `max_offset`).
                set.phi.layers.push(crate::ir::Layer {
                    name: "relu_out".into(),
                    kind: crate::ir::LayerKind::Relu,
                });
            }
            set.particles = set.particles.min(5);
            let (mut x, mask, jet) = jets_of(&set, 12, p.seed ^ 9);
            for (v, m) in x.chunks_mut(set.features).zip(&mask) {
                if *m == 0 {
                    v.fill(-7.25);
                }
            }
            let cal = calibrate_set(&set, &x, &mask, &jet);
            let args = FwOptions {
                input_type: Some(format!("ap_fixed<{},{}>", p.in_width, p.in_int)),
                frac_bits: p.frac_bits,
                calib_quantile: 1.0,
                ..FwOptions::default()
            };
            for mode in Mode::ALL {
                let Ok(fw) = lower_set_for(&set, &args, mode, Some(&cal)) else {
                    tally.skipped();
                    continue;
                };
                tally.ran();
                let po = PipelineOptions {
                    adders_per_stage: 4,
                    adders: Default::default(),
                    const_mul: Default::default(),
                };
                let d = Design::for_set(&fw, po);
                let phi = Emulator::new(&fw.phi);
                let (n, f, g) = (set.particles, set.features, set.jet_features);
                for (j, (xj, mj)) in x.chunks(n * f).zip(mask.chunks(n)).enumerate() {
                    let vj = &jet[j * g..(j + 1) * g];
                    let mut inp = vec![0i64; n * f];
                    for i in 0..n {
                        phi.quantize_input(&xj[i * f..(i + 1) * f], &mut inp[i * f..(i + 1) * f]);
                    }
                    inp.extend(mj.iter().map(|&m| m as i64));
                    let mut jc = vec![0i64; g];
                    phi.quantize_input(vj, &mut jc);
                    inp.extend(jc);
                    let v = eval(&d.netlist, &inp)
                        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                    let got: Vec<i64> = d
                        .netlist
                        .outputs
                        .iter()
                        .map(|s| v[s.0 as usize] as i64)
                        .collect();
                    prop_assert_eq!(got, run(&fw, xj, mj, vj), "{}", mode);
                }
            }
            Ok(())
        },
    );
}
