//! report.html: self-contained, complete, consistent, escaped, stable (insta snapshots), and
//! rendered by headless Chromium into a non-trivial screenshot with the expected DOM.
//!
//! The fixture (a 16-64-32-32-2 tagger on the VU9P at 200 MHz, fake but plausible estimates for
//! the three modes) and its screenshot are left in `target/tmp/report_html/` for inspection
//! (`scripts/check_report.sh` takes screenshots of any report). Update the snapshots with
//! `INSTA_UPDATE=always cargo test --test report_html`.

use bit2hls::estimate::verdict::{Verdict, VerdictOptions};
use bit2hls::estimate::{Backend, Estimate, LayerEstimate, Resources};
use bit2hls::ir::firmware::Mode;
use bit2hls::report::view::NO_DATA;
use bit2hls::report::{render_html, ModeEntry, ReportInput, ValidationSummary};
use bit2hls::target::parts::{lookup, Part};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LAYERS: [(&str, &str, usize, usize); 4] = [
    ("fc1", "ternary", 16, 64),
    ("fc2", "ternary", 64, 32),
    ("fc3", "ternary", 32, 32),
    ("out", "dense", 32, 2),
];

/// Plausible per-layer (LUT, FF, DSP, cycles) of the static mode.
const BASE: [(u64, u64, u64, u32); 4] = [
    (3_950, 2_700, 0, 2),
    (6_120, 3_480, 0, 3),
    (3_180, 1_920, 0, 3),
    (410, 820, 64, 3),
];

/// The design's own logic: I/O registers and the valid pipeline.
const OWN: Resources = Resources {
    lut: 120,
    ff: 576,
    dsp: 0,
    bram: 0,
};

fn estimate(mode: Mode, part: &Part, names: &[&str; 4]) -> Estimate {
    // Extra logic of the ternary layers' activation quantizer per mode: (LUT, FF, DSP, cycles).
    let (xl, xf, xd, xc) = match mode {
        Mode::Static => (0, 0, 0, 0),
        Mode::DynamicPow2 => (610, 310, 0, 1),
        Mode::Dynamic => (1_480, 905, 3, 3),
    };
    let layers: Vec<LayerEstimate> = LAYERS
        .iter()
        .zip(BASE)
        .zip(names)
        .enumerate()
        .map(
            |(i, (((_, kind, n_in, n_out), (lut, ff, dsp, cyc)), name))| {
                let t = u64::from(*kind == "ternary");
                LayerEstimate {
                    index: i,
                    name: name.to_string(),
                    kind,
                    n_in: *n_in,
                    n_out: *n_out,
                    resources: Resources {
                        lut: lut + t * xl,
                        ff: ff + t * xf,
                        dsp: dsp + t * xd,
                        bram: 0,
                    },
                    latency_cycles: cyc + t as u32 * xc,
                    ii: 1,
                    adders: 0,
                    adder_depth: 0,
                    threshold_requantizers: 0,
                }
            },
        )
        .collect();
    let total = layers.iter().fold(OWN, |a, l| a + l.resources);
    let latency_cycles = layers.iter().map(|l| l.latency_cycles).sum::<u32>() + 1;
    let clock_ns = 5.0;
    // The dynamic mode's divider is not pipelined here: a new event every 6 cycles = 30 ns.
    let ii = if mode == Mode::Dynamic { 6 } else { 1 };
    Estimate {
        backend: Backend::Verilog,
        strategy: "latency",
        mode,
        part: part.name,
        clock_ns,
        layers,
        total,
        latency_cycles,
        latency_ns: f64::from(latency_cycles) * clock_ns,
        ii,
        stage_levels: vec![],
    }
}

/// The shipped qg_mlp's measured agreement (README), 28,000 jets.
fn validation(mode: Mode) -> ValidationSummary {
    let (agree, acc, err) = match mode {
        Mode::Dynamic => (0.9995, 0.7951, 0.0123),
        Mode::DynamicPow2 => (0.9966, 0.7951, 0.0457),
        Mode::Static => (0.9919, 0.7948, 0.0981),
    };
    ValidationSummary {
        events: 28_000,
        argmax_agreement: agree,
        accuracy: Some(acc),
        auc: Some(0.8719),
        accuracy_delta: None,
        max_abs_error: err,
        reference: None,
    }
    .with_float(Some(0.7951))
}

