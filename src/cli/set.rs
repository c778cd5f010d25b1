//! `compile` for particle-level models: the set firmware's Verilog or HLS project, the
//! estimate and trigger verdict of its Verilog design for every mode, validation with `--data`,
//! report.html.

use super::hls::{pipeline_options, CompileArgs, TB_SEED};
use crate::back::hls;
use crate::back::rtl::{self, RtlOptions};
use crate::estimate::scaling::{estimate_set, set_scaling};
use crate::estimate::verdict::{Verdict, VerdictOptions};
use crate::estimate::{Backend, Estimate};
use crate::io::particles::{read_first_jets, Jets};
use crate::ir::firmware::Mode;
use crate::ir::set::SetModel;
use crate::pass::set::SetCalibration;
use crate::pipeline::{lower_set_for, set_calibration};
use crate::report::{render_html, ModeEntry, ReportInput, ValidationSummary};
use crate::target::{parts, Strategy};
use anyhow::Context;
use std::time::Instant;

/// Writes the Verilog or HLS project of the particle-level model `set`.
pub fn run_compile_set(
    a: &CompileArgs,
    set: &SetModel,
    task: &crate::ir::task::Task,
    warnings: Vec<String>,
    compare: Vec<crate::report::compare::Reference>,
) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    anyhow::ensure!(
        a.strategy == Strategy::Latency && a.reuse == 1,
        "particle-level models use the latency strategy inside Φ and F (--strategy latency, \
         --reuse 1); share Φ over the particle axis with --particle-reuse R"
    );
    let part = parts::lookup(&a.part)?;
    let pipeline = pipeline_options(
        a.adders_per_stage,
        a.clock,
        a.adder_args.options(),
        a.const_mul,
    )?;
    super::hls::refuse_existing_output(a)?;
    let calib = set_calibration(set, &a.fw.options(), a.fw.calib_rule)?.map(|(c, notes)| {
        notes.iter().for_each(|n| eprintln!("note: {n}"));
        c
    });
    let fw = lower_set_for(set, &a.fw.options(), a.fw.mode, calib.as_ref())?;
    super::note_frac(&fw.rho.options);
    let (tb, tb_source) = tb_jets(a, set)?;
    let o = RtlOptions {
        name: a.name.clone(),
        part: part.name.to_string(),
        clock_ns: a.clock,
        pipeline,
    };
    anyhow::ensure!(
        (1..=set.particles).contains(&a.particle_reuse),
        "--particle-reuse {}: expected 1..={} (particles per copy of Φ)",
        a.particle_reuse,
        set.particles
    );
    let this = estimate_set(&fw, a.particle_reuse, pipeline, part, a.clock);
    let scaling = set_scaling(
        set,
        &a.fw.options(),
        a.fw.mode,
        calib.as_ref(),
        a.particle_reuse,
        pipeline,
        part,
        a.clock,
    );
    let vo = VerdictOptions {
        event_period_ns: 25.0,
        tmux: a.tmux,
        budget_share: a.budget,
    };
    vo.validate().map_err(anyhow::Error::msg)?;
    let reference = a.reference.read(a.data.as_deref())?;
    let validation = match &a.data {
        Some(d) => {
            let modes: Vec<Mode> = Mode::ALL
                .into_iter()
                .filter(|m| *m != Mode::Static || a.fw.calib.is_some())
                .collect();
            let mut notes = Vec::new();
            let r = crate::validate::set::compute_set(
                set,
                task,
                warnings.clone(),
                &a.fw.options(),
                a.fw.calib_rule,
                d,
                &modes,
                reference.as_ref(),
                &mut notes,
            );
            notes.iter().for_each(|n| eprintln!("note: {n}"));
            Some(r?)
        }
        None => None,
    };
    let (modes, skipped) = mode_entries(
        a,
        set,
        pipeline,
        part,
        &this,
        calib.as_ref(),
        &vo,
        validation.as_ref(),
    );
    let verdict = Verdict::new(&this, part, &vo);
    let extra = serde_json::json!({
        "estimate": this,
        "verdict": verdict,
        "validation": validation,
        "assumptions": warnings,
        "test_bench": tb_source,
        "scaling": scaling,
    });
    let mut files = match a.backend {
        Backend::Verilog => {
            rtl::render_set(
                &fw,
                &o,
                a.particle_reuse,
                &a.model.model.display().to_string(),
                &tb,
                extra,
            )?
            .0
        }
        Backend::Hls => {
            let meta = hls::ProjectMeta {
                model: a.model.model.display().to_string(),
                tb_source: tb_source.clone(),
                calib: a.fw.calib.as_ref().map(|p| p.display().to_string()),
            };
            let mut files =
                hls::set::render_set(&fw, &hls_options(a, part), a.particle_reuse, &meta, &tb)?;
            super::hls::merge_report(&mut files, extra)?;
            files
        }
    };
    let mut provenance = vec![format!(
        "bit2hls {}; estimates: of the Verilog design of this firmware ({} adder levels per stage; \
         coefficients calibrated against Yosys 0.23 on chains, docs/estimate.md; the shared-Φ \
         control row on six particle designs, docs/particles.md){}",
        env!("CARGO_PKG_VERSION"),
        pipeline.adders_per_stage,
        if a.backend == Backend::Hls {
            "; the HLS project's own resources need Vitis HLS (not run here)"
        } else {
            ""
        }
    )];
    provenance.extend(skipped);
    provenance.push(format!("test bench: {tb_source}"));
    let input = ReportInput {
        model: fw.name.clone(),
        model_path: a.model.model.display().to_string(),
        part,
        clock_ns: a.clock,
        selected: a.fw.mode,
        modes,
        float_accuracy: validation.as_ref().and_then(|r| r.float_accuracy),
        float_auc: validation.as_ref().and_then(|r| r.float_auc),
        reference: validation.as_ref().and_then(|r| r.reference.clone()),
        regression: validation.as_ref().and_then(|r| r.regression.clone()),
        assumptions: warnings,
        provenance,
        scaling,
        compare,
    };
    files.push(("report.html".into(), render_html(&input)));
    files.sort_by(|p, q| p.0.cmp(&q.0));
    hls::write_project(&files, &a.output, a.force)
        .with_context(|| format!("writing {}", a.output.display()))?;
    eprintln!(
        "{}: {} project '{}' of particle-level model '{}' ({} particles, {} pool, particle reuse {}; {} files, mode {}, Verilog latency {} cycles, {} test-bench jets) in {:.0} ms",
        a.output.display(),
        if a.backend == Backend::Hls { "HLS" } else { "Verilog" },
        o.name,
        set.name,
        set.particles,
        set.pool.as_str(),
        a.particle_reuse,
        files.len(),
        a.fw.mode,
        this.latency_cycles,
        tb.jets,
        t0.elapsed().as_secs_f64() * 1e3
    );
    Ok(super::validate::reference_exit_code(
        input.reference.as_ref(),
    ))
}

