//! `bit2hls synth DIR` end to end on a small hand-written Verilog project: yosys runs (needs it
//! installed: scripts/deps.sh; without it the tests FAIL), synth.json holds counts that follow
//! from the design, and a broken project gives a clear error and no synth.json.

use std::path::Path;
use std::process::{Command, Output};

fn synth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bit2hls"))
        .arg("synth")
        .args(args)
        .output()
        .expect("bit2hls runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Width of the output register `y`: the only flip-flops in the design.
const REG_W: u32 = 16;

/// A sign-extending adder, in its own file (a helper module, as the RTL backend writes them).
const SADD_V: &str = "\
module sadd #(parameter W = 8) (input wire [W-1:0] a, input wire [W-1:0] b, output wire [W:0] s);
    assign s = {a[W-1], a} + {b[W-1], b};
endmodule
";

/// `y <= m*n + ((a+b) + (c+d))`, all signed: two levels of sign-extended adders, one 8x8
/// multiply (a DSP), and one REG_W-bit register fed by a fabric adder (so it cannot be absorbed
/// into the DSP).
fn top_v() -> String {
    format!(
        "\
module tiny (
    input  wire              clk,
    input  wire [7:0]        a, b, c, d, m, n,
    output reg  [{hi}:0]       y
);
    wire [8:0] s0, s1;
    wire [9:0] t;
    sadd #(.W(8)) u0 (.a(a), .b(b), .s(s0));
    sadd #(.W(8)) u1 (.a(c), .b(d), .s(s1));
    sadd #(.W(9)) u2 (.a(s0), .b(s1), .s(t));
    wire signed [15:0] p = $signed(m) * $signed(n);
    always @(posedge clk) y <= p + {{{{6{{t[9]}}}}, t}};
endmodule
",
        hi = REG_W - 1
    )
}

fn project(dir: &Path, top_v: &str) {
    std::fs::create_dir_all(dir.join("rtl")).unwrap();
    std::fs::write(
        dir.join("report.json"),
        r#"{"generator": "bit2hls", "project": {"name": "tiny", "backend": "verilog"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("rtl/tiny.v"), top_v).unwrap();
    std::fs::write(dir.join("rtl/sadd.v"), SADD_V).unwrap();
}

#[test]
fn synthesizes_a_small_project() {
    let d = tempfile::tempdir().unwrap();
    project(d.path(), &top_v());
    let o = synth(&[d.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("LUT") && out.contains("synth.json"), "{out}");

    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("synth.json")).unwrap()).unwrap();
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("synth.json: no count '{k}': {r:#}"))
    };
    assert_eq!(r["top"], "tiny");
    assert_eq!(r["family"], "xcup");
    assert!(n("lut") > 0, "{r:#}");
    assert_eq!(n("ff"), u64::from(REG_W), "{r:#}");
    assert!(n("dsp") >= 1, "{r:#}");
    assert!(n("carry") >= 1, "{r:#}");
    assert!(n("ltp_comb") >= 3, "{r:#}");
    assert_eq!(
        r["sources"],
        serde_json::json!(["rtl/sadd.v", "rtl/tiny.v"])
    );
    // The counts are those of the cell histogram.
    let cells = r["cells"].as_object().unwrap();
    let lut: u64 = cells
        .iter()
        .filter(|(k, _)| k.starts_with("LUT"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(lut, n("lut"));
    assert_eq!(
        n("cells_total"),
        cells.values().map(|v| v.as_u64().unwrap()).sum::<u64>()
    );
    assert!(std::fs::read_to_string(d.path().join("synth/yosys.log"))
        .unwrap()
        .contains("synth_xilinx"));

    // --json prints the same report (the wall time aside).
    let o = synth(&[d.path().to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
    assert_eq!(j["cells"], r["cells"]);
    assert_eq!(j["ltp_comb"], r["ltp_comb"]);
}

#[test]
fn yosys_error_leaves_no_synth_json() {
    let d = tempfile::tempdir().unwrap();
    project(d.path(), &top_v().replace("p + ", "p + + ;"));
    std::fs::write(d.path().join("synth.json"), "{\"stale\": true}").unwrap();
    let o = synth(&[d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("yosys failed") && e.contains("syntax error") && e.contains("yosys.log"),
        "{e}"
    );
    assert!(
        !d.path().join("synth.json").exists(),
        "a stale synth.json survived a failed run"
    );
}

#[test]
fn broken_projects_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let check = |args: &[&str], want: &str| {
        let o = synth(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains(want),
            "{args:?}: wanted '{want}' in: {}",
            stderr(&o)
        );
        assert!(!d.path().join("synth.json").exists());
    };
    check(&[&format!("{dir}/nope")], "nope: not a directory");
    // empty directory: no report.json
    check(&[dir], "report.json: missing");
    // report.json but no rtl/
    std::fs::write(
        d.path().join("report.json"),
        r#"{"project": {"name": "tiny", "backend": "verilog"}}"#,
    )
    .unwrap();
    check(&[dir], "rtl: missing");
    // rtl/ without .v files
    std::fs::create_dir(d.path().join("rtl")).unwrap();
    check(&[dir], "no .v file");
    // an HLS project's report.json, and one without a name
    std::fs::write(
        d.path().join("report.json"),
        r#"{"project": {"name": "tiny"}}"#,
    )
    .unwrap();
    check(&[dir], "project.backend is missing, expected \"verilog\"");
    std::fs::write(
        d.path().join("report.json"),
        r#"{"project": {"backend": "verilog"}}"#,
    )
    .unwrap();
    check(&[dir], "project.name is missing");
    // a yosys that does not exist
    std::fs::write(d.path().join("rtl/tiny.v"), top_v()).unwrap();
    check(
        &[dir, "--top", "tiny", "--yosys", "/nonexistent/yosys"],
        "scripts/deps.sh",
    );
}