fn input_named(with_validation: bool, names: &[&str; 4]) -> ReportInput {
    let part = lookup("xcvu9p").unwrap();
    let o = VerdictOptions::default();
    let modes = Mode::ALL
        .iter()
        .map(|&mode| {
            let estimate = estimate(mode, part, names);
            let verdict = Verdict::new(&estimate, part, &o);
            ModeEntry {
                mode,
                estimate,
                verdict,
                validation: with_validation.then(|| validation(mode)),
            }
        })
        .collect();
    ReportInput {
        model: "qg_mlp".into(),
        model_path: "models/qg_mlp/qg_mlp.safetensors".into(),
        part,
        clock_ns: 5.0,
        selected: Mode::DynamicPow2,
        modes,
        float_accuracy: with_validation.then_some(0.7951),
        float_auc: with_validation.then_some(0.8719),
        reference: None,
        assumptions: vec![],
        provenance: vec![
            "estimate: fixture of hls_tests/report.rs (not a real model's numbers)".into(),
            "validation: models/data/qg_test.npz, 28,000 jets".into(),
        ],
        scaling: vec![],
        regression: None,
        compare: vec![],
    }
}

/// A regressor's figures (a fixture, not a real model's): one periodic output, the float model
/// and two modes; the residual histograms and the 2-D histogram have a few filled bins.
fn regression_fixture() -> bit2hls::validate::regression::RegressionReport {
    use bit2hls::validate::regression::*;
    let res = |mean: f64, sin2: f64, shift: usize| Residuals {
        mean,
        std: 0.31,
        width68: 0.22,
        mean_sin2: Some(sin2),
        hist: Histogram {
            lo: -std::f64::consts::FRAC_PI_2,
            hi: std::f64::consts::FRAC_PI_2,
            counts: (0..8)
                .map(|i| if i == 3 + shift { 50 } else { i as u64 })
                .collect(),
            under: 0,
            over: 0,
        },
        truth_vs_pred: Hist2d {
            lo: -std::f64::consts::FRAC_PI_2,
            hi: std::f64::consts::FRAC_PI_2,
            bins: 4,
            counts: vec![9, 0, 0, 1, 0, 8, 0, 0, 0, 0, 7, 0, 2, 0, 0, 6],
        },
    };
    let mode = |mode, m: f64, s: f64, shift| ModeFigures {
        mode,
        vs_float: Diff {
            max_abs: 0.05,
            mean_abs: 0.004,
        },
        vs_reference: None,
        residuals: Some(res(m, s, shift)),
    };
    RegressionReport {
        task: bit2hls::ir::task::Task::Regression {
            period: Some(std::f64::consts::PI),
            target: Some("phi_decay".into()),
        },
        has_target: true,
        outputs: vec![OutputFigures {
            output: 0,
            float: Some(res(0.001, 0.0612, 0)),
            reference: None,
            modes: vec![
                mode(Mode::Dynamic, 0.002, 0.0618, 1),
                mode(Mode::Static, -0.003, 0.0655, 2),
            ],
        }],
    }
}

/// A regressor's report: the regression section with its table, one curve per model and the
/// selected mode's cells; the accuracy columns point there instead of showing an argmax.
fn regression_input() -> ReportInput {
    let mut r = input(false);
    r.selected = Mode::Static;
    r.regression = Some(regression_fixture());
    r
}

#[test]
fn regressor_section() {
    assert!(!render_html(&input(true)).contains("id=\"regression\""));
    let html = render_html(&regression_input());
    assert!(html.contains("id=\"regression\""), "{html}");
    assert!(
        html.contains("Task: regression of phi_decay (modulo 3.14159"),
        "{html}"
    );
    let rows: Vec<&str> = html.split("<tr class=\"reg").skip(1).collect();
    assert_eq!(rows.len(), 3, "float model, dynamic, static");
    assert!(
        rows[0].contains(">+0.0010<") && rows[0].contains(">0.0612<"),
        "{}",
        rows[0]
    );
    assert!(
        rows[2].contains(">static<") && rows[2].contains(">0.0655<"),
        "{}",
        rows[2]
    );
    assert!(rows[1].contains(">5.000e-2 / 4.000e-3<"), "{}", rows[1]);
    assert_eq!(html.matches("<polyline class=\"curve").count(), 3);
    // the selected mode's 2-D histogram: one rect per non-empty cell
    assert_eq!(html.matches("<rect class=\"cell\"").count(), 6);
    assert!(html.contains("against the static firmware"));
    assert_eq!(
        html.matches(bit2hls::report::view::REGRESSOR).count(),
        4,
        "{html}"
    );
}

