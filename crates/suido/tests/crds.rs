//! `crds/` is exactly what `suido crds` generates: a test fails when the committed CRDs drift
//! from the Rust types.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn committed_crds_match_the_generated_ones() {
    let tmp = std::env::temp_dir().join(format!("suido-crds-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["crds", "--out-dir"])
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(status.success());
    let generated = files(&tmp);
    let committed = files(&repo().join("crds"));
    std::fs::remove_dir_all(&tmp).unwrap();
    assert_eq!(generated.len(), 12);
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "crds/ has other files than generated"
    );
    for ((name, want), (_, have)) in generated.iter().zip(&committed) {
        assert!(
            want == have,
            "crds/{name} differs from the generated CRD: run `cargo run -p suido -- crds --out-dir crds`"
        );
    }
}

#[test]
fn printed_crds_are_the_committed_files_as_one_stream() {
    let out = Command::new(env!("CARGO_BIN_EXE_suido"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<&str> = printed.split("---\n").filter(|d| !d.is_empty()).collect();
    assert_eq!(docs.len(), 12);
    let committed = files(&repo().join("crds"));
    for doc in docs {
        assert!(
            committed.iter().any(|(_, text)| text == doc),
            "a printed CRD is not in crds/"
        );
    }
}

#[test]
fn the_chart_ships_the_same_crds() {
    let committed = files(&repo().join("crds"));
    let chart = files(&repo().join("charts/suido/crds"));
    assert_eq!(
        chart, committed,
        "charts/suido/crds differs from crds/: run `cargo run -p suido -- crds --out-dir charts/suido/crds`"
    );
}
