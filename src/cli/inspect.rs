//! `bit2hls inspect`: the model after each pass.

use super::args::{FwArgs, ModelArgs};
use crate::front::ArchOrigin;
use crate::ir::firmware::{Firmware, FwKind, Quantizer};
use crate::ir::{LayerKind, Model, WeightSource};
use crate::pass::fold::{stages, StageOp};
use crate::pipeline::{calibration_with, lower_for};
use clap::Args;
use std::fmt::Write;

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fw: FwArgs,
    /// Print the lowered firmware as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InspectArgs) -> anyhow::Result<i32> {
    let loaded = super::load_model(&a.model)?;
    let calib = calibration_with(&loaded, &a.fw.options(), a.fw.calib_rule)?;
    let fw = lower_for(&loaded, &a.fw.options(), a.fw.mode, calib.as_ref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&fw)?);
        return Ok(0);
    }
    let origin = match &loaded.origin {
        ArchOrigin::File(p) => format!("architecture file {}", p.display()),
        ArchOrigin::Sidecar(p) => format!("sidecar {}", p.display()),
        ArchOrigin::Metadata => "safetensors __metadata__ 'bit2hls.arch'".into(),
        ArchOrigin::Inferred => "inferred from tensor names".into(),
    };
    print!("{}", dump_model(&loaded.model, &origin));
    for n in &loaded.notes {
        let kind = if n.is_warning() { "warning" } else { "note" };
        println!("{kind}: {n}");
    }
    if loaded.notes.iter().any(|n| n.is_warning()) {
        println!("  ({})", crate::front::arch::ASSUMED_ACT_ADVICE);
    }
    print!("{}", dump_stages(&loaded.model)?);
    print!("{}", dump_firmware(&fw));
    Ok(0)
}

/// Pass 0+1: the float model as loaded and ternarized.
pub fn dump_model(m: &Model, origin: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "== front + ternarize: model '{}' ({origin})", m.name);
    let _ = writeln!(s, "profile: {}", m.profile.describe());
    let _ = writeln!(s, "inputs: {}", m.inputs);
    for (i, l) in m.layers.iter().enumerate() {
        let _ = match &l.kind {
            LayerKind::BitLinear(b) => {
                let nz = b.codes.data.iter().filter(|&&c| c != 0).count();
                let src = match b.source {
                    WeightSource::FloatMaster => "float master".to_string(),
                    WeightSource::TernaryI8 => "I8 codes".to_string(),
                    WeightSource::HfPacked { scale_is_beta } => {
                        format!(
                            "HF packed, weight_scale = {}",
                            if scale_is_beta { "beta" } else { "1/beta" }
                        )
                    }
                };
                writeln!(
                    s,
                    "  #{i} {:<12} bitlinear {}x{} beta={:.6e} nonzero={}/{} ({:.1}% zeros) bias={} [{src}]",
                    l.name,
                    b.codes.cols,
                    b.codes.rows,
                    b.beta,
                    nz,
                    b.codes.data.len(),
                    100.0 * (1.0 - nz as f64 / b.codes.data.len() as f64),
                    b.bias.is_some()
                )
            }
            LayerKind::Linear(lin) => writeln!(
                s,
                "  #{i} {:<12} linear {}x{} (full precision) bias={}",
                l.name,
                lin.weight.cols,
                lin.weight.rows,
                lin.bias.is_some()
            ),
            LayerKind::Relu => writeln!(s, "  #{i} {:<12} relu", l.name),
            LayerKind::Affine(a) => writeln!(
                s,
                "  #{i} {:<12} {} ({} channels)",
                l.name,
                a.origin,
                a.scale.len()
            ),
        };
    }
    s
}

/// Pass 2: stages after folding.
pub fn dump_stages(m: &Model) -> crate::Result<String> {
    let mut s = String::new();
    let _ = writeln!(s, "== fold: stages");
    for (i, st) in stages(m)?.iter().enumerate() {
        let op = match st.op {
            StageOp::Ternary(l) => format!("ternary({})", m.layers[l].name),
            StageOp::Dense(l) => format!("dense({})", m.layers[l].name),
            StageOp::Affine(Some(l)) => format!("affine({})", m.layers[l].name),
            StageOp::Affine(None) => "identity".into(),
        };
        let folded = st.sources.len() - 1 - usize::from(st.relu);
        let _ = writeln!(
            s,
            "  stage {i}: {op}{}{}",
            if folded > 0 {
                format!(" + {folded} folded affine")
            } else {
                String::new()
            },
            if st.relu { " + relu" } else { "" }
        );
    }
    Ok(s)
}

/// Pass 3: lowered firmware with every type.
pub fn dump_firmware(fw: &Firmware) -> String {
    let mut s = String::new();
    let o = &fw.options;
    let _ = writeln!(s, "== lower: firmware, mode {}", o.mode);
    let _ = writeln!(s, "input: {} [{}]", o.input_type, o.input_type_origin);
    let _ = writeln!(
        s,
        "hidden/output frac bits: {}, constants: {} bits, float-layer weights: {} bits",
        o.frac_bits, o.const_bits, o.weight_bits
    );
    for (i, l) in fw.layers.iter().enumerate() {
        let _ = writeln!(
            s,
            "  stage {i} '{}' {}→{}  in {}  out {}{}",
            l.name,
            l.n_in,
            l.n_out,
            l.in_type,
            l.out_type,
            if l.relu { " (relu)" } else { "" }
        );
        match &l.kind {
            FwKind::Ternary(t) => {
                let q = match &t.quant {
                    Quantizer::Dynamic { m_type, guard, recip_type, prod_type, .. } => format!(
                        "dynamic: M {m_type}, R {recip_type} (shift G+e, G={guard}), X·R {prod_type}"
                    ),
                    Quantizer::Pow2 { m_type, e_max, prod_type, .. } => {
                        format!("dynamic-pow2: M {m_type}, e ≤ {e_max}, Q·X {prod_type}")
                    }
                    Quantizer::Static { m_cal, recip, recip_frac, prod_type } => {
                        format!("static: m_cal {m_cal:.6}, R {recip}/2^{recip_frac}, X·R {prod_type}")
                    }
                    Quantizer::Codes { m_cal } => {
                        format!("static: m_cal {m_cal:.6}, codes as requantized by the previous stage")
                    }
                };
                let _ = writeln!(
                    s,
                    "    quantizer {q}; codes [{}, {}]",
                    t.code_range.lo, t.code_range.hi
                );
                let _ = writeln!(
                    s,
                    "    accumulator {}; dequant constants 2^-{} (shift {}), product {}",
                    t.acc_type, t.scale_frac, t.shift, t.dequant_type
                );
            }
            FwKind::Dense(d) => {
                let _ = writeln!(
                    s,
                    "    weights {}; accumulator {}; shift {}",
                    d.weight_type, d.acc_type, d.shift
                );
            }
            FwKind::Affine(a) => {
                let _ = writeln!(
                    s,
                    "    scale 2^-{}, product {}, shift {}",
                    a.scale_frac, a.prod_type, a.shift
                );
            }
        }
    }
    s
}