fn input(with_validation: bool) -> ReportInput {
    input_named(with_validation, &["fc1", "fc2", "fc3", "out"])
}

/// The `width:…%` values of the bars of one class (`lut`, `ff`, `dsp`, `cyc`), in page order.
fn widths(html: &str, class: &str) -> Vec<f64> {
    let pat = format!("class=\"fill {class}\" style=\"width:");
    html.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &html[i + pat.len()..];
            rest[..rest.find('%').unwrap()].parse::<f64>().unwrap()
        })
        .collect()
}

#[test]
fn self_contained() {
    for with in [true, false] {
        let html = render_html(&input(with));
        assert!(html.starts_with("<!DOCTYPE html>"));
        for bad in [
            "http://", "https://", "src=", "<script", "<link", "@import", "url(", "<img", "<iframe",
        ] {
            assert!(!html.contains(bad), "report.html contains {bad:?}");
        }
    }
}

#[test]
fn every_layer_and_mode_is_shown() {
    let r = input(true);
    let html = render_html(&r);
    for (name, ..) in LAYERS {
        assert!(
            html.contains(&format!("<td class=\"name\">{name}</td>")),
            "layer {name}"
        );
    }
    for m in Mode::ALL {
        assert!(html.contains(&format!("id=\"mode-{m}\"")), "mode {m}");
        assert!(
            html.contains(&format!("<tr class=\"cmp\"><td class=\"name\">{m}</td>")),
            "validation row {m}"
        );
    }
    assert_eq!(html.matches("<tr class=\"layer\">").count(), LAYERS.len());
    // The selected mode is highlighted and detailed; its verdict is the badge.
    assert!(html.contains("<tr class=\"mode selected\" id=\"mode-dynamic-pow2\">"));
    assert!(html.contains("Per-layer resources and latency: dynamic-pow2"));
    assert!(html.contains("id=\"verdict-badge\">PASS</span>"));
    // The dynamic mode fails on the event rate: 6 cycles × 5 ns = 30 ns > 25 ns.
    assert!(html.contains("title=\"a new event every 30 ns (II 6 × 5 ns) &gt; 25 ns allowed (TMUX 1 × 25 ns)\">FAIL</span>"));
    // Header, totals and the design's own logic.
    assert!(html.contains("<code>xcvu9p-flga2104-2L-e</code>") && html.contains("200 MHz (5 ns)"));
    let e = &r.modes[1].estimate;
    assert_eq!(e.mode, Mode::DynamicPow2);
    let total = format!("<td class=\"num\">{}</td>", fmt_thousands(e.total.lut));
    assert!(html.contains(&total), "{total}");
    assert!(html.contains(
        "I/O registers and control</td><td class=\"num\">120</td><td class=\"num\">576</td>"
    ));
    // Scatter: one point per mode.
    assert_eq!(html.matches("<circle ").count(), 3);
    assert!(html.contains("firmware accuracy (%)"));
    assert!(html.contains("+0.00 pp") || html.contains("±0.00 pp"));
    assert!(html.contains("-0.03 pp"), "static: 79.48 % − 79.51 %");
}

fn fmt_thousands(n: u64) -> String {
    bit2hls::estimate::verdict::fmt_int(n)
}

#[test]
fn bars_are_scaled_to_the_largest_layer() {
    let r = input(true);
    let html = render_html(&r);
    let e = &r.modes[1].estimate;
    let check = |class: &str, vals: Vec<u64>| {
        let w = widths(&html, class);
        assert_eq!(w.len(), vals.len(), "{class}");
        let max = *vals.iter().max().unwrap();
        for (wi, v) in w.iter().zip(&vals) {
            let expect = if max == 0 {
                0.0
            } else {
                100.0 * *v as f64 / max as f64
            };
            assert!(
                (wi - expect).abs() <= 0.05 + 1e-9,
                "{class}: width {wi} for {v} of max {max}"
            );
        }
        if max > 0 {
            // The largest layer's bar is full.
            let i = vals.iter().position(|&v| v == max).unwrap();
            assert_eq!(w[i], 100.0, "{class}");
        }
    };
    check("lut", e.layers.iter().map(|l| l.resources.lut).collect());
    check("ff", e.layers.iter().map(|l| l.resources.ff).collect());
    check("dsp", e.layers.iter().map(|l| l.resources.dsp).collect());
    check(
        "cyc",
        e.layers
            .iter()
            .map(|l| u64::from(l.latency_cycles))
            .collect(),
    );
    // fc2 is the largest LUT layer: 6,120 + 610 vs fc1's 3,950 + 610.
    assert_eq!(widths(&html, "lut")[1], 100.0);
    assert_eq!(
        widths(&html, "lut")[0],
        (1000.0 * 4_560.0 / 6_730.0_f64).round() / 10.0
    );
    // Totals: share of the budget, e.g. LUT 15,500 of 118,224 (10 % of 1,182,240).
    let lut_total = e.total.lut as f64;
    let w = widths(&html, "ok");
    assert_eq!(w.len(), 4);
    assert!(
        (w[0] - 100.0 * lut_total / 118_224.0).abs() <= 0.05,
        "{w:?}"
    );
}

