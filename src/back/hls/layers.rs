//! Per-layer code generation: the config struct (parameters.h), the weights header
//! (firmware/weights/), and the lines of the top function. Every string here is final C++;
//! the templates only lay them out.

use super::adders::accumulate_lines;
use super::lanes::{pack, LANES_PER_WORD};
use super::types::{CType, Types};
use super::view::{ArrayView, ConfigView, FnView, TopLayerView, WeightsView};
use crate::ir::firmware::{AffineFw, DenseFw, Dequant, FwKind, FwLayer, Quantizer, TernaryFw};
use crate::ir::fixed::{ceil_log2, FixedType, Interval};
use crate::project::names::Namer;
use crate::target::{AdderOptions, Strategy};

/// Everything one firmware stage contributes to the project.
pub struct LayerGen {
    pub config: ConfigView,
    pub top: TopLayerView,
    pub weights: WeightsView,
    /// File name under firmware/weights/.
    pub weights_file: String,
}

/// Where the layer reads and writes (top-function variables and their typedefs).
pub struct Io {
    pub input: String,
    pub in_t: String,
    pub output: String,
    pub out_t: String,
    /// Whether `output` must be declared (false for the top function's `y`).
    pub declare_output: bool,
}

/// A C++ integer literal.
pub fn lit(v: i64) -> String {
    if v > i32::MIN as i64 && v <= i32::MAX as i64 {
        v.to_string()
    } else {
        format!("{v}LL")
    }
}

fn hull(vals: impl IntoIterator<Item = i64>) -> Interval {
    vals.into_iter().fold(Interval::point(0), |a, v| {
        a.union(Interval::point(v as i128))
    })
}

/// Bits of the unsigned integer `v`.
fn bits_of(v: i64) -> u32 {
    64 - (v as u64).leading_zeros()
}

fn span(vals: &[i64]) -> Interval {
    let lo = vals.iter().copied().min().unwrap_or(0);
    let hi = vals.iter().copied().max().unwrap_or(0);
    Interval::new(lo as i128, hi as i128)
}

/// `(a + b)` trees, balanced: depth ceil(log2 n).
pub fn balanced_sum(terms: &[String]) -> String {
    match terms.len() {
        0 => "0".to_string(),
        1 => terms[0].clone(),
        n => format!(
            "({} + {})",
            balanced_sum(&terms[..n / 2]),
            balanced_sum(&terms[n / 2..])
        ),
    }
}

/// `Σ plus − Σ minus`, each sum a balanced tree.
pub fn add_sub_tree(plus: &[String], minus: &[String]) -> String {
    match (plus.is_empty(), minus.is_empty()) {
        (true, true) => "0".to_string(),
        (false, true) => balanced_sum(plus),
        (true, false) => format!("-{}", balanced_sum(minus)),
        (false, false) => format!("{} - {}", balanced_sum(plus), balanced_sum(minus)),
    }
}

fn init_lines(vals: &[String], per_line: usize) -> Vec<String> {
    let n = vals.chunks(per_line.max(1)).count();
    vals.chunks(per_line.max(1))
        .enumerate()
        .map(|(i, c)| format!("{}{}", c.join(", "), if i + 1 < n { "," } else { "" }))
        .collect()
}

fn array_1d(ctype: &str, name: &str, vals: &[i64]) -> ArrayView {
    let v: Vec<String> = vals.iter().map(|x| lit(*x)).collect();
    ArrayView {
        decl: format!("static const {ctype} {name}[{}]", vals.len()),
        lines: init_lines(&v, 16),
    }
}

fn partition(var: &str) -> String {
    format!("#pragma HLS ARRAY_PARTITION variable={var} complete dim=0")
}

struct Cfg {
    name: String,
    typedefs: Vec<(String, String)>,
    consts: Vec<String>,
}

impl Cfg {
    fn new(name: String) -> Cfg {
        Cfg {
            name,
            typedefs: Vec::new(),
            consts: Vec::new(),
        }
    }
    fn ty(&mut self, types: &mut Types, t: CType, alias: &str) {
        self.typedefs.push((types.name(t), alias.to_string()));
    }
    fn int(&mut self, name: &str, v: i64) {
        if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
            self.consts.push(format!("static const int {name} = {v};"));
        } else {
            self.consts
                .push(format!("static const long long {name} = {v}LL;"));
        }
    }
    fn unsigned(&mut self, name: &str, v: usize) {
        self.consts.push(format!("static const int {name} = {v};"));
    }
    fn boolean(&mut self, name: &str, v: bool) {
        self.consts.push(format!("static const bool {name} = {v};"));
    }
    fn view(self, comment: String) -> ConfigView {
        ConfigView {
            name: self.name,
            comment,
            typedefs: self.typedefs,
            consts: self.consts,
        }
    }
}

