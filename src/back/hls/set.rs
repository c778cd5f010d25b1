//! The HLS project of a particle-level model: `Φ` as one function called on every particle
//! slot, the masked pool (`nnet_b2h_pool.h`), `F` as a second function (docs/particles.md).
//!
//! The top takes `x[N_PARTICLES · N_FEATURES]` (particle-major), `mask[N_PARTICLES]` and writes
//! `y[N_OUTPUT]`. With a particle reuse factor `R`, the top is pipelined at `II = R` and
//! `ALLOCATION` limits `Φ` to `ceil(N / R)` instances, so Vitis HLS shares each instance over
//! `R` particles (one jet every `R` clocks); `R = 1` has one `Φ` per particle. The C++ computes
//! the integers of [`crate::reference::set::run`] whatever `R` is; [`super::csim`] proves it.

use super::layers::Impl;
use super::types::{CType, Types};
use super::view::{TopFnView, TopLayerView};
use super::{
    check_options, finish_files, gen_chain, project_files, tbdata, test_view, HlsOptions,
    ProjectMeta, ProjectParts, KERNELS,
};
use crate::io::particles::Jets;
use crate::ir::set::{MeanDiv, PoolFw, PoolKind, SetFirmware};
use crate::project::{ProjectError, Result};
use crate::target::Strategy;

/// The pool kernels, copied into particle-level projects only.
pub const POOL_KERNEL: (&str, &str) = (
    "nnet_b2h_pool.h",
    include_str!("../../../templates/hls/nnet_utils/nnet_b2h_pool.h"),
);

/// Local names of the top function; the `b2h_` prefix is reserved (never a layer or project
/// name), so they cannot collide with generated symbols.
const POOLED: &str = "b2h_pooled";
const ANY: &str = "b2h_any";
const XP: &str = "b2h_xp";
const YP: &str = "b2h_yp";
const CAT: &str = "b2h_cat";
const ACC: &str = "b2h_acc";
const COUNT: &str = "b2h_count";
const RECIP: &str = "b2h_recip";

fn check_set_options(fw: &SetFirmware, o: &HlsOptions, reuse: usize) -> Result<()> {
    check_options(&fw.rho, o)?;
    if fw.phi.layers.is_empty() {
        return Err(ProjectError::Option(format!(
            "'{}': Φ has no layers to generate",
            fw.name
        )));
    }
    if o.strategy != Strategy::Latency {
        return Err(ProjectError::Option(
            "particle-level models use the latency strategy inside Φ and F; share Φ over the \
             particle axis with --particle-reuse instead of --strategy resource"
                .into(),
        ));
    }
    let n = fw.pool.n;
    if reuse == 0 || reuse > n {
        return Err(ProjectError::Option(format!(
            "--particle-reuse {reuse}: expected 1..={n} (particles per copy of Φ)"
        )));
    }
    Ok(())
}