#[test]
fn layer_names_are_escaped() {
    let html = render_html(&input_named(
        true,
        &["<script>alert(1)</script>", "a&b", "\"q\"", "out"],
    ));
    assert!(!html.contains("<script>"), "unescaped layer name");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("a&amp;b"));
    assert!(html.contains("&#34;q&#34;") || html.contains("&quot;q&quot;"));
}

#[test]
fn without_validation_says_so() {
    let html = render_html(&input(false));
    // Once per mode in the trade-off table, once in the float-vs-firmware section.
    assert_eq!(html.matches(NO_DATA).count(), 4, "{html}");
    assert!(!html.contains("<svg"));
    assert!(!html.contains("<tr class=\"cmp"));
    assert!(html.contains("<tr class=\"layer\">"));
}

/// A particle model's report has the N / R table, one row per point, a jet every 25 ns marked;
/// a chain's report has no such section.
#[test]
fn particle_axis_table() {
    use bit2hls::estimate::scaling::ScalePoint;
    assert!(!render_html(&input(true)).contains("id=\"particles\""));
    let point = |particles, reuse, lut| ScalePoint {
        particles,
        reuse,
        phi_copies: particles.div_ceil(reuse),
        lut,
        ff: 2 * lut,
        dsp: 0,
        latency_cycles: 10 + reuse as u32,
        latency_ns: 5.0 * (10 + reuse) as f64,
        ii: reuse as u32,
    };
    let mut r = input(true);
    r.scaling = vec![
        point(8, 5, 12_345),
        point(32, 1, 98_765),
        point(32, 8, 23_456),
    ];
    let html = render_html(&r);
    let rows: Vec<&str> = html.split("<tr class=\"scale\">").skip(1).collect();
    assert_eq!(rows.len(), 3, "{html}");
    for (row, want) in rows.iter().zip([
        ["8", "5", "2", "12,345", "15", "25 ns", "pass"],
        ["32", "1", "32", "98,765", "11", "5 ns", "pass"],
        ["32", "8", "4", "23,456", "18", "40 ns", "fail"],
    ]) {
        let row = &row[..row.find("</tr>").unwrap()];
        let cells: Vec<&str> = row
            .split("<td class=\"num\">")
            .skip(1)
            .map(|c| c.split('<').next().unwrap())
            .collect();
        assert_eq!(cells[..4], want[..4], "{row}");
        assert_eq!(cells[6], want[4], "latency cycles: {row}");
        assert!(
            row.contains(&format!("pill {}\">{}", want[6], want[5])),
            "{row}"
        );
    }
}

/// The `--compare` file shipped with the quark/gluon models, read as a user would give it.
fn peers() -> bit2hls::report::compare::Reference {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/peers/qg_hgq_da4ml.json");
    let mut r = bit2hls::report::compare::read(&p).unwrap_or_else(|e| panic!("{e}"));
    // As a user in the repository would name it (the snapshot must not hold this checkout's path).
    r.file = "models/peers/qg_hgq_da4ml.json".into();
    r
}

