//! `bit2hls cmvm W.npy`: adder sharing on one ternary matrix `[out, in]`, plain trees vs
//! shared adders, as JSON; exits non-zero when the shared graph does not reproduce W.

use crate::cmvm::{plain, shared, Graph, Options};
use crate::ir::fixed::Interval;
use crate::ir::Matrix;
use anyhow::{bail, Context};
use clap::Args;
use ndarray::Array2;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct CmvmArgs {
    /// Ternary weight matrix `[out, in]` (.npy; int8/16/32/64 or float with values in {-1, 0, 1}).
    pub matrix: PathBuf,
    /// Input interval LO,HI (integers) for the bit cost.
    #[arg(long, default_value = "-128,127", allow_hyphen_values = true)]
    pub input_range: String,
    /// Depth cap: extra adder levels over the plain-tree depth.
    #[arg(long, default_value_t = 0, conflicts_with = "no_depth_cap")]
    pub max_extra_depth: u32,
    /// No depth cap.
    #[arg(long)]
    pub no_depth_cap: bool,
    /// Cap each output at its own plain depth (default: the layer's, i.e. the densest row's).
    #[arg(long)]
    pub per_output: bool,
    /// Greedy variants to run (the best is kept); 0 = automatic (8, fewer for large matrices).
    #[arg(long, default_value_t = 0)]
    pub tries: u32,
    /// Also write both circuits as pipelined Verilog modules (`DIR/cmvm_plain/rtl/cmvm_plain.v`,
    /// `DIR/cmvm_shared/rtl/cmvm_shared.v`, each with a Yosys `synth.ys`), for `bit2hls synth`.
    #[arg(long)]
    pub verilog: Option<PathBuf>,
    /// With --verilog: adder levels between pipeline registers.
    #[arg(long, default_value_t = 4)]
    pub adders_per_stage: u32,
}

pub fn run(a: CmvmArgs) -> anyhow::Result<i32> {
    let w = read_ternary(&a.matrix)?;
    let input = parse_range(&a.input_range)?;
    let o = Options {
        max_extra_depth: (!a.no_depth_cap).then_some(a.max_extra_depth),
        per_output: a.per_output,
        tries: a.tries,
    };
    let t0 = Instant::now();
    let p = plain(&w);
    let tp = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let s = shared(&w, &o);
    let ts = t1.elapsed().as_secs_f64();
    let check = check(&w, &s, input);
    let out = json!({
        "matrix": a.matrix.display().to_string(),
        "shape": [w.rows, w.cols],
        "nnz": w.data.iter().filter(|&&v| v != 0).count(),
        "input_range": [input.lo as i64, input.hi as i64],
        "max_extra_depth": o.max_extra_depth,
        "per_output": o.per_output,
        "tries": if o.tries == 0 { crate::cmvm::auto_tries(&w) } else { o.tries },
        "plain": summary(&p, input, tp),
        "shared": summary(&s, input, ts),
        "check": check.as_ref().map_or_else(|e| json!({"ok": false, "error": e}), |n| json!({"ok": true, "vectors": n})),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    if let Some(dir) = &a.verilog {
        write_verilog(dir, &w, input, &a, o.max_extra_depth)?;
    }
    if let Err(e) = check {
        eprintln!(
            "error: {}: shared graph does not reproduce W: {e}",
            a.matrix.display()
        );
        return Ok(1);
    }
    Ok(0)
}

fn summary(g: &Graph, input: Interval, seconds: f64) -> serde_json::Value {
    json!({
        "adders": g.adders.len(),
        "depth": g.depth(),
        "bit_cost": g.bit_cost(input),
        "da4ml_bits": g.da4ml_bits(input),
        "negated_outputs": g.outputs.iter().flatten().filter(|t| t.neg).count(),
        "seconds": (seconds * 1e4).round() / 1e4,
    })
}

/// `LO,HI` → interval.
fn parse_range(s: &str) -> anyhow::Result<Interval> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad =
        || format!("--input-range '{s}': expected LO,HI with integers LO ≤ HI, e.g. -128,127");
    let [lo, hi] = parts.as_slice() else {
        bail!(bad());
    };
    let lo: i64 = lo.parse().with_context(bad)?;
    let hi: i64 = hi.parse().with_context(bad)?;
    anyhow::ensure!(
        lo <= hi && lo.abs() < (1 << 40) && hi.abs() < (1 << 40),
        bad()
    );
    Ok(Interval::new(lo.into(), hi.into()))
}

/// Reads a 2-D .npy of any integer or float dtype whose values are all in {-1, 0, 1}.
pub fn read_ternary(path: &Path) -> anyhow::Result<Matrix<i8>> {
    let vals = read_f64(path)?;
    let (rows, cols) = vals.dim();
    let mut data = Vec::with_capacity(rows * cols);
    for ((r, c), &v) in vals.indexed_iter() {
        if v != -1.0 && v != 0.0 && v != 1.0 {
            bail!(
                "{}: element [{r}, {c}] is {v}: expected a ternary matrix (values -1, 0, 1)",
                path.display()
            );
        }
        data.push(v as i8);
    }
    Ok(Matrix::new(rows, cols, data))
}

fn read_f64(path: &Path) -> anyhow::Result<Array2<f64>> {
    use ndarray_npy::read_npy;
    macro_rules! try_as {
        ($t:ty) => {
            if let Ok(a) = read_npy::<_, Array2<$t>>(path) {
                return Ok(a.mapv(|v| v as f64));
            }
        };
    }
    try_as!(i8);
    try_as!(i16);
    try_as!(i32);
    try_as!(i64);
    try_as!(u8);
    try_as!(f32);
    try_as!(f64);
    match read_npy::<_, Array2<f64>>(path) {
        Ok(a) => Ok(a),
        Err(e) => bail!(
            "{}: cannot read a 2-D .npy matrix [out, in] of int8/16/32/64, uint8, float32 or float64 ({e})",
            path.display()
        ),
    }
}

/// Checks `g` against `w`: exact coefficients, every unit vector, and 16 random vectors in
/// `input`; returns the number of vectors evaluated.
fn check(w: &Matrix<i8>, g: &Graph, input: Interval) -> Result<usize, String> {
    if !g.reproduces(w) {
        return Err("coefficients differ".into());
    }
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let span = (input.hi - input.lo + 1) as u64;
    let mut vectors: Vec<Vec<i64>> = (0..w.cols)
        .map(|i| (0..w.cols).map(|j| i64::from(i == j)).collect())
        .collect();
    for _ in 0..16 {
        let x = (0..w.cols)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.lo as i64 + (seed % span) as i64
            })
            .collect();
        vectors.push(x);
    }
    for x in &vectors {
        let want: Vec<i64> = (0..w.rows)
            .map(|r| {
                w.row(r)
                    .iter()
                    .zip(x)
                    .map(|(&c, &v)| i64::from(c) * v)
                    .sum()
            })
            .collect();
        if g.eval(x) != want {
            return Err(format!("wrong result for input {x:?}"));
        }
    }
    Ok(vectors.len())
}

