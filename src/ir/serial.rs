//! `firmware.json`: the complete lowered [`Firmware`] (weights included), written by `compile`
//! so that `csim --input` can recompute the expected outputs with the emulator without the
//! model file. [`Firmware`] itself only serializes its shape (weights are skipped), so this
//! module mirrors it with serde structs of its own.

use crate::error::{Error, Result};
use crate::ir::firmware::{
    AffineFw, CenterFw, DenseFw, Dequant, Firmware, FwKind, FwLayer, HiddenUnits, LowerOptions,
    Mode, Quantizer, TernaryFw,
};
use crate::ir::fixed::{FixedType, Interval};
use crate::ir::set::{JetConcatFw, PoolFw, PoolKind, SetFirmware};
use crate::ir::validate::validate;
use crate::ir::{Matrix, Profile, ProfileName};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format version of firmware.json.
/// 2: ternary layers may carry `center` and `dequant` (profiles with an in-layer norm).
/// 3: fused requantization (`dequant: {"requant": {lo, hi}}`, quantizer mode `codes`,
/// `options.requant_digits`).
/// 4: dynamic-mode hidden outputs in scaled units (`dequant: "scaled"`).
pub const VERSION: u32 = 4;

#[derive(Serialize, Deserialize)]
struct CenterDump {
    sum_type: Ty,
    u_type: Ty,
}

fn is_input_units(d: &Dequant) -> bool {
    *d == Dequant::InputUnits
}

fn input_units() -> Dequant {
    Dequant::InputUnits
}

#[derive(Serialize, Deserialize, Clone, Copy)]
struct Ty {
    signed: bool,
    width: u32,
    frac: i32,
}

impl From<FixedType> for Ty {
    fn from(t: FixedType) -> Ty {
        Ty {
            signed: t.signed,
            width: t.width,
            frac: t.frac,
        }
    }
}
impl From<Ty> for FixedType {
    fn from(t: Ty) -> FixedType {
        FixedType {
            signed: t.signed,
            width: t.width,
            frac: t.frac,
        }
    }
}

