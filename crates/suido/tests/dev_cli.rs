//! The README's main command: `suido dev` starts the control plane, the simulated platform and
//! the operator, says how to point kubectl at it, builds what is applied, and stops cleanly on
//! SIGTERM, keeping its state for the next start.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts `suido dev` and returns it with the kubeconfig path it printed.
fn start(data: &Path) -> (Child, PathBuf) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["dev", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut kubeconfig = None;
    let mut printed = String::new();
    for line in (&mut stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
            kubeconfig = Some(PathBuf::from(path));
        }
        if line.contains("kubectl get suido") {
            break;
        }
    }
    assert!(
        printed.contains("control plane") && printed.contains("simulated platform"),
        "{printed}"
    );
    (
        child,
        kubeconfig.expect("suido dev prints the kubeconfig to export"),
    )
}

fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stop(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "suido dev exits cleanly on SIGTERM: {exit}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "suido dev did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn suido_dev_runs_the_main_path_and_keeps_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    let (mut child, kubeconfig) = start(&data);
    assert_eq!(kubeconfig, data.join("kubeconfig"));
    let examples = repo().join("examples");
    for file in [
        "00-namespaces.yaml",
        "01-tenants.yaml",
        "11-operator-servers.yaml",
    ] {
        kubectl(
            &kubeconfig,
            &cache,
            &["apply", "-f", examples.join(file).to_str().unwrap()],
        );
    }
    kubectl(
        &kubeconfig,
        &cache,
        &[
            "wait",
            "--for=condition=Ready",
            "vs/ops-files",
            "-n",
            "kawasemi-ops",
            "--timeout=120s",
        ],
    );
    let id = kubectl(
        &kubeconfig,
        &cache,
        &[
            "get",
            "vs",
            "ops-files",
            "-n",
            "kawasemi-ops",
            "-o",
            "jsonpath={.status.externalId}",
        ],
    );
    assert!(id.starts_with("srv-"), "{id}");
    stop(&mut child);

    // Started again on the same data: the object, its server and its status are still there.
    let (mut child, kubeconfig) = start(&data);
    let again = kubectl(
        &kubeconfig,
        &cache,
        &[
            "get",
            "vs",
            "ops-files",
            "-n",
            "kawasemi-ops",
            "-o",
            "jsonpath={.status.externalId}",
        ],
    );
    assert_eq!(again, id);
    kubectl(
        &kubeconfig,
        &cache,
        &[
            "wait",
            "--for=condition=Ready",
            "vs/ops-files",
            "-n",
            "kawasemi-ops",
            "--timeout=60s",
        ],
    );
    stop(&mut child);
}
