//! Adder sharing speed: `cmvm::shared` on the anchor's 64x256 and 256x256 matrices (1/3 zeros),
//! depth-capped (dc = 0) and uncapped, automatic variant count, one variant alone too. Prints wall
//! and process CPU seconds (the machine may be shared). `cargo bench --bench cmvm [-- REPS]`.

use bit2hls::cmvm::{auto_tries, shared, variant, Options};
use bit2hls::ir::Matrix;
use std::path::Path;
use std::time::Instant;

/// User + system CPU seconds of this process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn load(file: &str) -> Matrix<i8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cmvm")
        .join(file);
    let a: ndarray::Array2<i8> = ndarray_npy::read_npy(&p).expect("matrix");
    let (rows, cols) = a.dim();
    Matrix::new(rows, cols, a.iter().copied().collect())
}

fn main() {
    let reps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    println!("| matrix | config | tries | adders | depth | wall s (median) | cpu s (median) |");
    println!("|---|---|---|---|---|---|---|");
    for file in ["64x256_z33.npy", "256x256_z33.npy"] {
        let w = load(file);
        for (name, cap) in [("dc0", Some(0)), ("uncapped", None)] {
            for tries in [1, 0] {
                let o = Options {
                    max_extra_depth: cap,
                    per_output: false,
                    tries,
                };
                let (mut wall, mut cpu, mut g) = (Vec::new(), Vec::new(), None);
                for _ in 0..reps {
                    let (t, c) = (Instant::now(), cpu_seconds());
                    g = Some(if tries == 1 {
                        variant(&w, &o, 0)
                    } else {
                        shared(&w, &o)
                    });
                    wall.push(t.elapsed().as_secs_f64());
                    cpu.push(cpu_seconds() - c);
                }
                wall.sort_by(f64::total_cmp);
                cpu.sort_by(f64::total_cmp);
                let g = g.expect("reps ≥ 1");
                let n = if tries == 0 { auto_tries(&w) } else { tries };
                println!(
                    "| {file} | {name} | {n} | {} | {} | {:.3} | {:.2} |",
                    g.adders.len(),
                    g.depth(),
                    wall[reps / 2],
                    cpu[reps / 2]
                );
            }
        }
    }
}