fn out_int(layer: &FwLayer) -> CType {
    CType::code_of(layer.out_type)
}

/// How a stage is implemented: the project's strategy, reuse factor and adder structure.
#[derive(Clone, Copy, Debug)]
pub struct Impl {
    pub strategy: Strategy,
    pub reuse: usize,
    pub adders: AdderOptions,
}

/// Generates one stage. `index` is 0-based; `in_ranges` are the proven ranges of its inputs.
pub fn gen_layer(
    index: usize,
    layer: &FwLayer,
    in_ranges: &[Interval],
    io: &Io,
    imp: &Impl,
    types: &mut Types,
) -> LayerGen {
    let sym = Namer::layer(index, &layer.name);
    let cfg_name = format!("config{}", index + 1);
    match &layer.kind {
        FwKind::Ternary(t) => ternary(index, layer, t, &sym, &cfg_name, io, imp, types),
        FwKind::Dense(d) => dense(index, layer, d, in_ranges, &sym, &cfg_name, io, imp, types),
        FwKind::Affine(a) => affine(index, layer, a, &sym, &cfg_name, io, types),
    }
}

fn header_comment(index: usize, layer: &FwLayer, what: &str) -> String {
    format!(
        "{} (#{}): {what} {} -> {}{}",
        layer.name,
        index + 1,
        layer.n_in,
        layer.n_out,
        if layer.relu { ", ReLU" } else { "" }
    )
}

