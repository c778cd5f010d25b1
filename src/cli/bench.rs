//! `bit2hls bench`: emulator throughput on random ternary MLPs.

use crate::back::emu::fast::FastEmulator;
use crate::ir::firmware::{Mode, Requant};
use crate::pipeline::FwOptions;
use crate::synthetic::random_mlp;
use clap::Args;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Layer widths of the models to run, e.g. 16-64-32-32-5 (repeatable).
    #[arg(long = "shape", default_values_t = vec!["16-64-32-32-5".to_string(), "64-256-256-256-10".to_string()])]
    pub shapes: Vec<String>,
    /// Events per timed run.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Timed repetitions (median reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Activation mode.
    #[arg(long, value_parser = super::args::choice::<Mode>(), default_value = "dynamic")]
    pub mode: Mode,
    /// Static mode: fused requantization (runs on the reference emulator) or separate.
    #[arg(long, value_parser = super::args::choice::<Requant>(), default_value = "fused")]
    pub requant: Requant,
    /// A particle-level model to time instead of the random MLPs, on the jets of --data
    /// (repeated up to --events jets).
    #[arg(long, requires = "data")]
    pub model: Option<std::path::PathBuf>,
    /// Jets for --model (.npz with x [jets, particles, features] and mask); static mode
    /// calibrates on them.
    #[arg(long, requires = "model")]
    pub data: Option<std::path::PathBuf>,
    /// Fractional bits of hidden values (as `compile --frac-bits`) [default: 12, or fewer when a
    /// value would need more than 62 bits].
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=40))]
    pub frac_bits: Option<i32>,
}

pub fn run(a: BenchArgs) -> anyhow::Result<i32> {
    if let (Some(m), Some(d)) = (&a.model, &a.data) {
        return run_set(&a, m, d);
    }
    println!("| model | mode | events | threads | events/s median | min | max |");
    println!("|---|---|---|---|---|---|---|");
    for shape in &a.shapes {
        let widths: Vec<usize> = shape
            .split('-')
            .map(|s| s.parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                anyhow::anyhow!("--shape '{shape}': expected widths like 16-64-32-32-5")
            })?;
        anyhow::ensure!(
            widths.len() >= 2 && widths.iter().all(|&w| w > 0),
            "--shape '{shape}': need ≥ 2 positive widths"
        );
        let model = random_mlp(&widths, 1234, false);
        let loaded = crate::front::Loaded {
            model,
            origin: crate::front::ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let fw_args = FwOptions {
            mode: a.mode,
            input_type: Some("ap_fixed<16,6>".into()),
            requant: a.requant,
            frac_bits: a.frac_bits.unwrap_or(12),
            frac_auto: a.frac_bits.is_none(),
            ..FwOptions::default()
        };
        let cal = if a.mode == Mode::Static {
            let xs = crate::synthetic::gaussian(4096 * widths[0], 7);
            Some(crate::pass::calibrate::calibrate(&loaded.model, &xs))
        } else {
            None
        };
        let fw = crate::pipeline::lower_for(&loaded, &fw_args, a.mode, cal.as_ref())?;
        let emu = FastEmulator::new(&fw);
        let x = crate::synthetic::gaussian(a.events * widths[0], 99);
        let _ = emu.run_batch(&x[..widths[0] * 10_000.min(a.events)]);
        let mut rates = Vec::new();
        for _ in 0..a.reps.max(1) {
            let t = Instant::now();
            let out = emu.run_batch(&x);
            let dt = t.elapsed().as_secs_f64();
            std::hint::black_box(out);
            rates.push(a.events as f64 / dt);
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {shape} | {} | {} | {} | {:.0} | {:.0} | {:.0} |",
            a.mode,
            a.events,
            rayon::current_num_threads(),
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1]
        );
    }
    Ok(0)
}

/// Times the set emulator of a particle-level model on the jets of `data`.
fn run_set(a: &BenchArgs, model: &std::path::Path, data: &std::path::Path) -> anyhow::Result<i32> {
    use crate::back::emu::set::SetEmulator;
    use crate::ir::set::Net;
    let loaded = crate::front::load_net(model, &crate::front::LoadOptions::default())?;
    let Net::Set(set) = loaded.model else {
        anyhow::bail!(
            "{}: --model times particle-level models; chains use --shape",
            model.display()
        );
    };
    let jets = crate::io::particles::read_jets(data, (&set).into(), false)?;
    anyhow::ensure!(jets.jets > 0, "{}: no jets", data.display());
    let cal = crate::pass::set::calibrate_set(&set, &jets.x, &jets.mask, &jets.jet);
    let fw_args = FwOptions {
        requant: a.requant,
        frac_bits: a.frac_bits.unwrap_or(12),
        frac_auto: a.frac_bits.is_none(),
        ..FwOptions::default()
    };
    let fw = crate::pipeline::lower_set_for(&set, &fw_args, a.mode, Some(&cal))?;
    super::note_frac(&fw.rho.options);
    let emu = SetEmulator::new(&fw);
    for (part, why) in emu.fallbacks() {
        eprintln!("note: {part} runs on the reference emulator (slower, same results): {why}");
    }
    let n = a.events.max(1);
    let (nf, np) = (set.jet_len(), set.particles);
    let x: Vec<f32> = (0..n)
        .flat_map(|j| jets.x[(j % jets.jets) * nf..][..nf].iter().copied())
        .collect();
    let mask: Vec<u8> = (0..n)
        .flat_map(|j| jets.mask[(j % jets.jets) * np..][..np].iter().copied())
        .collect();
    let g = set.jet_features;
    let jet: Vec<f32> = (0..n)
        .flat_map(|j| jets.jet[(j % jets.jets) * g..][..g].iter().copied())
        .collect();
    let real = mask.iter().filter(|m| **m != 0).count() as f64 / n as f64;
    let w = n.min(10_000);
    let _ = emu.run_batch(&x[..nf * w], &mask[..np * w], &jet[..g * w]);
    let mut rates = Vec::new();
    for _ in 0..a.reps.max(1) {
        let t = Instant::now();
        std::hint::black_box(emu.run_batch(&x, &mask, &jet));
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!("| model | mode | jets | particles per jet (mean real) | threads | jets/s median | min | max |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {n} | {np} ({real:.1}) | {} | {:.0} | {:.0} | {:.0} |",
        set.name,
        a.mode,
        rayon::current_num_threads(),
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    );
    Ok(0)
}
