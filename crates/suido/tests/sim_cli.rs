//! `suido sim serve` and `suido sim admin` as separate processes: start the simulator on a free
//! port, list resources, set and clear faults, fail a host, and stop it.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use suido_provider::{ClientToken, ComputeProvider, ServerSize, ServerSpec, Tags};
use suido_sim::SimProvider;

/// A fresh state directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("suido-sim-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `suido sim serve` on port 0 and reads the URL it prints.
fn serve(state: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("suido sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    Served { child, url }
}

fn suido(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(args)
        .output()
        .unwrap()
}

fn admin_json(url: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["sim", "admin", "--url", url];
    all.extend_from_slice(args);
    let out = suido(&all);
    assert!(
        out.status.success(),
        "suido {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn create_server(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let p = SimProvider::new(url).unwrap();
        let spec = ServerSpec {
            name: "cli".into(),
            size: ServerSize::parse("2CPU-8GB").unwrap(),
            os: Default::default(),
            os_disk_gb: None,
            packages: Vec::new(),
            antivirus: Default::default(),
            rds_licenses: None,
            disks: Vec::new(),
        };
        let tags: Tags = [("suido.dev/tenant".to_string(), "a".to_string())].into();
        p.create_server(&ClientToken::new("cli-1").unwrap(), &tags, &spec)
            .await
            .unwrap()
            .resource_id
    })
}

#[test]
fn serve_list_faults_fail_host_and_restart() {
    let state = TempDir::new("serve");
    let faults = state.path().join("faults.json");
    std::fs::write(&faults, r#"{"seed": 3, "latencyMs": 1}"#).unwrap();
    let served = serve(
        state.path(),
        &["--instant", "--faults", faults.to_str().unwrap()],
    );
    let url = served.url.clone();

    assert_eq!(admin_json(&url, &["list"])["items"], serde_json::json!([]));
    let shown = admin_json(&url, &["faults", "show"]);
    assert_eq!(
        (shown["seed"].as_u64(), shown["latencyMs"].as_u64()),
        (Some(3), Some(1))
    );

    let id = create_server(&url);
    let servers = admin_json(&url, &["list", "servers"]);
    assert_eq!(servers["items"][0]["id"], id.as_str());
    assert_eq!(servers["items"][0]["state"], "Running");
    let ops = admin_json(&url, &["list", "operations"]);
    assert_eq!(ops["items"][0]["kind"], "CreateServer");
    assert_eq!(ops["items"][0]["state"], "Succeeded");
    assert_eq!(
        admin_json(&url, &["list", "volumes"])["items"],
        serde_json::json!([])
    );

    let set = admin_json(
        &url,
        &[
            "faults",
            "set",
            "--error-rate",
            "0.2",
            "--timeout-after-commit-rate",
            "0.1",
            "--latency-ms",
            "50",
        ],
    );
    assert_eq!(set["errorRate"], 0.2);
    let shown = admin_json(&url, &["faults", "show"]);
    assert_eq!(shown["timeoutAfterCommitRate"], 0.1);
    assert_eq!(shown["latencyMs"], 50);
    let cleared = admin_json(&url, &["faults", "clear"]);
    assert_eq!(cleared["errorRate"], 0.0);

    let health = admin_json(&url, &["fail-host", "--server", &id, "--for", "30s"]);
    assert_eq!(health["state"], "Down");
    assert_eq!(health["failedLayer"], "Hypervisor");

    // Bad input: a clear message naming the problem, and a failing exit status.
    let out = suido(&[
        "sim",
        "admin",
        "--url",
        &url,
        "fail-host",
        "--server",
        &id,
        "--for",
        "30",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("30s"));
    let out = suido(&[
        "sim",
        "admin",
        "--url",
        &url,
        "faults",
        "set",
        "--error-rate",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("errorRate"));
    let out = suido(&[
        "sim",
        "admin",
        "--url",
        &url,
        "fail-host",
        "--server",
        "srv-x",
        "--for",
        "1s",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("srv-x"));

    // Stop it, start again on the same state: the server and its outage are still there.
    drop(served);
    let served = serve(state.path(), &["--instant"]);
    let servers = admin_json(&served.url, &["list", "servers"]);
    assert_eq!(servers["items"][0]["id"], id.as_str());
    let p_health = {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use suido_provider::HealthProvider;
            let p = SimProvider::with_timeout(&served.url, Duration::from_secs(5)).unwrap();
            p.server_health(&id).await.unwrap()
        })
    };
    assert_eq!(p_health.state, suido_provider::HealthState::Down);
}

#[test]
fn serve_refuses_a_non_loopback_address() {
    let state = TempDir::new("loopback");
    let out = suido(&[
        "sim",
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--state",
        state.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
