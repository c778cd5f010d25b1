//! Emulator throughput: the fast lane emulator (and the reference) on random ternary MLPs, all
//! three modes. Reports wall-clock events/s and, because the machine may be shared, events per
//! CPU-second of the process scaled by the thread count ("cpu-norm": the rate with the cores to
//! ourselves). `cargo bench --bench emulator [-- EVENTS_SMALL EVENTS_BIG REPS]`.

use bit2hls::back::emu::fast::FastEmulator;
use bit2hls::front::{ArchOrigin, Loaded};
use bit2hls::ir::firmware::Mode;
use bit2hls::pipeline::{lower_for, FwOptions};
use bit2hls::reference::fixed::Emulator;
use bit2hls::testutil::{gaussian, random_mlp};
use std::time::Instant;

/// User + system CPU seconds of this process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state is index 0, utime is field 14 overall → index 11 here.
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn measure(events: usize, reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let threads = rayon::current_num_threads() as f64;
    let (mut wall, mut norm) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let c0 = cpu_seconds();
        let t = Instant::now();
        f();
        let dt = t.elapsed().as_secs_f64();
        let dc = (cpu_seconds() - c0).max(0.01);
        wall.push(events as f64 / dt);
        norm.push(events as f64 / (dc / threads));
    }
    (median(wall), median(norm))
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let small = args.first().copied().unwrap_or(1_000_000);
    let big = args.get(1).copied().unwrap_or(100_000);
    let reps = args.get(2).copied().unwrap_or(5);
    println!(
        "threads {}, reps {reps} (median)",
        rayon::current_num_threads()
    );
    println!("| model | mode | events | fast kernel | fast ev/s wall | fast ev/s cpu-norm | reference ev/s wall | ref cpu-norm |");
    println!("|---|---|---|---|---|---|---|---|");
    for (widths, events) in [
        (&[16usize, 64, 32, 32, 5][..], small),
        (&[64, 256, 256, 256, 10][..], big),
    ] {
        for mode in Mode::ALL {
            let loaded = Loaded {
                model: random_mlp(widths, 1234, false),
                origin: ArchOrigin::Inferred,
                notes: vec![],
                task: Default::default(),
            };
            let fw_args = FwOptions {
                mode,
                input_type: Some("ap_fixed<16,6>".into()),
                ..FwOptions::default()
            };
            let cal = (mode == Mode::Static).then(|| {
                bit2hls::pass::calibrate::calibrate(&loaded.model, &gaussian(4096 * widths[0], 7))
            });
            let fw = lower_for(&loaded, &fw_args, mode, cal.as_ref()).unwrap();
            let x = gaussian(events * widths[0], 99);
            let fast = FastEmulator::new(&fw);
            let (fw_wall, fw_norm) = measure(events, reps, || {
                std::hint::black_box(fast.run_batch(&x));
            });
            let refn = (events / 20).max(1000).min(events);
            let reference = Emulator::new(&fw);
            let (r_wall, r_norm) = measure(refn, 1.max(reps / 2), || {
                std::hint::black_box(reference.run_batch(&x[..refn * widths[0]]));
            });
            let shape = widths
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("-");
            println!(
                "| {shape} | {mode} | {events} | {} | {fw_wall:.0} | {fw_norm:.0} | {r_wall:.0} | {r_norm:.0} |",
                fast.kernel()
            );
        }
    }
}