/// Every file of the HLS project of `fw`, `(relative path, contents)`, sorted by path.
/// `tb` are the test-bench jets; `reuse` is the particle reuse factor.
pub fn render_set(
    fw: &SetFirmware,
    o: &HlsOptions,
    reuse: usize,
    meta: &ProjectMeta,
    tb: &Jets,
) -> Result<Vec<(String, String)>> {
    check_set_options(fw, o, reuse)?;
    let (n, f, l) = (fw.pool.n, fw.features(), fw.phi.n_out);
    let mut types = Types::default();
    let mut aliases = vec![
        (
            types.name(CType::Fixed(fw.phi.input_type())),
            "input_t".into(),
        ),
        (
            types.name(CType::Fixed(fw.phi.output_type())),
            "phi_t".into(),
        ),
        (types.name(CType::Fixed(fw.pool.out_type)), "pool_t".into()),
    ];
    if fw.pool.mean.is_some() {
        aliases.push((types.name(CType::Fixed(fw.pool.acc_type)), "acc_t".into()));
    }
    let jet = fw.jet.as_ref();
    if let Some(j) = jet {
        aliases.push((types.name(CType::Fixed(j.out_type)), "concat_t".into()));
    }
    aliases.extend([
        (
            types.name(CType::Fixed(fw.output_type())),
            "result_t".into(),
        ),
        ("ap_uint<1>".to_string(), "mask_t".into()),
    ]);
    let imp = Impl {
        strategy: Strategy::Latency,
        reuse: 1,
        adders: o.adders,
    };
    let phi = gen_chain(
        &fw.phi,
        0,
        ("x", "input_t"),
        vec![fw.phi.input_type().interval(); f],
        ("y", "phi_t"),
        &imp,
        &mut types,
    )?;
    let (rho_t, rho_n) = if jet.is_some() {
        ("concat_t", "N_RHO")
    } else {
        ("pool_t", "N_PHI")
    };
    let rho = gen_chain(
        &fw.rho,
        fw.phi.layers.len(),
        ("x", rho_t),
        rho_input_ranges(fw),
        ("y", "result_t"),
        &imp,
        &mut types,
    )?;
    let name = &o.name;
    let mut sizes = vec![
        ("N_PARTICLES".to_string(), n.to_string()),
        ("N_FEATURES".to_string(), f.to_string()),
        ("N_INPUT".to_string(), (n * f).to_string()),
        ("N_PHI".to_string(), l.to_string()),
        ("N_OUTPUT".to_string(), fw.n_out().to_string()),
    ];
    if let Some(j) = jet {
        sizes.push(("N_JET".to_string(), j.n.to_string()));
        sizes.push(("N_RHO".to_string(), fw.rho.n_in.to_string()));
    }
    sizes.extend(phi.sizes);
    sizes.extend(rho.sizes);
    let jet_port = if jet.is_some() {
        ", input_t jet[N_JET]"
    } else {
        ""
    };
    let signature = format!(
        "void {name}(input_t x[N_INPUT], mask_t mask[N_PARTICLES]{jet_port}, result_t y[N_OUTPUT])"
    );
    let mut top = vec![pool_stage(name, &fw.pool)];
    if jet.is_some() {
        top.push(concat_stage());
    }
    top.push(rho_stage(name, jet.is_some()));
    let functions = vec![
        TopFnView {
            comment: vec![format!(
                "Φ: the features of one particle -> its {l} pooled features (shared weights)."
            )],
            signature: format!("static void {name}_phi(input_t x[N_FEATURES], phi_t y[N_PHI])"),
            pragmas: vec![
                "#pragma HLS INLINE off".into(),
                "#pragma HLS PIPELINE II=1".into(),
            ],
            layers: phi.layers,
        },
        TopFnView {
            comment: vec![if jet.is_some() {
                "F: the pooled vector and the jet inputs of one jet -> the outputs.".into()
            } else {
                "F: the pooled vector of one jet -> the outputs.".into()
            }],
            signature: format!("static void {name}_rho({rho_t} x[{rho_n}], result_t y[N_OUTPUT])"),
            pragmas: vec!["#pragma HLS INLINE".into()],
            layers: rho.layers,
        },
        TopFnView {
            comment: Vec::new(),
            signature: signature.clone(),
            pragmas: top_pragmas(name, n, reuse, jet.is_some()),
            layers: top,
        },
    ];
    let parts = ProjectParts {
        kernels: KERNELS.iter().copied().chain([POOL_KERNEL]).collect(),
        header: vec![
            format!(
                "{name}: generated by bit2hls {} from particle-level model '{}'. Do not edit.",
                env!("CARGO_PKG_VERSION"),
                fw.name
            ),
            format!(
                "Activation mode {}, {} pool over {n} particles, particle reuse {reuse} (II={reuse}, \
                 {} instance{} of Φ). Arithmetic: bit2hls docs/arithmetic.md, docs/particles.md.",
                fw.phi.mode(),
                fw.pool.kind.as_str(),
                n.div_ceil(reuse),
                if n.div_ceil(reuse) == 1 { "" } else { "s" }
            ),
        ],
        functions,
        signature,
        signature_comment: format!(
            "{n} particles x {f} features ({}) and their mask{} -> {} outputs ({})",
            fw.phi.input_type(),
            if jet.is_some() {
                format!(", {} jet inputs (same type)", fw.jet_features())
            } else {
                String::new()
            },
            fw.n_out(),
            fw.output_type()
        ),
        configs: phi.configs.into_iter().chain(rho.configs).collect(),
        weights: phi.weights.into_iter().chain(rho.weights).collect(),
        sizes,
        types,
        aliases,
        test: test_view(name, fw.phi.input_type(), fw.output_type(), true, jet.is_some()),
    };
    let mut files = project_files(o, parts)?;
    files.extend(tb_files(fw, tb));
    files.push(("firmware.json".into(), crate::ir::serial::to_json_set(fw)));
    let jets = tb.jets;
    Ok(finish_files(files, |names| {
        report_json(fw, o, reuse, meta, jets, names)
    }))
}