#[allow(clippy::too_many_arguments)]
fn ternary(
    index: usize,
    layer: &FwLayer,
    t: &TernaryFw,
    sym: &str,
    cfg_name: &str,
    io: &Io,
    imp: &Impl,
    types: &mut Types,
) -> LayerGen {
    let mut c = Cfg::new(cfg_name.to_string());
    c.unsigned("n_in", layer.n_in);
    c.unsigned("n_out", layer.n_out);
    c.boolean("relu", layer.relu);
    c.ty(types, CType::int_of(t.code_range), "code_t");
    c.ty(types, CType::code_of(t.acc_type), "acc_t");
    c.ty(
        types,
        CType::int_of(hull(t.scale.iter().copied())),
        "scale_t",
    );
    c.ty(types, CType::int_of(hull(t.bias.iter().copied())), "bias_t");
    c.ty(types, CType::code_of(t.dequant_type), "dq_t");
    let bias_span = span(&t.bias);
    let dq = t.dequant_type.interval();
    if let Some(cen) = &t.center {
        c.ty(types, CType::code_of(cen.sum_type), "sum_t");
        c.ty(types, CType::code_of(cen.u_type), "u_t");
    }
    let (mode, pre) = match &t.quant {
        Quantizer::Dynamic {
            m_type,
            m_floor,
            guard,
            e_type,
            recip_type,
            prod_type,
        } => {
            // e ≤ bitlen(max code of M) = width of M; the numerator Q·2^(G+e) + floor(M/2).
            let s_max = guard + m_type.width as i32;
            let num = Interval::new(0, ((t.qmax as i128) << s_max) + m_type.max_code() / 2);
            c.ty(types, CType::code_of(*m_type), "m_t");
            c.ty(types, CType::code_of(*e_type), "e_t");
            c.ty(types, CType::int_of(num), "num_t");
            c.ty(types, CType::code_of(*recip_type), "recip_t");
            c.ty(types, CType::code_of(*prod_type), "prod_t");
            c.int("m_floor", *m_floor);
            c.int("qmax", t.qmax);
            c.int("guard", *guard as i64);
            c.int(
                "e_bits",
                e_type.width.max(bits_of(m_type.width as i64)) as i64,
            );
            c.int("s_max", s_max as i64);
            ("dynamic", dq.shift_round(t.shift))
        }
        Quantizer::Pow2 {
            m_type,
            m_floor,
            e_max,
            e_type,
            prod_type,
        } => {
            c.ty(types, CType::code_of(*m_type), "m_t");
            c.ty(types, CType::code_of(*e_type), "e_t");
            c.ty(
                types,
                CType::int_of(Interval::point(t.qmax as i128)),
                "qmax_t",
            );
            c.ty(types, CType::code_of(*prod_type), "prod_t");
            c.int("m_floor", *m_floor);
            c.int("qmax", t.qmax);
            c.int("e_max", *e_max as i64);
            c.int("e_bits", e_type.width as i64);
            c.int("shift_max", t.shift.max(1) as i64);
            let e_min = ceil_log2(*m_floor);
            let pre = (e_min..=*e_max)
                .map(|e| {
                    let s = t.shift - e;
                    if s <= 0 {
                        dq
                    } else {
                        dq.shift_round(s)
                    }
                })
                .reduce(Interval::union)
                .unwrap_or(dq);
            ("pow2", pre)
        }
        Quantizer::Static {
            recip,
            recip_frac,
            prod_type,
            ..
        } => {
            c.ty(
                types,
                CType::int_of(Interval::point(*recip as i128)),
                "recip_t",
            );
            c.ty(types, CType::code_of(*prod_type), "prod_t");
            c.int("recip", *recip);
            c.int("recip_frac", *recip_frac as i64);
            ("static", dq.shift_round(t.shift))
        }
        Quantizer::Codes { .. } => ("codes", dq.shift_round(t.shift)),
    };
    let requant = matches!(t.dequant, Dequant::Requant { .. });
    let code_units = t.dequant == Dequant::CodeUnits;
    let pre = if code_units {
        dq.shift_round(t.shift)
    } else {
        pre
    };
    c.int("clamp_lo", t.clamp.0);
    c.int("clamp_hi", t.clamp.1);
    c.int("shift", t.shift as i64);
    let pre_t = if requant {
        // clamp(rnd(acc·E + H, shift)): the bias is inside the product's type (dq_t).
        pre.clamp(t.clamp.0 as i128, t.clamp.1 as i128)
    } else {
        pre.add(bias_span)
    };
    c.ty(types, CType::int_of(pre_t), "pre_t");
    c.ty(types, out_int(layer), "out_int_t");

    let w = &t.weights;
    let nz = w.data.iter().filter(|&&v| v != 0).count();
    let plus = w.data.iter().filter(|&&v| v == 1).count();
    let mut weights = WeightsView {
        guard: format!("WEIGHTS_{}_H_", sym.to_uppercase()),
        comment: format!(
            "{}: ternary {}x{}; {} non-zero weights (+1: {}, -1: {}), {} zeros generate no code",
            layer.name,
            layer.n_out,
            layer.n_in,
            nz,
            plus,
            nz - plus,
            w.data.len() - nz
        ),
        arrays: vec![
            array_1d(
                &format!("{cfg_name}::scale_t"),
                &format!("{sym}_scale"),
                &t.scale,
            ),
            array_1d(
                &format!("{cfg_name}::bias_t"),
                &format!("{sym}_bias"),
                &t.bias,
            ),
        ],
        function: None,
    };
    let q = format!("{sym}_q");
    let acc = format!("{sym}_acc");
    let (strategy, reuse) = (imp.strategy, imp.reuse);
    let accumulate = match strategy {
        Strategy::Latency => {
            let body = accumulate_lines(w, t.code_range, imp.adders);
            // The canonical record of the weights (2-bit lanes, reuse-1 layout); the trees below
            // are the code, so this array is not referenced by the latency strategy.
            let p = pack(w, 1);
            let words: Vec<String> = p.rows[0].iter().map(|x| format!("0x{x:016x}ULL")).collect();
            weights.arrays.push(ArrayView {
                decl: format!("static const ap_uint<64> {sym}_lanes[1][{}]", p.words),
                lines: {
                    let mut l: Vec<String> = init_lines(&words, 4)
                        .into_iter()
                        .map(|x| format!("    {x}"))
                        .collect();
                    l.insert(0, "{".to_string());
                    l.push("}".to_string());
                    l
                },
            });
            weights.function = Some(FnView {
                signature: format!(
                    "inline void {sym}_accumulate(const {cfg_name}::code_t q[{}], {cfg_name}::acc_t acc[{}])",
                    layer.n_in, layer.n_out
                ),
                pragmas: vec!["#pragma HLS INLINE".to_string()],
                body,
            });
            format!("{sym}_accumulate({q}, {acc});")
        }
        Strategy::Resource => {
            let p = pack(w, reuse);
            c.unsigned("reuse", reuse);
            c.unsigned("block", p.block);
            c.unsigned("n_words", p.words);
            let mut lines = Vec::new();
            for (r, row) in p.rows.iter().enumerate() {
                let words: Vec<String> = row.iter().map(|x| format!("0x{x:016x}ULL")).collect();
                let body = init_lines(&words, 4).join(" ");
                lines.push(format!(
                    "{{{body}}}{}",
                    if r + 1 < p.rows.len() { "," } else { "" }
                ));
            }
            weights.arrays.push(ArrayView {
                decl: format!(
                    "static const ap_uint<64> {sym}_lanes[{}][{}]",
                    reuse, p.words
                ),
                lines,
            });
            weights.comment.push_str(&format!(
                "; resource strategy: reuse {reuse}, {} lanes per ROM row in {} words of {} lanes",
                p.block, p.words, LANES_PER_WORD
            ));
            format!("nnet::b2h_accumulate_ternary_rom<{cfg_name}>({q}, {acc}, {sym}_lanes);")
        }
    };
    let mut lines = Vec::new();
    if io.declare_output {
        lines.push(format!("{} {}[{}];", io.out_t, io.output, layer.n_out));
        lines.push(partition(&io.output));
    }
    lines.push(format!("{cfg_name}::code_t {q}[{}];", layer.n_in));
    lines.push(partition(&q));
    lines.push(format!("{cfg_name}::acc_t {acc}[{}];", layer.n_out));
    lines.push(partition(&acc));
    let (inp, outp, scale, bias) = (
        &io.input,
        &io.output,
        format!("{sym}_scale"),
        format!("{sym}_bias"),
    );
    let (inp, in_t) = match &t.center {
        Some(_) => {
            let u = format!("{sym}_u");
            lines.push(format!("{cfg_name}::u_t {u}[{}];", layer.n_in));
            lines.push(partition(&u));
            lines.push(format!(
                "nnet::b2h_center<{}, {cfg_name}>({inp}, {u});",
                io.in_t
            ));
            (u, format!("{cfg_name}::u_t"))
        }
        None => (inp.clone(), io.in_t.clone()),
    };
    let io_in_t = &in_t;
    if code_units {
        let quant = match mode {
            "dynamic" => {
                lines.push(format!("{cfg_name}::m_t {sym}_m;"));
                format!("nnet::b2h_quantize_dynamic<{io_in_t}, {cfg_name}>({inp}, {q}, {sym}_m);")
            }
            "pow2" => {
                lines.push(format!("{cfg_name}::e_t {sym}_e;"));
                format!("nnet::b2h_quantize_pow2<{io_in_t}, {cfg_name}>({inp}, {q}, {sym}_e);")
            }
            _ => format!("nnet::b2h_quantize_static<{io_in_t}, {cfg_name}>({inp}, {q});"),
        };
        lines.push(quant);
        lines.push(accumulate);
        lines.push(format!(
            "nnet::b2h_dequantize_static<{}, {cfg_name}>({acc}, {scale}, {bias}, {outp});",
            io.out_t
        ));
        let comment = header_comment(
            index,
            layer,
            &format!("ternary, {}, code-unit output", mode_name(mode)),
        );
        return LayerGen {
            config: c.view(comment.clone()),
            top: TopLayerView { comment, lines },
            weights,
            weights_file: format!("{sym}.h"),
        };
    }
    let inp = &inp;
    match mode {
        "dynamic" => {
            lines.push(format!("{cfg_name}::m_t {sym}_m;"));
            lines.push(format!(
                "nnet::b2h_quantize_dynamic<{}, {cfg_name}>({inp}, {q}, {sym}_m);",
                io_in_t
            ));
            lines.push(accumulate);
            lines.push(format!(
                "nnet::b2h_dequantize_dynamic<{}, {cfg_name}>({acc}, {sym}_m, {scale}, {bias}, {outp});",
                io.out_t
            ));
        }
        "pow2" => {
            lines.push(format!("{cfg_name}::e_t {sym}_e;"));
            lines.push(format!(
                "nnet::b2h_quantize_pow2<{}, {cfg_name}>({inp}, {q}, {sym}_e);",
                io_in_t
            ));
            lines.push(accumulate);
            lines.push(format!(
                "nnet::b2h_dequantize_pow2<{}, {cfg_name}>({acc}, {sym}_e, {scale}, {bias}, {outp});",
                io.out_t
            ));
        }
        _ => {
            let quant = if mode == "codes" { "codes" } else { "static" };
            let dequant = if requant {
                "requantize"
            } else {
                "dequantize_static"
            };
            lines.push(format!(
                "nnet::b2h_quantize_{quant}<{}, {cfg_name}>({inp}, {q});",
                io_in_t
            ));
            lines.push(accumulate);
            lines.push(format!(
                "nnet::b2h_{dequant}<{}, {cfg_name}>({acc}, {scale}, {bias}, {outp});",
                io.out_t
            ));
        }
    }
    let comment = header_comment(index, layer, &format!("ternary, {}", mode_name(mode)));
    LayerGen {
        config: c.view(comment.clone()),
        top: TopLayerView { comment, lines },
        weights,
        weights_file: format!("{sym}.h"),
    }
}