/// The HLS options of `a` (latency strategy; the part already looked up).
fn hls_options(a: &CompileArgs, part: &crate::target::Part) -> hls::HlsOptions {
    hls::HlsOptions {
        name: a.name.clone(),
        part: part.name.to_string(),
        clock_ns: a.clock,
        strategy: Strategy::Latency,
        reuse: 1,
        adders: a.adder_args.options(),
        const_mul: a.const_mul,
    }
}

#[allow(clippy::too_many_arguments)]
/// Estimate and verdict of every mode (the compiled one is `this`), with its validation.
fn mode_entries(
    a: &CompileArgs,
    set: &SetModel,
    pipeline: crate::hw::schedule::PipelineOptions,
    part: &'static crate::target::Part,
    this: &Estimate,
    calib: Option<&SetCalibration>,
    vo: &VerdictOptions,
    validation: Option<&crate::validate::Report>,
) -> (Vec<ModeEntry>, Vec<String>) {
    let (mut modes, mut skipped) = (Vec::new(), Vec::new());
    for mode in Mode::ALL {
        let e = if mode == a.fw.mode {
            this.clone()
        } else {
            match lower_set_for(set, &a.fw.options(), mode, calib) {
                Ok(f) => estimate_set(&f, a.particle_reuse, pipeline, part, a.clock),
                Err(e) => {
                    skipped.push(format!("{mode}: not estimated ({e})"));
                    continue;
                }
            }
        };
        let val = validation.and_then(|r| {
            ValidationSummary::from_report(r)
                .into_iter()
                .find(|(m, _)| *m == mode)
                .map(|(_, s)| s)
        });
        modes.push(ModeEntry {
            mode,
            verdict: Verdict::new(&e, part, vo),
            estimate: e,
            validation: val,
        });
    }
    (modes, skipped)
}

/// Test-bench jets: `--tb-input` (a particle .npz), else the calibration file's jets, else
/// [`crate::synthetic::adversarial_jets`].
fn tb_jets(a: &CompileArgs, set: &SetModel) -> anyhow::Result<(Jets, String)> {
    let n = a.tb_samples;
    anyhow::ensure!(n > 0, "--tb-samples must be at least 1");
    let np = set.particles;
    if let Some(p) = a.tb_input.as_ref().or(a.fw.calib.as_ref()) {
        let j = read_first_jets(p, set.into(), Some(n))?;
        let k = j.jets;
        return Ok((j, format!("{} ({k} jets)", p.display())));
    }
    let jets = crate::synthetic::adversarial_jets(set.into(), n, 1.0e4, TB_SEED);
    Ok((
        jets,
        format!(
            "adversarial jets (empty, one particle per slot, identical particles, saturating \
             ±1e4 features and jet inputs, non-contiguous mask), then random jets of 0..{np} particles, \
             seed {TB_SEED:#x} ({n} jets)"
        ),
    ))
}