type Iv = [i64; 2];
fn iv(i: Interval) -> Iv {
    [i.lo as i64, i.hi as i64]
}
fn un_iv(i: Iv) -> Interval {
    Interval {
        lo: i[0] as i128,
        hi: i[1] as i128,
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
enum QuantDump {
    Dynamic {
        m_type: Ty,
        m_floor: i64,
        guard: i32,
        e_type: Ty,
        recip_type: Ty,
        prod_type: Ty,
    },
    Pow2 {
        m_type: Ty,
        m_floor: i64,
        e_max: i32,
        e_type: Ty,
        prod_type: Ty,
    },
    Static {
        m_cal: f64,
        recip: i64,
        recip_frac: i32,
        prod_type: Ty,
    },
    Codes {
        m_cal: f64,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KindDump {
    Ternary {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        center: Option<CenterDump>,
        quant: QuantDump,
        qmax: i64,
        clamp: (i64, i64),
        code_range: Iv,
        /// One string per output row: `+`, `-`, `0` per input.
        weights: Vec<String>,
        acc_ranges: Vec<Iv>,
        acc_type: Ty,
        scale: Vec<i64>,
        scale_frac: i32,
        shift: i32,
        dequant_type: Ty,
        #[serde(default = "input_units", skip_serializing_if = "is_input_units")]
        dequant: Dequant,
        bias: Vec<i64>,
    },
    Dense {
        weights: Vec<Vec<i64>>,
        weight_type: Ty,
        acc_ranges: Vec<Iv>,
        acc_type: Ty,
        shift: i32,
        bias: Vec<i64>,
    },
    Affine {
        scale: Vec<i64>,
        scale_frac: i32,
        shift: i32,
        prod_type: Ty,
        bias: Vec<i64>,
    },
}

#[derive(Serialize, Deserialize)]
struct LayerDump {
    name: String,
    sources: Vec<usize>,
    n_in: usize,
    n_out: usize,
    in_type: Ty,
    #[serde(flatten)]
    kind: KindDump,
    relu: bool,
    out_ranges: Vec<Iv>,
    out_type: Ty,
}

#[derive(Serialize, Deserialize)]
struct ProfileDump {
    name: String,
    act_qmax: i32,
    act_clamp: (i32, i32),
    eps_act: f32,
    eps_w: f32,
}

#[derive(Serialize, Deserialize)]
struct OptionsDump {
    mode: String,
    input_type: Ty,
    input_type_origin: String,
    frac_bits: i32,
    /// Why `frac_bits` is fewer than requested (absent: as requested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frac_bits_origin: Option<String>,
    const_bits: u32,
    weight_bits: u32,
    recip_guard_bits: i32,
    /// Absent before version 3 (no fused requantization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requant_digits: Option<u32>,
    /// Absent before version 4 (R_s rounded to requant_digits + 2 digits when fused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_digits: Option<u32>,
    /// Absent before version 4 (hidden values in real units).
    #[serde(default = "real_units", skip_serializing_if = "is_real_units")]
    hidden_units: String,
}

fn real_units() -> String {
    "real".into()
}

fn is_real_units(s: &String) -> bool {
    s == "real"
}

#[derive(Serialize, Deserialize)]
struct FirmwareDump {
    format: String,
    version: u32,
    name: String,
    profile: ProfileDump,
    options: OptionsDump,
    n_in: usize,
    n_out: usize,
    layers: Vec<LayerDump>,
}

const FORMAT: &str = "bit2hls-firmware";

fn quant(q: &Quantizer) -> QuantDump {
    match q {
        Quantizer::Dynamic {
            m_type,
            m_floor,
            guard,
            e_type,
            recip_type,
            prod_type,
        } => QuantDump::Dynamic {
            m_type: (*m_type).into(),
            m_floor: *m_floor,
            guard: *guard,
            e_type: (*e_type).into(),
            recip_type: (*recip_type).into(),
            prod_type: (*prod_type).into(),
        },
        Quantizer::Pow2 {
            m_type,
            m_floor,
            e_max,
            e_type,
            prod_type,
        } => QuantDump::Pow2 {
            m_type: (*m_type).into(),
            m_floor: *m_floor,
            e_max: *e_max,
            e_type: (*e_type).into(),
            prod_type: (*prod_type).into(),
        },
        Quantizer::Static {
            m_cal,
            recip,
            recip_frac,
            prod_type,
        } => QuantDump::Static {
            m_cal: *m_cal,
            recip: *recip,
            recip_frac: *recip_frac,
            prod_type: (*prod_type).into(),
        },
        Quantizer::Codes { m_cal } => QuantDump::Codes { m_cal: *m_cal },
    }
}

fn un_quant(q: QuantDump) -> Quantizer {
    match q {
        QuantDump::Dynamic {
            m_type,
            m_floor,
            guard,
            e_type,
            recip_type,
            prod_type,
        } => Quantizer::Dynamic {
            m_type: m_type.into(),
            m_floor,
            guard,
            e_type: e_type.into(),
            recip_type: recip_type.into(),
            prod_type: prod_type.into(),
        },
        QuantDump::Pow2 {
            m_type,
            m_floor,
            e_max,
            e_type,
            prod_type,
        } => Quantizer::Pow2 {
            m_type: m_type.into(),
            m_floor,
            e_max,
            e_type: e_type.into(),
            prod_type: prod_type.into(),
        },
        QuantDump::Static {
            m_cal,
            recip,
            recip_frac,
            prod_type,
        } => Quantizer::Static {
            m_cal,
            recip,
            recip_frac,
            prod_type: prod_type.into(),
        },
        QuantDump::Codes { m_cal } => Quantizer::Codes { m_cal },
    }
}

fn ternary_row(row: &[i8]) -> String {
    row.iter()
        .map(|t| match t {
            1 => '+',
            -1 => '-',
            _ => '0',
        })
        .collect()
}

/// The JSON text of `fw` (deterministic).
pub fn to_json(fw: &Firmware) -> String {
    let mut s = serde_json::to_string(&dump(fw)).expect("firmware dump serializes");
    s.push('\n');
    s
}

fn dump(fw: &Firmware) -> FirmwareDump {
    let layers = fw
        .layers
        .iter()
        .map(|l| LayerDump {
            name: l.name.clone(),
            sources: l.sources.clone(),
            n_in: l.n_in,
            n_out: l.n_out,
            in_type: l.in_type.into(),
            kind: match &l.kind {
                FwKind::Ternary(t) => KindDump::Ternary {
                    center: t.center.as_ref().map(|c| CenterDump {
                        sum_type: c.sum_type.into(),
                        u_type: c.u_type.into(),
                    }),
                    quant: quant(&t.quant),
                    qmax: t.qmax,
                    clamp: t.clamp,
                    code_range: iv(t.code_range),
                    weights: (0..t.weights.rows)
                        .map(|n| ternary_row(t.weights.row(n)))
                        .collect(),
                    acc_ranges: t.acc_ranges.iter().map(|r| iv(*r)).collect(),
                    acc_type: t.acc_type.into(),
                    scale: t.scale.clone(),
                    scale_frac: t.scale_frac,
                    shift: t.shift,
                    dequant_type: t.dequant_type.into(),
                    dequant: t.dequant,
                    bias: t.bias.clone(),
                },
                FwKind::Dense(d) => KindDump::Dense {
                    weights: (0..d.weights.rows)
                        .map(|n| d.weights.row(n).to_vec())
                        .collect(),
                    weight_type: d.weight_type.into(),
                    acc_ranges: d.acc_ranges.iter().map(|r| iv(*r)).collect(),
                    acc_type: d.acc_type.into(),
                    shift: d.shift,
                    bias: d.bias.clone(),
                },
                FwKind::Affine(a) => KindDump::Affine {
                    scale: a.scale.clone(),
                    scale_frac: a.scale_frac,
                    shift: a.shift,
                    prod_type: a.prod_type.into(),
                    bias: a.bias.clone(),
                },
            },
            relu: l.relu,
            out_ranges: l.out_ranges.iter().map(|r| iv(*r)).collect(),
            out_type: l.out_type.into(),
        })
        .collect();
    let p = &fw.profile;
    let o = &fw.options;
    FirmwareDump {
        format: FORMAT.into(),
        version: VERSION,
        name: fw.name.clone(),
        profile: ProfileDump {
            name: p.name.to_string(),
            act_qmax: p.act_qmax,
            act_clamp: p.act_clamp,
            eps_act: p.eps_act,
            eps_w: p.eps_w,
        },
        options: OptionsDump {
            mode: o.mode.as_str().into(),
            input_type: o.input_type.into(),
            input_type_origin: o.input_type_origin.clone(),
            frac_bits: o.frac_bits,
            frac_bits_origin: o.frac_bits_origin.clone(),
            const_bits: o.const_bits,
            weight_bits: o.weight_bits,
            recip_guard_bits: o.recip_guard_bits,
            requant_digits: o.requant_digits,
            input_digits: o.input_digits,
            hidden_units: crate::choice::Choice::name(o.hidden_units).into(),
        },
        n_in: fw.n_in,
        n_out: fw.n_out,
        layers,
    }
}

/// Parses firmware.json written by [`to_json`].
pub fn from_json(text: &str, path: &Path) -> Result<Firmware> {
    let d: FirmwareDump = serde_json::from_str(text).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        detail: format!("not a bit2hls firmware dump: {e}"),
    })?;
    undump(d, path, "")
}

/// The firmware of `d`, validated; errors name `path` and start with `at`.
fn undump(d: FirmwareDump, path: &Path, at: &str) -> Result<Firmware> {
    let bad = |d: String| Error::Data {
        path: path.to_path_buf(),
        detail: format!("{at}{d}"),
    };
    // Version 1 is version 2 without the optional norm fields, version 2 is version 3 without
    // fused requantization: projects of previous releases still read.
    if d.format != FORMAT || !(1..=VERSION).contains(&d.version) {
        return Err(bad(format!(
            "format '{}' version {} (expected '{FORMAT}' version 1 to {VERSION})",
            d.format, d.version
        )));
    }
    let name: ProfileName = d.profile.name.parse().map_err(bad)?;
    let mut profile = Profile::named(name);
    profile.act_qmax = d.profile.act_qmax;
    profile.act_clamp = d.profile.act_clamp;
    profile.eps_act = d.profile.eps_act;
    profile.eps_w = d.profile.eps_w;
    let mode = Mode::ALL
        .into_iter()
        .find(|m| m.as_str() == d.options.mode)
        .ok_or_else(|| bad(format!("unknown mode '{}'", d.options.mode)))?;
    let hidden_units = <HiddenUnits as crate::choice::Choice>::parse_name(&d.options.hidden_units)
        .map_err(|e| bad(format!("options.hidden_units: {e}")))?;
    let mut layers = Vec::new();
    for (i, l) in d.layers.into_iter().enumerate() {
        let at = format!("invalid firmware: layer #{i} '{}'", l.name);
        let kind = match l.kind {
            KindDump::Ternary {
                center,
                quant,
                qmax,
                clamp,
                code_range,
                weights,
                acc_ranges,
                acc_type,
                scale,
                scale_frac,
                shift,
                dequant_type,
                dequant,
                bias,
            } => {
                let mut data = Vec::new();
                for row in &weights {
                    if row.len() != l.n_in {
                        return Err(bad(format!(
                            "{at}, weight row of {} entries, expected {}",
                            row.len(),
                            l.n_in
                        )));
                    }
                    for c in row.chars() {
                        data.push(match c {
                            '+' => 1,
                            '-' => -1,
                            '0' => 0,
                            _ => {
                                return Err(bad(format!(
                                    "{at}, weight code '{c}' (expected +, - or 0)"
                                )))
                            }
                        });
                    }
                }
                if weights.len() != l.n_out {
                    return Err(bad(format!(
                        "{at}, {} weight rows, expected {}",
                        weights.len(),
                        l.n_out
                    )));
                }
                FwKind::Ternary(TernaryFw {
                    center: center.map(|c| CenterFw {
                        sum_type: c.sum_type.into(),
                        u_type: c.u_type.into(),
                    }),
                    quant: un_quant(quant),
                    qmax,
                    clamp,
                    code_range: un_iv(code_range),
                    weights: Matrix::new(l.n_out, l.n_in, data),
                    acc_ranges: acc_ranges.into_iter().map(un_iv).collect(),
                    acc_type: acc_type.into(),
                    scale,
                    scale_frac,
                    shift,
                    dequant_type: dequant_type.into(),
                    dequant,
                    bias,
                })
            }
            KindDump::Dense {
                weights,
                weight_type,
                acc_ranges,
                acc_type,
                shift,
                bias,
            } => {
                if weights.len() != l.n_out || weights.iter().any(|r| r.len() != l.n_in) {
                    return Err(bad(format!(
                        "{at}, weights: not {}x{} (n_out x n_in)",
                        l.n_out, l.n_in
                    )));
                }
                FwKind::Dense(DenseFw {
                    weights: Matrix::new(l.n_out, l.n_in, weights.concat()),
                    weight_type: weight_type.into(),
                    acc_ranges: acc_ranges.into_iter().map(un_iv).collect(),
                    acc_type: acc_type.into(),
                    shift,
                    bias,
                })
            }
            KindDump::Affine {
                scale,
                scale_frac,
                shift,
                prod_type,
                bias,
            } => FwKind::Affine(AffineFw {
                scale,
                scale_frac,
                shift,
                prod_type: prod_type.into(),
                bias,
            }),
        };
        layers.push(FwLayer {
            name: l.name,
            sources: l.sources,
            n_in: l.n_in,
            n_out: l.n_out,
            in_type: l.in_type.into(),
            kind,
            relu: l.relu,
            out_ranges: l.out_ranges.into_iter().map(un_iv).collect(),
            out_type: l.out_type.into(),
        });
    }
    let fw = Firmware {
        name: d.name,
        profile,
        options: LowerOptions {
            mode,
            input_type: d.options.input_type.into(),
            input_type_origin: d.options.input_type_origin,
            frac_bits: d.options.frac_bits,
            frac_bits_origin: d.options.frac_bits_origin,
            const_bits: d.options.const_bits,
            weight_bits: d.options.weight_bits,
            recip_guard_bits: d.options.recip_guard_bits,
            requant_digits: d.options.requant_digits,
            input_digits: d.options.input_digits,
            hidden_units,
        },
        n_in: d.n_in,
        n_out: d.n_out,
        layers,
    };
    validate(&fw).map_err(|e| bad(format!("invalid firmware: {e}")))?;
    Ok(fw)
}

const SET_FORMAT: &str = "bit2hls-set-firmware";
/// Format version of a particle-level firmware.json.
pub const SET_VERSION: u32 = 1;

/// A particle-level firmware: both chains as [`to_json`] writes them, the pool by kind and
/// size, the per-jet inputs by count (the pool's and the concatenation's types are recomputed
/// from `Φ` on reading, never trusted from the file).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetDump {
    format: String,
    version: u32,
    name: String,
    pool: PoolKind,
    particles: usize,
    /// Per-jet inputs concatenated after the pool (absent = 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    jet_features: usize,
    phi: FirmwareDump,
    rho: FirmwareDump,
}

/// The JSON text of a particle-level firmware (deterministic).
pub fn to_json_set(fw: &SetFirmware) -> String {
    let d = SetDump {
        format: SET_FORMAT.into(),
        version: SET_VERSION,
        name: fw.name.clone(),
        pool: fw.pool.kind,
        particles: fw.pool.n,
        jet_features: fw.jet_features(),
        phi: dump(&fw.phi),
        rho: dump(&fw.rho),
    };
    let mut s = serde_json::to_string(&d).expect("firmware dump serializes");
    s.push('\n');
    s
}

/// Either kind of firmware.json.
#[allow(clippy::large_enum_variant)]
pub enum AnyFirmware {
    Chain(Firmware),
    Set(SetFirmware),
}

/// Parses a firmware.json written by [`to_json`] or [`to_json_set`], validating both chains
/// and that `F` reads exactly the pool's type.
pub fn from_json_any(text: &str, path: &Path) -> Result<AnyFirmware> {
    let bad = |d: String| Error::Data {
        path: path.to_path_buf(),
        detail: d,
    };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(SET_FORMAT) {
        return from_json(text, path).map(AnyFirmware::Chain);
    }
    let d: SetDump = serde_json::from_value(v)
        .map_err(|e| bad(format!("not a bit2hls particle-level firmware dump: {e}")))?;
    if d.version != SET_VERSION {
        return Err(bad(format!(
            "format '{SET_FORMAT}' version {} (expected {SET_VERSION})",
            d.version
        )));
    }
    if !(1..=4096).contains(&d.particles) {
        return Err(bad(format!(
            "particles {} (expected 1..=4096)",
            d.particles
        )));
    }
    let phi = undump(d.phi, path, "phi: ")?;
    let rho = undump(d.rho, path, "rho: ")?;
    let pool = PoolFw::new(d.pool, d.particles, &phi).map_err(bad)?;
    let jet = match d.jet_features {
        0 => None,
        g if g > 4096 => return Err(bad(format!("jet_features {g} (expected 0..=4096)"))),
        g => Some(JetConcatFw::new(g, phi.input_type(), &pool).map_err(bad)?),
    };
    let (n, t) = match &jet {
        None => (phi.n_out, pool.out_type),
        Some(j) => (phi.n_out + j.n, j.out_type),
    };
    if rho.n_in != n || rho.input_type() != t {
        return Err(bad(format!(
            "rho reads {} values of {}, the pool{} gives {n} of {t}",
            rho.n_in,
            rho.input_type(),
            if jet.is_some() {
                " and the jet inputs"
            } else {
                ""
            }
        )));
    }
    Ok(AnyFirmware::Set(SetFirmware {
        name: d.name,
        phi,
        pool,
        jet,
        rho,
    }))
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::{ArchOrigin, Loaded};
    use crate::pipeline::{lower_for, FwOptions};
    use crate::reference::fixed::Emulator;

    /// Every profile (the in-layer-norm ones carry `center` and `dequant`), every mode.
    #[test]
    fn round_trip_keeps_every_integer() {
        for p in ProfileName::ALL {
            let mut model = crate::testutil::random_mlp(&[7, 9, 4], 5, true);
            model.profile = Profile::named(p);
            round_trip(model);
        }
    }

    fn round_trip(model: crate::ir::Model) {
        let loaded = Loaded {
            model: model.clone(),
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let xs = crate::testutil::gaussian(300 * 7, 3);
        let cal = crate::pass::calibrate::calibrate(&model, &xs);
        for mode in Mode::ALL {
            let args = FwOptions {
                mode,
                calib: None,
                input_type: None,
                input_bits: 16,
                frac_bits: 12,
                const_bits: 18,
                weight_bits: 16,
                calib_quantile: 1.0,
                ..FwOptions::default()
            };
            let fw = lower_for(&loaded, &args, mode, Some(&cal)).unwrap();
            let text = to_json(&fw);
            let back = from_json(&text, Path::new("firmware.json")).unwrap();
            assert_eq!(to_json(&back), text);
            assert_eq!(back.layers, fw.layers);
            assert_eq!(back.options, fw.options);
            assert_eq!(back.profile, fw.profile);
            assert_eq!(
                Emulator::new(&back).run_batch(&xs),
                Emulator::new(&fw).run_batch(&xs)
            );
        }
    }

    /// `firmware.json` edited by hand: the reader refuses it naming the layer and field.
    #[test]
    fn edited_files_are_refused_not_run() {
        let fw = crate::ir::validate::tests::every_kind_fw(Mode::Dynamic);
        let text = to_json(&fw);
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit); 4] = [
            ("layer #1 'fc1', scale: 5 entries, expected 6", |v| {
                v["layers"][1]["scale"].as_array_mut().unwrap().pop();
            }),
            ("layer #2 'bn1', out_type: width 0", |v| {
                v["layers"][2]["out_type"]["width"] = 0.into();
            }),
            ("layer #3 'fc2', weights: not 3x6 (n_out x n_in)", |v| {
                v["layers"][3]["weights"].as_array_mut().unwrap().pop();
            }),
            ("layer #0 'bn0', out_ranges: 5 entries, expected 9", |v| {
                v["layers"][0]["n_out"] = 9.into()
            }),
        ];
        for (want, edit) in edits {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            edit(&mut v);
            let e = from_json(&v.to_string(), Path::new("p/firmware.json")).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with("p/firmware.json: invalid firmware: "),
                "{msg}"
            );
            assert!(msg.contains(want), "{msg}\nexpected: {want}");
        }
    }

    /// A random particle-level firmware with `g` per-jet inputs.
    fn set_fw(g: usize) -> SetFirmware {
        let phi = crate::testutil::random_mlp(&[3, 4, 2], 31, true);
        let rho = crate::testutil::random_mlp(&[2 + g, 3, 2], 32, true);
        let set = crate::ir::set::SetModel {
            name: "s".into(),
            profile: phi.profile.clone(),
            particles: 3,
            features: 3,
            phi,
            pool: PoolKind::Sum,
            jet_features: g,
            rho,
            input_type: None,
        };
        let args = FwOptions {
            mode: Mode::Dynamic,
            frac_bits: 10,
            ..FwOptions::default()
        };
        crate::pipeline::lower_set_for(&set, &args, Mode::Dynamic, None).unwrap()
    }

    #[test]
    fn set_firmware_round_trips() {
        for g in [0, 2] {
            let fw = set_fw(g);
            assert_eq!(fw.jet_features(), g);
            let text = to_json_set(&fw);
            assert_eq!(text.contains("jet_features"), g > 0);
            let Ok(AnyFirmware::Set(back)) = from_json_any(&text, Path::new("f.json")) else {
                panic!("not read back as a particle-level firmware");
            };
            assert_eq!(back, fw);
            assert_eq!(to_json_set(&back), text);
        }
        let fw = set_fw(0);
        // A chain's firmware.json still reads as a chain.
        let chain = to_json(&fw.phi);
        assert!(matches!(
            from_json_any(&chain, Path::new("f.json")),
            Ok(AnyFirmware::Chain(c)) if c == fw.phi
        ));
    }

    /// An edited particle-level firmware.json is refused, naming the part and the field; the
    /// pool is recomputed from Φ, so a changed particle count cannot go unnoticed.
    #[test]
    fn edited_set_files_are_refused() {
        type Edit = fn(&mut serde_json::Value);
        let with_jet = to_json_set(&set_fw(2));
        let jet_edits: [(&str, Edit); 3] = [
            ("the pool and the jet inputs gives 5 of", |v| {
                v["jet_features"] = 3.into()
            }),
            ("rho reads 4 values of", |v| {
                v.as_object_mut().unwrap().remove("jet_features");
            }),
            ("unknown field", |v| v["jet_type"] = 1.into()),
        ];
        for (want, edit) in jet_edits {
            let mut v: serde_json::Value = serde_json::from_str(&with_jet).unwrap();
            edit(&mut v);
            let e = from_json_any(&v.to_string(), Path::new("p/firmware.json"))
                .err()
                .expect("an edited file must be refused");
            assert!(e.to_string().contains(want), "{e}\nexpected: {want}");
        }
        let text = to_json_set(&set_fw(0));
        let edits: [(&str, Edit); 4] = [
            ("rho reads 2 values of", |v| v["particles"] = 4000.into()),
            ("particles 0 (expected 1..=4096)", |v| {
                v["particles"] = 0.into()
            }),
            ("phi: invalid firmware: layer #0", |v| {
                v["phi"]["layers"][0]["scale"].as_array_mut().unwrap().pop();
            }),
            ("rho: invalid firmware: layer #1", |v| {
                v["rho"]["layers"][1]["out_type"]["width"] = 0.into();
            }),
        ];
        for (want, edit) in edits {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            edit(&mut v);
            let e = from_json_any(&v.to_string(), Path::new("p/firmware.json"))
                .err()
                .expect("an edited file must be refused");
            let msg = e.to_string();
            assert!(msg.starts_with("p/firmware.json: "), "{msg}");
            assert!(msg.contains(want), "{msg}\nexpected: {want}");
        }
    }

    #[test]
    fn rejects_foreign_json() {
        let e = from_json("{\"format\": \"x\"}", Path::new("f.json")).unwrap_err();
        assert!(e.to_string().contains("f.json"));
    }
}
