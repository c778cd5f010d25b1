//! The 40 MHz trigger verdict: does a design accept an event every bunch crossing, and does it
//! fit its share of the part?
//!
//! **Event rate.** The design starts a new event every `ii · clock_ns` ns (the *event interval*).
//! The LHC delivers one every `event_period_ns` = 25 ns. In a time-multiplexed trigger with
//! factor T, T copies of the algorithm run in parallel and each receives every T-th event, so one
//! copy may take `T · event_period_ns` per event: the design is accepted iff
//! `ii · clock_ns ≤ T · event_period_ns`.
//!
//! **Resources.** The shares (`lut_share`, …) are those of **one copy** on the part: the usual
//! L1 layout, where each of the T time-multiplexed boards hosts one copy and sees every T-th
//! event. The whole system then uses T × one copy ([`Verdict::all_copies_max_share`] is the
//! largest share if all T copies had to fit on one part instead); `fits_budget` judges one copy.
//!
//! Comparisons allow a relative rounding slack of 1e-9, so that e.g. 3 × 8.333… ns counts as
//! 25 ns, not as 25.000000000000004 ns.

use super::{Estimate, Resources};
use crate::target::Part;
use serde::Serialize;
use std::fmt::Write as _;

/// Relative slack of every `≤` in the verdict (floating-point rounding only).
const REL_TOL: f64 = 1e-9;

/// What the trigger asks of the design.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct VerdictOptions {
    /// Time between events (bunch crossings) in ns: 25 at the LHC.
    pub event_period_ns: f64,
    /// Time-multiplexing factor T ≥ 1 (T copies, each receiving every T-th event). 0 counts as 1.
    pub tmux: u32,
    /// Largest fraction of each part resource the design may use (0.10 = 10 %).
    pub budget_share: f64,
}

impl Default for VerdictOptions {
    fn default() -> Self {
        VerdictOptions {
            event_period_ns: 25.0,
            tmux: 1,
            budget_share: 0.10,
        }
    }
}

impl VerdictOptions {
    /// Checks the options a user can set; the message names the offending value.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.event_period_ns.is_finite() && self.event_period_ns > 0.0) {
            return Err(format!(
                "event period {} ns: expected a positive number of ns",
                self.event_period_ns
            ));
        }
        if self.tmux == 0 {
            return Err("time-multiplexing factor 0: expected at least 1".into());
        }
        if !(self.budget_share.is_finite() && self.budget_share > 0.0 && self.budget_share <= 1.0) {
            return Err(format!(
                "budget share {}: expected a fraction in (0, 1]",
                self.budget_share
            ));
        }
        Ok(())
    }
}

/// The verdict on one estimate for one part. Shares are fractions (0.05 = 5 %) of one copy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// Full part name.
    pub part: &'static str,
    pub family: &'static str,
    pub clock_ns: f64,
    pub clock_mhz: f64,
    /// Initiation interval in cycles.
    pub ii: u32,
    /// `ii · clock_ns`: time between two events the design can start.
    pub event_interval_ns: f64,
    /// Time between bunch crossings (25 ns).
    pub event_period_ns: f64,
    /// Time-multiplexing factor T (≥ 1).
    pub tmux: u32,
    /// `T · event_period_ns`: the largest event interval accepted.
    pub allowed_interval_ns: f64,
    /// `event_interval_ns ≤ allowed_interval_ns`.
    pub accepts_event_rate: bool,
    pub latency_cycles: u32,
    pub latency_ns: f64,
    /// One copy's resources.
    pub resources: Resources,
    /// The part's capacity.
    pub capacity: Resources,
    pub lut_share: f64,
    pub ff_share: f64,
    pub dsp_share: f64,
    pub bram_share: f64,
    /// T × the largest of the four shares: the share if all T copies sat on one part.
    pub all_copies_max_share: f64,
    pub budget_share: f64,
    /// Every share of one copy ≤ `budget_share`.
    pub fits_budget: bool,
    /// `fits_budget && accepts_event_rate`.
    pub ok: bool,
    /// Why the verdict fails (empty when `ok`), one sentence each.
    pub reasons: Vec<String>,
}

/// `a ≤ b` up to rounding.
fn le(a: f64, b: f64) -> bool {
    a <= b + REL_TOL * b.abs()
}

/// `used / capacity`; a resource the part lacks gives 0 when unused and +∞ when used.
fn share(used: u64, capacity: u64) -> f64 {
    match (used, capacity) {
        (0, _) => 0.0,
        (_, 0) => f64::INFINITY,
        (u, c) => u as f64 / c as f64,
    }
}