/// The test-bench files of the jets `tb`: inputs, mask, jet inputs (if the model has any),
/// and the reference's outputs.
pub fn tb_files(fw: &SetFirmware, tb: &Jets) -> Vec<(String, String)> {
    let n = fw.pool.n;
    let mut files = vec![
        (
            "tb_data/tb_input_features.dat".into(),
            tbdata::input_text(&tb.x, n * fw.features()),
        ),
        (
            "tb_data/tb_input_mask.dat".into(),
            tbdata::mask_text(&tb.mask, n),
        ),
        (
            "tb_data/tb_output_predictions.dat".into(),
            tbdata::set_predictions_text(fw, tb),
        ),
    ];
    if fw.jet.is_some() {
        files.push((
            "tb_data/tb_input_jet.dat".into(),
            tbdata::input_text(&tb.jet, fw.jet_features()),
        ));
    }
    files
}

fn top_pragmas(name: &str, n: usize, reuse: usize, jet: bool) -> Vec<String> {
    let mut p = vec![
        "#pragma HLS ARRAY_RESHAPE variable=x complete dim=0".to_string(),
        "#pragma HLS ARRAY_PARTITION variable=mask complete dim=0".to_string(),
    ];
    if jet {
        p.push("#pragma HLS ARRAY_RESHAPE variable=jet complete dim=0".to_string());
    }
    p.extend([
        "#pragma HLS ARRAY_PARTITION variable=y complete dim=0".to_string(),
        format!(
            "#pragma HLS INTERFACE ap_vld port=x,mask,{}y",
            if jet { "jet," } else { "" }
        ),
        format!("#pragma HLS PIPELINE II={reuse}"),
    ]);
    if reuse > 1 {
        p.push(format!(
            "#pragma HLS ALLOCATION function instances={name}_phi limit={}",
            n.div_ceil(reuse)
        ));
    }
    p
}

/// `Φ` on every particle slot, pooled over the real ones (a mean: summed into `acc_t`, counted,
/// then divided by [`mean_lines`]).
fn pool_stage(name: &str, pool: &PoolFw) -> TopLayerView {
    let kind = pool.kind;
    let (acc, acc_t) = match kind {
        PoolKind::Mean => (ACC, "acc_t"),
        _ => (POOLED, "pool_t"),
    };
    let mut lines = vec![
        format!("{acc_t} {acc}[N_PHI];"),
        format!("#pragma HLS ARRAY_PARTITION variable={acc} complete dim=0"),
        format!("nnet::b2h_pool_init<{acc_t}, N_PHI>({acc});"),
    ];
    if kind == PoolKind::Max {
        lines.push(format!("bool {ANY} = false;"));
    }
    if kind == PoolKind::Mean {
        lines.push(format!("ap_uint<{}> {COUNT} = 0;", count_bits(pool.n)));
    }
    lines.extend([
        "for (int p = 0; p < N_PARTICLES; p++) {".to_string(),
        "    #pragma HLS UNROLL".into(),
        format!("    input_t {XP}[N_FEATURES];"),
        format!("    #pragma HLS ARRAY_PARTITION variable={XP} complete dim=0"),
        "    for (int f = 0; f < N_FEATURES; f++) {".into(),
        "        #pragma HLS UNROLL".into(),
        format!("        {XP}[f] = x[p * N_FEATURES + f];"),
        "    }".into(),
        format!("    phi_t {YP}[N_PHI];"),
        format!("    #pragma HLS ARRAY_PARTITION variable={YP} complete dim=0"),
        format!("    {name}_phi({XP}, {YP});"),
        match kind {
            PoolKind::Sum => {
                format!("    nnet::b2h_pool_sum<phi_t, pool_t, N_PHI>(mask[p], {YP}, {POOLED});")
            }
            PoolKind::Mean => {
                format!("    nnet::b2h_pool_sum<phi_t, acc_t, N_PHI>(mask[p], {YP}, {ACC});")
            }
            PoolKind::Max => format!(
                "    nnet::b2h_pool_max<phi_t, pool_t, N_PHI>(mask[p], {ANY}, {YP}, {POOLED});"
            ),
        },
    ]);
    if kind == PoolKind::Mean {
        lines.push(format!("    {COUNT} += mask[p];"));
    }
    lines.push("}".into());
    if let Some(d) = &pool.mean {
        lines.extend(mean_lines(d, pool.n));
    }
    TopLayerView {
        comment: format!(
            "Φ on every particle slot; masked {} pool over the real particles",
            kind.as_str()
        ),
        lines,
    }
}