fn mode_name(m: &str) -> &'static str {
    if m == "codes" {
        return "static (codes from the previous stage)";
    }
    match m {
        "dynamic" => "dynamic",
        "pow2" => "dynamic-pow2",
        _ => "static",
    }
}

#[allow(clippy::too_many_arguments)]
fn dense(
    index: usize,
    layer: &FwLayer,
    d: &DenseFw,
    in_ranges: &[Interval],
    sym: &str,
    cfg_name: &str,
    io: &Io,
    imp: &Impl,
    types: &mut Types,
) -> LayerGen {
    let mut c = Cfg::new(cfg_name.to_string());
    c.unsigned("n_in", layer.n_in);
    c.unsigned("n_out", layer.n_out);
    c.boolean("relu", layer.relu);
    // Every partial sum in any order lies in Σ_k hull(0, range_k · w_nk).
    let accw = (0..d.weights.rows)
        .map(|n| {
            d.weights
                .row(n)
                .iter()
                .zip(in_ranges)
                .fold(Interval::point(0), |a, (&w, r)| {
                    let term = r.mul(Interval::point(w as i128)).union(Interval::point(0));
                    a.add(term)
                })
        })
        .reduce(Interval::union)
        .unwrap_or(Interval::point(0));
    let acc_int = FixedType {
        frac: 0,
        ..d.acc_type
    };
    c.ty(types, CType::code_of(acc_int), "acc_t");
    c.ty(types, CType::int_of(accw), "accw_t");
    c.ty(
        types,
        CType::code_of(FixedType {
            frac: 0,
            ..d.weight_type
        }),
        "weight_t",
    );
    c.ty(types, CType::int_of(hull(d.bias.iter().copied())), "bias_t");
    let pre = acc_int.interval().shift_round(d.shift).add(span(&d.bias));
    c.ty(types, CType::int_of(pre), "pre_t");
    c.ty(types, out_int(layer), "out_int_t");
    c.int("shift", d.shift as i64);
    let nz = d.weights.data.iter().filter(|&&v| v != 0).count();
    let mut weights = WeightsView {
        guard: format!("WEIGHTS_{}_H_", sym.to_uppercase()),
        comment: format!(
            "{}: full-precision {}x{} (weights {} with {} fractional bits); {} non-zero",
            layer.name, layer.n_out, layer.n_in, d.weight_type, d.weight_type.frac, nz
        ),
        arrays: vec![array_1d(
            &format!("{cfg_name}::bias_t"),
            &format!("{sym}_bias"),
            &d.bias,
        )],
        function: None,
    };
    let acc = format!("{sym}_acc");
    let (strategy, reuse) = (imp.strategy, imp.reuse);
    let accumulate = match strategy {
        Strategy::Latency => {
            let body = (0..d.weights.rows)
                .map(|n| {
                    let terms: Vec<String> = d
                        .weights
                        .row(n)
                        .iter()
                        .enumerate()
                        .filter(|(_, &w)| w != 0)
                        .map(|(k, &w)| {
                            format!("nnet::b2h_code(x[{k}]) * {cfg_name}::weight_t({})", lit(w))
                        })
                        .collect();
                    format!("acc[{n}] = {};", balanced_sum(&terms))
                })
                .collect();
            weights.function = Some(FnView {
                signature: format!(
                    "inline void {sym}_accumulate(const {} x[{}], {cfg_name}::acc_t acc[{}])",
                    io.in_t, layer.n_in, layer.n_out
                ),
                pragmas: vec!["#pragma HLS INLINE".to_string()],
                body,
            });
            format!("{sym}_accumulate({}, {acc});", io.input)
        }
        Strategy::Resource => {
            let total = d.weights.data.len();
            let block = total / reuse;
            c.unsigned("reuse", reuse);
            c.unsigned("block", block);
            let mut lines = Vec::new();
            for r in 0..reuse {
                let row: Vec<String> = (0..block)
                    .map(|j| lit(d.weights.data[r + reuse * j]))
                    .collect();
                lines.push(format!(
                    "{{{}}}{}",
                    row.join(", "),
                    if r + 1 < reuse { "," } else { "" }
                ));
            }
            weights.arrays.push(ArrayView {
                decl: format!("static const {cfg_name}::weight_t {sym}_w[{reuse}][{block}]"),
                lines,
            });
            format!(
                "nnet::b2h_dense_rom<{}, {cfg_name}>({}, {acc}, {sym}_w);",
                io.in_t, io.input
            )
        }
    };
    let mut lines = Vec::new();
    if io.declare_output {
        lines.push(format!("{} {}[{}];", io.out_t, io.output, layer.n_out));
        lines.push(partition(&io.output));
    }
    lines.push(format!("{cfg_name}::acc_t {acc}[{}];", layer.n_out));
    lines.push(partition(&acc));
    lines.push(accumulate);
    lines.push(format!(
        "nnet::b2h_requantize<{}, {cfg_name}>({acc}, {sym}_bias, {});",
        io.out_t, io.output
    ));
    let comment = header_comment(index, layer, "full-precision dense");
    LayerGen {
        config: c.view(comment.clone()),
        top: TopLayerView { comment, lines },
        weights,
        weights_file: format!("{sym}.h"),
    }
}

