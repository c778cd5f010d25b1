//! The dependency rule of docs/layers.md, checked on the source: every `crate::` path in a
//! library module's production code (comments and `#[cfg(test)]` code excluded) must point to a
//! module of a strictly lower layer. Modules of one layer are siblings and never import each
//! other (the backends in particular); strict layering also rules out cycles. A new top-level
//! module must be placed in [`LAYERS`] before this test passes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Layers from the bottom up; a module may use only modules of earlier rows.
const LAYERS: &[&[&str]] = &[
    &["error", "choice"],
    &["io", "ir", "target"],
    &["reference", "synthetic", "project", "cmvm"],
    &["front", "pass"],
    &["pipeline"],
    &["hw"],
    &["back::emu", "back::hls", "back::rtl"],
    &["estimate", "synth", "validate"],
    &["report"],
    &["cli", "fuzzing"],
    &["testutil"],
];

/// Files that are test-only modules (declared under `#[cfg(test)]`).
const TEST_FILES: &[&str] = &["tests.rs", "problem.rs", "naive.rs"];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

/// `src/back/hls/csim.rs` → `back::hls`; `src/ir/firmware.rs` → `ir`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [one] if one == "lib" || one == "main" => None,
        [back, m] if back == "back" && m == "mod" => None,
        [back, sub, ..] if back == "back" && sub != "mod" => Some(format!("back::{sub}")),
        [first, ..] => Some(first.clone()),
        [] => None,
    }
}

/// Production code of a file: without comments and without a trailing `#[cfg(test)] mod tests`.
fn production_code(text: &str) -> String {
    let cut = text
        .find("#[cfg(test)]\nmod tests")
        .or_else(|| text.find("#[cfg(test)]\npub(crate) mod tests"))
        .unwrap_or(text.len());
    text[..cut]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `code` names through `crate::` paths (`back::x` for the backends).
fn targets(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `bit2hls_crate::`, not ours
        }
        let rest = &code[i + "crate::".len()..];
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let first = ident(rest);
        if first == "back" {
            let sub = rest.strip_prefix("back::").map(ident).unwrap_or_default();
            out.insert(format!("back::{sub}"));
        } else if first == "Error" || first == "Result" {
            out.insert("error".into()); // re-exported at the crate root from `error`
        } else if !first.is_empty() {
            out.insert(first);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut edges = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        if TEST_FILES.contains(&name.as_ref()) {
            continue;
        }
        let Some(from) = module_of(&src, f) else {
            continue;
        };
        let Some(rf) = rank(&from) else {
            problems.push(format!("{}: module '{from}' is not in LAYERS", f.display()));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for to in targets(&production_code(&text)) {
            if to == from {
                continue;
            }
            edges += 1;
            match rank(&to) {
                None => problems.push(format!("{}: uses '{to}', which is not in LAYERS", f.display())),
                Some(rt) if rt >= rf => problems.push(format!(
                    "{}: '{from}' (layer {rf}) uses '{to}' (layer {rt}): dependencies must point down",
                    f.display()
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        edges > 30,
        "found only {edges} cross-module imports: the scan is broken"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_a_violation() {
    // The scanner itself: a backend naming a sibling backend is found, comments are not.
    let code = production_code(
        "//! see crate::back::hls\nuse crate::back::hls::Namer;\nuse crate::ir::Model;\n\
         #[cfg(test)]\nmod tests {\n use crate::cli::x;\n}\n",
    );
    let t = targets(&code);
    assert_eq!(
        t,
        BTreeSet::from(["back::hls".to_string(), "ir".to_string()])
    );
    assert!(rank("back::hls") == rank("back::rtl"));
    assert!(rank("ir") < rank("front") && rank("front") < rank("cli"));
}

#[test]
fn clap_lives_only_in_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| module_of(&src, f).is_some_and(|m| m != "cli"))
        .filter(|f| {
            let code = production_code(&std::fs::read_to_string(f).unwrap());
            code.contains("clap::") || code.contains("use clap")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "clap outside src/cli/: {}",
        offenders.join(", ")
    );
}