impl Verdict {
    /// Judges `est` on `part` (the part's capacity is used; `est.part` is not consulted).
    pub fn new(est: &Estimate, part: &Part, o: &VerdictOptions) -> Verdict {
        let tmux = o.tmux.max(1);
        let event_interval_ns = f64::from(est.ii) * est.clock_ns;
        let allowed_interval_ns = f64::from(tmux) * o.event_period_ns;
        let accepts_event_rate = le(event_interval_ns, allowed_interval_ns);
        let cap = part.capacity();
        let r = est.total;
        let shares = [
            ("LUT", share(r.lut, cap.lut)),
            ("FF", share(r.ff, cap.ff)),
            ("DSP", share(r.dsp, cap.dsp)),
            ("BRAM", share(r.bram, cap.bram)),
        ];
        let fits_budget = shares.iter().all(|&(_, s)| le(s, o.budget_share));
        let mut reasons = Vec::new();
        for &(what, s) in &shares {
            if !le(s, o.budget_share) {
                reasons.push(format!(
                    "{what} {} of the part > budget {}",
                    fmt_pct(s),
                    fmt_pct(o.budget_share)
                ));
            }
        }
        if !accepts_event_rate {
            reasons.push(format!(
                "a new event every {} ns (II {} × {} ns) > {} ns allowed (TMUX {tmux} × {} ns)",
                fmt_num(event_interval_ns),
                est.ii,
                fmt_num(est.clock_ns),
                fmt_num(allowed_interval_ns),
                fmt_num(o.event_period_ns)
            ));
        }
        let max_share = shares.iter().map(|s| s.1).fold(0.0, f64::max);
        Verdict {
            part: part.name,
            family: part.family,
            clock_ns: est.clock_ns,
            clock_mhz: 1000.0 / est.clock_ns,
            ii: est.ii,
            event_interval_ns,
            event_period_ns: o.event_period_ns,
            tmux,
            allowed_interval_ns,
            accepts_event_rate,
            latency_cycles: est.latency_cycles,
            latency_ns: est.latency_ns,
            resources: r,
            capacity: cap,
            lut_share: shares[0].1,
            ff_share: shares[1].1,
            dsp_share: shares[2].1,
            bram_share: shares[3].1,
            all_copies_max_share: f64::from(tmux) * max_share,
            budget_share: o.budget_share,
            fits_budget,
            ok: fits_budget && accepts_event_rate,
            reasons,
        }
    }

    /// "PASS" or "FAIL".
    pub fn label(&self) -> &'static str {
        if self.ok {
            "PASS"
        } else {
            "FAIL"
        }
    }

    /// One line: "PASS: …" or "FAIL: reason; reason".
    pub fn summary(&self) -> String {
        if self.ok {
            format!(
                "PASS: fits {} of {} and accepts an event every {} ns",
                fmt_pct(self.budget_share),
                self.part,
                fmt_num(self.allowed_interval_ns)
            )
        } else {
            format!("FAIL: {}", self.reasons.join("; "))
        }
    }
}

/// A number without trailing zeros: 25, 3.125, 8.333 (at most 3 decimals).
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A fraction as a percentage with precision adapted to its size: "12.5 %", "1.25 %", "0.104 %",
/// "0 %", "< 0.001 %", "∞ %".
pub fn fmt_pct(f: f64) -> String {
    let p = f * 100.0;
    if p.is_infinite() {
        return "∞ %".into();
    }
    if p == 0.0 {
        return "0 %".into();
    }
    if p.abs() < 0.001 {
        return "< 0.001 %".into();
    }
    let s = if p.abs() >= 10.0 {
        format!("{p:.1}")
    } else if p.abs() >= 1.0 {
        format!("{p:.2}")
    } else {
        format!("{p:.3}")
    };
    format!("{s} %")
}