/// Writes the plain and the shared circuit of `w` on inputs in `input` as Verilog projects.
fn write_verilog(
    dir: &Path,
    w: &Matrix<i8>,
    input: Interval,
    a: &CmvmArgs,
    cap: Option<u32>,
) -> anyhow::Result<()> {
    use crate::estimate::cmvm::cmvm_netlist_on;
    use crate::hw::schedule::{schedule, PipelineOptions};
    use crate::target::{AdderOptions, Adders};
    anyhow::ensure!(a.adders_per_stage >= 1, "--adders-per-stage: at least 1");
    for adders in [Adders::Trees, Adders::Shared] {
        let name = format!(
            "cmvm_{}",
            if adders == Adders::Trees {
                "plain"
            } else {
                "shared"
            }
        );
        let pipeline = PipelineOptions {
            adders_per_stage: a.adders_per_stage,
            adders: AdderOptions {
                adders,
                max_extra_depth: cap,
                requant: Default::default(),
            },
            const_mul: Default::default(),
        };
        let netlist = cmvm_netlist_on(w, input, pipeline.adders);
        let schedule = schedule(&netlist, pipeline);
        let d = crate::hw::Design {
            netlist,
            schedule,
            pipeline,
        };
        let title = format!(
            "{}: y = W·x, W {}x{} from {}",
            name,
            w.rows,
            w.cols,
            a.matrix.display()
        );
        let in_t = crate::ir::fixed::FixedType::fitting(input, 0);
        let in_name = format!("{}int{}", if in_t.signed { "" } else { "u" }, in_t.width);
        let text = crate::back::rtl::module_text(&d, &name, &title, &in_name, "int")?;
        let pdir = dir.join(&name);
        std::fs::create_dir_all(pdir.join("rtl"))?;
        std::fs::write(pdir.join("rtl").join(format!("{name}.v")), text)?;
        std::fs::write(
            pdir.join("synth.ys"),
            format!("read_verilog rtl/{name}.v\nsynth_xilinx -family xcup -flatten -top {name}\nstat\nltp -noff\n"),
        )?;
        eprintln!("wrote {} ({} cycles)", pdir.display(), d.latency());
    }
    Ok(())
}