/// With `--compare`, a section lists this model's modes and every other design, and plots
/// each point with an AUC (the fixture's three modes and the file's five designs) on a log
/// LUT axis; without, there is no section.
#[test]
fn comparison_section() {
    assert!(!render_html(&input(true)).contains("id=\"compare\""));
    let mut r = input(true);
    r.compare = vec![peers()];
    let html = render_html(&r);
    let sec = &html[html.find("id=\"compare\"").expect("a compare section")..];
    let sec = &sec[..sec.find("</section>").unwrap()];
    for m in Mode::ALL {
        assert!(sec.contains(&format!("this model, {m}")), "{m}");
    }
    for (label, lut) in [
        ("HGQ2 β=3e-6", "2,039"),
        ("HGQ2 β=1e-5", "742"),
        ("HGQ2 β=3e-7", "15,523"),
    ] {
        let row = sec
            .lines()
            .find(|l| l.contains(label) && l.contains("<tr"))
            .unwrap_or_else(|| panic!("{label}"));
        assert!(row.contains(lut) && row.contains("HGQ2 + da4ml"), "{row}");
    }
    assert_eq!(sec.matches("class=\"pt peer\"").count(), 5);
    assert_eq!(sec.matches("class=\"pt m-").count(), 3);
    assert!(sec.contains("LUT (log scale)") && sec.contains(">1,000<"));
    // Without AUCs of its own the model is only in the table, and the page says why.
    let mut r = input(false);
    r.compare = vec![peers()];
    let html = render_html(&r);
    assert!(html.contains("This model has no test AUC here"));
    assert_eq!(html.matches("class=\"pt peer\"").count(), 5);
}

#[test]
fn deterministic() {
    assert_eq!(render_html(&input(true)), render_html(&input(true)));
}

#[test]
fn no_estimates_at_all() {
    let mut r = input(false);
    r.modes.clear();
    let html = render_html(&r);
    assert!(html.contains("NO ESTIMATE"));
    assert!(!html.contains("<tr class=\"layer\">"));
}

#[test]
fn selected_mode_missing_falls_back_to_the_first() {
    let mut r = input(true);
    r.modes.retain(|m| m.mode != Mode::DynamicPow2);
    let html = render_html(&r);
    assert!(html.contains("No estimate for the selected mode dynamic-pow2; showing dynamic."));
    assert!(html.contains("id=\"verdict-badge\">FAIL</span>"));
}

#[test]
fn snapshots() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!("report__with_validation", render_html(&input(true)));
        insta::assert_snapshot!("report__without_validation", render_html(&input(false)));
        insta::assert_snapshot!("report__regressor", render_html(&regression_input()));
        let mut r = input(true);
        r.compare = vec![peers()];
        insta::assert_snapshot!("report__compare", render_html(&r));
    });
}

/// The Chromium binary: `$CHROMIUM`, else the first of chromium, chromium-browser on PATH.
fn chromium() -> PathBuf {
    if let Some(c) = std::env::var_os("CHROMIUM") {
        return c.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("chromium not found (looked for chromium, chromium-browser on PATH and $CHROMIUM): run scripts/deps.sh");
}

/// Runs headless Chromium on `html` with `extra` arguments; returns stdout. Kills it after 60 s.
fn run_chromium(html: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(format!("file://{}", html.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {:?}: {e}; run scripts/deps.sh", cmd.get_program()));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within 60 s: {}",
                t_err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    stdout
}

#[test]
fn chromium_renders_the_report() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_html");
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("report.html");
    std::fs::write(&html, render_html(&input(true))).unwrap();
    // For humans (scripts/check_report.sh): the same report without validation data.
    std::fs::write(dir.join("report_no_data.html"), render_html(&input(false))).unwrap();
    let mut fail = input(true);
    fail.selected = Mode::Dynamic;
    std::fs::write(dir.join("report_fail.html"), render_html(&fail)).unwrap();
    let shot = dir.join("shot.png");
    let _ = std::fs::remove_file(&shot);

    run_chromium(
        &html,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
        ],
    );
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: no screenshot: {e}", shot.display()));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (1280, 2000));
    // A blank 1280×2000 page compresses to a few KB; the report has text, bars and a plot.
    assert!(png.len() > 40_000, "screenshot is only {} bytes", png.len());

    let dom = run_chromium(&html, &["--dump-dom".into()]);
    assert_eq!(
        dom.matches("<tr class=\"layer\">").count(),
        LAYERS.len(),
        "{dom}"
    );
    for id in [
        "summary",
        "layers",
        "totals",
        "modes",
        "scatter",
        "validation",
        "provenance",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "section {id} missing from the DOM"
        );
    }
    for m in Mode::ALL {
        assert!(dom.contains(&format!("id=\"mode-{m}\"")), "mode row {m}");
    }
    assert_eq!(
        dom.matches("<tr class=\"cmp").count(),
        4,
        "float row + 3 modes"
    );
    assert_eq!(dom.matches("<circle ").count(), 3);
    assert!(dom.contains("id=\"verdict-badge\">PASS</span>"));
}