fn affine(
    index: usize,
    layer: &FwLayer,
    a: &AffineFw,
    sym: &str,
    cfg_name: &str,
    io: &Io,
    types: &mut Types,
) -> LayerGen {
    let mut c = Cfg::new(cfg_name.to_string());
    c.unsigned("n_in", layer.n_in);
    c.boolean("relu", layer.relu);
    c.ty(types, CType::code_of(a.prod_type), "prod_t");
    c.ty(
        types,
        CType::int_of(hull(a.scale.iter().copied())),
        "scale_t",
    );
    c.ty(types, CType::int_of(hull(a.bias.iter().copied())), "bias_t");
    let pre = a
        .prod_type
        .interval()
        .shift_round(a.shift)
        .add(span(&a.bias));
    c.ty(types, CType::int_of(pre), "pre_t");
    c.ty(types, out_int(layer), "out_int_t");
    c.int("shift", a.shift as i64);
    let weights = WeightsView {
        guard: format!("WEIGHTS_{}_H_", sym.to_uppercase()),
        comment: format!(
            "{}: per-channel affine over {} channels (scale frac {})",
            layer.name, layer.n_in, a.scale_frac
        ),
        arrays: vec![
            array_1d(
                &format!("{cfg_name}::scale_t"),
                &format!("{sym}_scale"),
                &a.scale,
            ),
            array_1d(
                &format!("{cfg_name}::bias_t"),
                &format!("{sym}_bias"),
                &a.bias,
            ),
        ],
        function: None,
    };
    let mut lines = Vec::new();
    if io.declare_output {
        lines.push(format!("{} {}[{}];", io.out_t, io.output, layer.n_out));
        lines.push(partition(&io.output));
    }
    lines.push(format!(
        "nnet::b2h_affine<{}, {}, {cfg_name}>({}, {sym}_scale, {sym}_bias, {});",
        io.in_t, io.out_t, io.input, io.output
    ));
    let comment = header_comment(index, layer, "affine");
    LayerGen {
        config: c.view(comment.clone()),
        top: TopLayerView { comment, lines },
        weights,
        weights_file: format!("{sym}.h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn trees_are_balanced() {
        let t: Vec<String> = (0..5).map(|k| format!("q[{k}]")).collect();
        assert_eq!(balanced_sum(&t), "((q[0] + q[1]) + (q[2] + (q[3] + q[4])))");
        assert_eq!(add_sub_tree(&t[..1], &t[1..3]), "q[0] - (q[1] + q[2])");
        assert_eq!(add_sub_tree(&[], &t[..1]), "-q[0]");
        assert_eq!(add_sub_tree(&t[..1], &t[1..2]), "q[0] - q[1]");
        assert_eq!(add_sub_tree(&[], &[]), "0");
        assert_eq!(lit(3_000_000_000), "3000000000LL");
    }
}
