//! insta snapshots of every generated file of one small project (a seeded 4-8-3 model with
//! biases), for both strategies, so every change of the generated code shows up in review.
//! Update with `INSTA_UPDATE=always cargo test --test hls_snapshots` (or cargo insta review).

mod common;

use bit2hls::back::hls::{self, ProjectMeta, Strategy};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::{Profile, ProfileName};
use common::*;

/// The snapshot model, under `profile` (bithep when `None`); snapshot names get the profile's
/// name as a prefix when one is given.
fn model(profile: Option<ProfileName>) -> (bit2hls::ir::Model, String) {
    let mut m = bit2hls::testutil::random_mlp(&[4, 8, 3], 2026, true);
    match profile {
        Some(p) => {
            m.profile = Profile::named(p);
            (m, format!("{p}__"))
        }
        None => (m, String::new()),
    }
}

fn snapshot_project(mode: Mode, strategy: Strategy, reuse: usize, verbatim: bool) {
    snapshot_project_as(None, mode, strategy, reuse, verbatim)
}

fn snapshot_project_as(
    profile: Option<ProfileName>,
    mode: Mode,
    strategy: Strategy,
    reuse: usize,
    verbatim: bool,
) {
    let (model, prefix) = model(profile);
    let fw = lower(&model, mode, None, None);
    let x = tb_samples(4, 8, 1);
    let meta = ProjectMeta {
        model: "random_4_8_3.safetensors".into(),
        tb_source: "snapshot samples".into(),
        calib: None,
    };
    let files = hls::render(&fw, &opts(strategy, reuse), &meta, &x).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (path, text) in &files {
            // The kernels and shared Tcl are verbatim copies: snapshotted once.
            if !verbatim
                && (path.starts_with("firmware/nnet_utils/") || path.starts_with("vivado_scripts/"))
            {
                continue;
            }
            let name = format!(
                "{prefix}{}__{}__{}",
                mode,
                strategy.as_str(),
                path.replace('/', "__")
            );
            insta::assert_snapshot!(name, text);
        }
    });
}

#[test]
fn latency_dynamic() {
    snapshot_project(Mode::Dynamic, Strategy::Latency, 1, true);
}

#[test]
fn resource_dynamic_pow2() {
    snapshot_project(Mode::DynamicPow2, Strategy::Resource, 4, false);
}

#[test]
fn latency_static() {
    snapshot_project(Mode::Static, Strategy::Latency, 1, false);
}

/// Every file of the Verilog project (and the estimate recorded in its report.json).
fn snapshot_rtl(mode: Mode, adders_per_stage: u32) {
    snapshot_rtl_as(None, mode, adders_per_stage)
}

fn snapshot_rtl_as(profile: Option<ProfileName>, mode: Mode, adders_per_stage: u32) {
    use bit2hls::back::rtl::{self, schedule::PipelineOptions, Design, RtlOptions};
    let (model, prefix) = model(profile);
    let fw = lower(&model, mode, None, None);
    let x = tb_samples(4, 8, 1);
    let pipeline = PipelineOptions { adders_per_stage };
    let part = bit2hls::estimate::parts::default_part();
    let est = bit2hls::estimate::design::estimate_rtl(&fw, &Design::new(&fw, pipeline), part, 5.0);
    let o = RtlOptions {
        name: "myproject".into(),
        part: part.name.into(),
        clock_ns: 5.0,
        pipeline,
    };
    let (files, _) = rtl::render(
        &fw,
        &o,
        "random_4_8_3.safetensors",
        &x,
        serde_json::json!({ "estimate": est }),
    )
    .unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (path, text) in &files {
            let name = format!("{prefix}verilog__{}__{}", mode, path.replace('/', "__"));
            insta::assert_snapshot!(name, text);
        }
    });
}

#[test]
fn verilog_dynamic() {
    snapshot_rtl(Mode::Dynamic, 3);
}

#[test]
fn verilog_dynamic_pow2() {
    snapshot_rtl(Mode::DynamicPow2, 2);
}

#[test]
fn verilog_static() {
    snapshot_rtl(Mode::Static, 4);
}

/// In-layer-norm profiles: centring stage (schneiderkamp) and code-unit dequantization.
#[test]
fn schneiderkamp_latency_dynamic() {
    snapshot_project_as(
        Some(ProfileName::Schneiderkamp),
        Mode::Dynamic,
        Strategy::Latency,
        1,
        false,
    );
}

#[test]
fn kyegomez_resource_static() {
    snapshot_project_as(
        Some(ProfileName::Kyegomez),
        Mode::Static,
        Strategy::Resource,
        4,
        false,
    );
}

#[test]
fn schneiderkamp_verilog_dynamic_pow2() {
    snapshot_rtl_as(Some(ProfileName::Schneiderkamp), Mode::DynamicPow2, 2);
}