/// Bits of the unsigned count of up to `n` particles.
fn count_bits(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// The mean's division ([`MeanDiv`]): the reciprocal table by particle count and the kernel
/// that divides every feature's sum with it.
fn mean_lines(d: &MeanDiv, n: usize) -> Vec<String> {
    let (wn, wm) = d.widths();
    let table: Vec<String> = d.recip.iter().map(|m| format!("{m}ULL")).collect();
    vec![
        format!("pool_t {POOLED}[N_PHI];"),
        format!("#pragma HLS ARRAY_PARTITION variable={POOLED} complete dim=0"),
        format!(
            "static const ap_uint<{wm}> {RECIP}[N_PARTICLES + 1] = {{{}}};",
            table.join(", ")
        ),
        format!(
            "nnet::b2h_pool_mean<acc_t, pool_t, N_PHI, {}, {}, {wn}, {wm}, {}>({ACC}, {COUNT}, {RECIP}[{COUNT}], {POOLED});",
            d.extra,
            d.shift,
            count_bits(n)
        ),
    ]
}

/// `[pooled, jet]` in `concat_t`, whose binary point and range hold both exactly.
fn concat_stage() -> TopLayerView {
    TopLayerView {
        comment: "the pooled vector, then the jet inputs (exact conversions to concat_t)".into(),
        lines: vec![
            format!("concat_t {CAT}[N_RHO];"),
            format!("#pragma HLS ARRAY_PARTITION variable={CAT} complete dim=0"),
            "for (int i = 0; i < N_PHI; i++) {".into(),
            "    #pragma HLS UNROLL".into(),
            format!("    {CAT}[i] = {POOLED}[i];"),
            "}".into(),
            "for (int i = 0; i < N_JET; i++) {".into(),
            "    #pragma HLS UNROLL".into(),
            format!("    {CAT}[N_PHI + i] = jet[i];"),
            "}".into(),
        ],
    }
}

fn rho_stage(name: &str, jet: bool) -> TopLayerView {
    TopLayerView {
        comment: if jet {
            "F on the pooled vector and the jet inputs".into()
        } else {
            "F on the pooled vector".into()
        },
        lines: vec![format!(
            "{name}_rho({}, y);",
            if jet { CAT } else { POOLED }
        )],
    }
}

/// Proven ranges of `F`'s inputs, in codes of its input type: the pool's, then (with jet
/// inputs) the input type's full range, both aligned to the concatenation's type.
fn rho_input_ranges(fw: &SetFirmware) -> Vec<crate::ir::fixed::Interval> {
    let Some(j) = &fw.jet else {
        return fw.pool.out_ranges.clone();
    };
    let scale = |iv: crate::ir::fixed::Interval, s: u32| {
        crate::ir::fixed::Interval::new(iv.lo << s, iv.hi << s)
    };
    let pooled = fw.pool.out_ranges.iter().map(|r| scale(*r, j.pool_shift()));
    let jet = std::iter::repeat_n(scale(j.in_type.interval(), j.jet_shift()), j.n);
    pooled.chain(jet).collect()
}

fn report_json(
    fw: &SetFirmware,
    o: &HlsOptions,
    reuse: usize,
    meta: &ProjectMeta,
    jets: usize,
    files: Vec<String>,
) -> String {
    let n = fw.pool.n;
    let rep = serde_json::json!({
        "generator": "bit2hls",
        "generator_version": env!("CARGO_PKG_VERSION"),
        "report_version": 1,
        "project": {
            "name": o.name,
            "part": o.part,
            "clock_ns": o.clock_ns,
            "strategy": "latency",
            "particle_reuse": reuse,
            "ii": reuse,
        },
        "model": meta.model,
        "firmware_name": fw.name,
        "calib": meta.calib,
        "profile": fw.phi.profile,
        "mode": fw.phi.mode().as_str(),
        "particles": {
            "n": n,
            "features": fw.features(),
            "pool": fw.pool.kind.as_str(),
            "pool_type": fw.pool.out_type.cpp(),
            "phi_instances": n.div_ceil(reuse),
        },
        "input": {"n": n * fw.features(), "type": fw.phi.input_type().cpp(), "mask": n},
        "output": {"n": fw.n_out(), "type": fw.output_type().cpp()},
        "phi_layers": super::layer_reports(&fw.phi, 0),
        "rho_layers": super::layer_reports(&fw.rho, fw.phi.layers.len()),
        "test_bench": {"samples": jets, "source": meta.tb_source},
        "files": files,
    });
    let mut rep = rep;
    if let Some(j) = &fw.jet {
        rep["input"]["jet"] = j.n.into();
        rep["particles"]["concat_type"] = j.out_type.cpp().into();
    }
    let mut s = serde_json::to_string_pretty(&rep).expect("report serializes");
    s.push('\n');
    s
}