/// An integer with thin groups: 1182240 → "1,182,240".
pub fn fmt_int(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain-text table for the terminal: one row per layer (name, kind, n_in×n_out, LUT, FF,
/// DSP, BRAM, cycles), the total, then the verdict (part, clock, II and event interval vs the
/// allowed one, latency, shares vs budget) and a final PASS/FAIL line with the reasons.
pub fn render_table(est: &Estimate, v: &Verdict) -> String {
    let head = [
        "layer",
        "kind",
        "n_in×n_out",
        "LUT",
        "FF",
        "DSP",
        "BRAM",
        "cycles",
    ];
    let mut rows: Vec<[String; 8]> = est
        .layers
        .iter()
        .map(|l| {
            [
                l.name.clone(),
                l.kind.to_string(),
                format!("{}×{}", l.n_in, l.n_out),
                fmt_int(l.resources.lut),
                fmt_int(l.resources.ff),
                fmt_int(l.resources.dsp),
                fmt_int(l.resources.bram),
                l.latency_cycles.to_string(),
            ]
        })
        .collect();
    let t = est.total;
    rows.push([
        "total".into(),
        String::new(),
        String::new(),
        fmt_int(t.lut),
        fmt_int(t.ff),
        fmt_int(t.dsp),
        fmt_int(t.bram),
        est.latency_cycles.to_string(),
    ]);
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..8).map(width).collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i > 0 {
                s.push_str("  ");
            }
            if i < 2 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} estimate, {} strategy, mode {}",
        est.backend.as_str(),
        est.strategy,
        est.mode.as_str()
    );
    let head: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    let _ = writeln!(out, "{}", line(&head));
    let rule = "-".repeat(w.iter().sum::<usize>() + 2 * (w.len() - 1));
    let _ = writeln!(out, "{rule}");
    let n = rows.len();
    for (i, r) in rows.iter().enumerate() {
        if i + 1 == n {
            let _ = writeln!(out, "{rule}");
        }
        let _ = writeln!(out, "{}", line(r));
    }
    let ok = |b: bool| if b { "ok" } else { "OVER BUDGET" };
    let _ = writeln!(out);
    let _ = writeln!(out, "part      {} ({})", v.part, v.family);
    let _ = writeln!(
        out,
        "clock     {} MHz ({} ns)",
        fmt_num(v.clock_mhz),
        fmt_num(v.clock_ns)
    );
    let _ = writeln!(
        out,
        "events    II {} → a new event every {} ns; allowed {} ns (TMUX {} × {} ns): {}",
        v.ii,
        fmt_num(v.event_interval_ns),
        fmt_num(v.allowed_interval_ns),
        v.tmux,
        fmt_num(v.event_period_ns),
        if v.accepts_event_rate {
            "ok"
        } else {
            "TOO SLOW"
        }
    );
    let _ = writeln!(
        out,
        "latency   {} cycles = {} ns",
        v.latency_cycles,
        fmt_num(v.latency_ns)
    );
    for (name, used, cap, s) in [
        ("LUT", v.resources.lut, v.capacity.lut, v.lut_share),
        ("FF", v.resources.ff, v.capacity.ff, v.ff_share),
        ("DSP", v.resources.dsp, v.capacity.dsp, v.dsp_share),
        ("BRAM", v.resources.bram, v.capacity.bram, v.bram_share),
    ] {
        let _ = writeln!(
            out,
            "{name:<9} {} / {} = {} of the part (budget {}): {}",
            fmt_int(used),
            fmt_int(cap),
            fmt_pct(s),
            fmt_pct(v.budget_share),
            ok(le(s, v.budget_share))
        );
    }
    if v.tmux > 1 {
        let _ = writeln!(
            out,
            "copies    TMUX {}: {} copies in the system, one per part ({} of one part if all shared one)",
            v.tmux,
            v.tmux,
            fmt_pct(v.all_copies_max_share)
        );
    }
    let _ = writeln!(out, "{}", v.summary());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{Backend, LayerEstimate};
    use crate::ir::firmware::Mode;
    use crate::target::parts::{lookup, PARTS};

    fn est(ii: u32, clock_ns: f64, total: Resources) -> Estimate {
        let layer = |index: usize, name: &str, n_in, n_out, lut, cycles| LayerEstimate {
            index,
            name: name.into(),
            kind: "ternary",
            n_in,
            n_out,
            resources: Resources {
                lut,
                ff: lut / 2,
                dsp: 0,
                bram: 0,
            },
            latency_cycles: cycles,
            ii,
            adders: 0,
            adder_depth: 0,
            threshold_requantizers: 0,
        };
        Estimate {
            backend: Backend::Verilog,
            strategy: "latency",
            mode: Mode::DynamicPow2,
            part: PARTS[0].name,
            clock_ns,
            layers: vec![
                layer(0, "fc1", 16, 64, 3000, 3),
                layer(1, "fc2_long_name", 64, 2, 500, 2),
            ],
            total,
            latency_cycles: 6,
            latency_ns: 6.0 * clock_ns,
            ii,
            stage_levels: vec![],
        }
    }

    fn small() -> Resources {
        Resources {
            lut: 3600,
            ff: 1800,
            dsp: 2,
            bram: 0,
        }
    }

    fn vu9p() -> &'static Part {
        lookup("xcvu9p").unwrap()
    }

    #[test]
    fn interval_exactly_25ns_accepts() {
        // 5 cycles × 5 ns = 25 ns = 1 × 25 ns.
        let v = Verdict::new(&est(5, 5.0, small()), vu9p(), &VerdictOptions::default());
        assert_eq!(v.event_interval_ns, 25.0);
        assert_eq!(v.allowed_interval_ns, 25.0);
        assert!(v.accepts_event_rate && v.ok, "{v:?}");
        // 3 × (25/3 ns) is 25 ns up to rounding.
        let v = Verdict::new(
            &est(3, 25.0 / 3.0, small()),
            vu9p(),
            &VerdictOptions::default(),
        );
        assert!(v.accepts_event_rate, "{}", v.event_interval_ns);
    }

    #[test]
    fn interval_above_25ns_rejects() {
        // 1 cycle × 25.01 ns > 25 ns.
        let v = Verdict::new(&est(1, 25.01, small()), vu9p(), &VerdictOptions::default());
        assert!(!v.accepts_event_rate && !v.ok);
        assert!(v.fits_budget);
        assert_eq!(v.reasons.len(), 1);
        assert!(v.reasons[0].contains("25.01 ns"), "{:?}", v.reasons);
        // 6 cycles × 5 ns = 30 ns > 25 ns.
        let v = Verdict::new(&est(6, 5.0, small()), vu9p(), &VerdictOptions::default());
        assert!(!v.accepts_event_rate);
    }

    #[test]
    fn tmux_doubles_the_allowed_interval() {
        let o2 = VerdictOptions {
            tmux: 2,
            ..VerdictOptions::default()
        };
        // 10 × 5 ns = 50 ns = 2 × 25 ns: accepted with T = 2, not with T = 1.
        let e = est(10, 5.0, small());
        assert!(!Verdict::new(&e, vu9p(), &VerdictOptions::default()).accepts_event_rate);
        let v = Verdict::new(&e, vu9p(), &o2);
        assert_eq!(v.allowed_interval_ns, 50.0);
        assert!(v.accepts_event_rate && v.ok);
        // 51 ns > 50 ns.
        assert!(!Verdict::new(&est(1, 51.0, small()), vu9p(), &o2).accepts_event_rate);
        // Shares stay those of one copy; all copies on one part double the largest share.
        assert_eq!(v.lut_share, 3600.0 / 1_182_240.0);
        assert_eq!(v.all_copies_max_share, 2.0 * (3600.0 / 1_182_240.0));
        // tmux 0 is treated as 1 (and rejected by validate()).
        let v0 = Verdict::new(
            &e,
            vu9p(),
            &VerdictOptions {
                tmux: 0,
                ..VerdictOptions::default()
            },
        );
        assert_eq!(v0.tmux, 1);
        assert!(VerdictOptions {
            tmux: 0,
            ..VerdictOptions::default()
        }
        .validate()
        .is_err());
        assert!(VerdictOptions::default().validate().is_ok());
    }

    #[test]
    fn share_exactly_at_budget_fits() {
        let p = vu9p();
        // 10 % of 1,182,240 LUTs is 118,224; of 2,364,480 FFs 236,448; of 6,840 DSPs 684; of
        // 2,160 BRAMs 216.
        let at = Resources {
            lut: 118_224,
            ff: 236_448,
            dsp: 684,
            bram: 216,
        };
        let v = Verdict::new(&est(1, 5.0, at), p, &VerdictOptions::default());
        assert!(v.fits_budget && v.ok, "{v:?}");
        assert!((v.lut_share - 0.1).abs() < 1e-15);
        for over in [
            Resources { lut: 118_225, ..at },
            Resources { ff: 236_449, ..at },
            Resources { dsp: 685, ..at },
            Resources { bram: 217, ..at },
        ] {
            let v = Verdict::new(&est(1, 5.0, over), p, &VerdictOptions::default());
            assert!(!v.fits_budget && !v.ok, "{over:?}");
            assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        }
        // A 20 % budget takes twice as much.
        let o = VerdictOptions {
            budget_share: 0.2,
            ..VerdictOptions::default()
        };
        let twice = Resources {
            lut: 236_448,
            ff: 472_896,
            dsp: 1_368,
            bram: 432,
        };
        assert!(Verdict::new(&est(1, 5.0, twice), p, &o).fits_budget);
    }

    #[test]
    fn shares_latency_and_clock() {
        let p = lookup("xcku15p").unwrap();
        let r = Resources {
            lut: 52_272,
            ff: 10_454,
            dsp: 984,
            bram: 0,
        };
        let v = Verdict::new(&est(1, 4.0, r), p, &VerdictOptions::default());
        assert_eq!(v.lut_share, 52_272.0 / 522_720.0);
        assert_eq!(v.dsp_share, 0.5); // 984 of 1,968 DSPs.
        assert_eq!(v.clock_mhz, 250.0);
        assert_eq!(v.latency_cycles, 6);
        assert_eq!(v.latency_ns, 24.0);
        assert!(!v.fits_budget);
        assert_eq!(
            v.reasons,
            vec!["DSP 50.0 % of the part > budget 10.0 %".to_string()]
        );
        assert_eq!(v.summary(), "FAIL: DSP 50.0 % of the part > budget 10.0 %");
    }

    #[test]
    fn missing_resource_kind() {
        let no_dsp = Part { dsp: 0, ..*vu9p() };
        let v = Verdict::new(&est(1, 5.0, small()), &no_dsp, &VerdictOptions::default());
        assert!(v.dsp_share.is_infinite() && !v.fits_budget);
        let v = Verdict::new(
            &est(1, 5.0, Resources { dsp: 0, ..small() }),
            &no_dsp,
            &VerdictOptions::default(),
        );
        assert_eq!(v.dsp_share, 0.0);
        assert!(v.ok);
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(1_182_240), "1,182,240");
        assert_eq!(fmt_num(25.0), "25");
        assert_eq!(fmt_num(25.0 / 3.0), "8.333");
        assert_eq!(fmt_num(3.125), "3.125");
        assert_eq!(fmt_pct(0.1), "10.0 %");
        assert_eq!(fmt_pct(0.0125), "1.25 %");
        assert_eq!(fmt_pct(3600.0 / 1_182_240.0), "0.305 %");
        assert_eq!(fmt_pct(0.0), "0 %");
        assert_eq!(fmt_pct(1e-7), "< 0.001 %");
    }

    #[test]
    fn table_has_layers_total_and_verdict() {
        let e = est(1, 5.0, small());
        let v = Verdict::new(&e, vu9p(), &VerdictOptions::default());
        let t = render_table(&e, &v);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "verilog estimate, latency strategy, mode dynamic-pow2"
        );
        assert!(
            lines[1].starts_with("layer") && lines[1].ends_with("cycles"),
            "{t}"
        );
        let fc1 = lines
            .iter()
            .find(|l| l.starts_with("fc1 "))
            .expect("fc1 row");
        for cell in ["ternary", "16×64", "3,000", "1,500", "3"] {
            assert!(fc1.contains(cell), "{fc1}");
        }
        let total = lines
            .iter()
            .find(|l| l.starts_with("total"))
            .expect("total row");
        assert!(total.contains("3,600") && total.ends_with(" 6"), "{total}");
        // Numeric columns are right-aligned: every row has the same length up to 'cycles'.
        assert_eq!(fc1.chars().count(), lines[1].chars().count(), "{t}");
        assert!(t.contains("200 MHz (5 ns)"), "{t}");
        assert!(
            t.contains("a new event every 5 ns; allowed 25 ns (TMUX 1 × 25 ns): ok"),
            "{t}"
        );
        assert!(t.contains("latency   6 cycles = 30 ns"), "{t}");
        assert!(
            t.contains("3,600 / 1,182,240 = 0.305 % of the part (budget 10.0 %): ok"),
            "{t}"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("PASS: fits 10.0 % of xcvu9p-flga2104-2L-e"),
            "{t}"
        );

        let e = est(6, 5.0, small());
        let v = Verdict::new(&e, vu9p(), &VerdictOptions::default());
        let t = render_table(&e, &v);
        assert!(t.contains("TOO SLOW"), "{t}");
        assert!(
            t.trim_end().ends_with(
                "FAIL: a new event every 30 ns (II 6 × 5 ns) > 25 ns allowed (TMUX 1 × 25 ns)"
            ),
            "{t}"
        );

        // 200,000 of 1,182,240 LUTs = 16.9 % > 10 %; TMUX 2 shows the copies line.
        let e = est(
            1,
            5.0,
            Resources {
                lut: 200_000,
                ..small()
            },
        );
        let v = Verdict::new(
            &e,
            vu9p(),
            &VerdictOptions {
                tmux: 2,
                ..VerdictOptions::default()
            },
        );
        let t = render_table(&e, &v);
        assert!(
            t.contains("200,000 / 1,182,240 = 16.9 % of the part (budget 10.0 %): OVER BUDGET"),
            "{t}"
        );
        assert!(t.contains("copies    TMUX 2: 2 copies in the system, one per part (33.8 % of one part if all shared one)"), "{t}");
        assert!(
            t.trim_end()
                .ends_with("FAIL: LUT 16.9 % of the part > budget 10.0 %"),
            "{t}"
        );
    }
}
