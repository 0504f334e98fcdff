//! The real, preinstalled kubectl against a fresh control plane: apply
//! (client-side and server-side), get with printer columns, watch, describe,
//! wait, delete with a finalizer, explain, api-resources, refused manifests
//! and `create secret tls`.
//!
//! `SUIDO_APISERVER=real` runs the same against a real kube-apiserver
//! (`tools/real-apiserver.sh`), the reference these behaviours are checked
//! against.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use suido_realapi::{ApiServer, RealApiServer};

/// The server under test: the local control plane, or with `SUIDO_APISERVER=real` a real
/// kube-apiserver (stopped when dropped).
enum Server {
    Local(TestServer),
    /// Fields drop in order: the server stops before its directory is removed.
    Real {
        server: RealApiServer,
        _dir: tempfile::TempDir,
    },
}

impl Server {
    fn start() -> Server {
        match ApiServer::from_env().unwrap() {
            ApiServer::Local => Server::Local(TestServer::start()),
            ApiServer::Real => {
                let dir = tempfile::tempdir().unwrap();
                let real = RealApiServer::up(
                    &suido_realapi::default_script(),
                    &dir.path().join("realapi"),
                )
                .unwrap();
                Server::Real {
                    server: real,
                    _dir: dir,
                }
            }
        }
    }

    fn kubeconfig(&self) -> &Path {
        match self {
            Server::Local(s) => &s.kubeconfig,
            Server::Real { server, .. } => server.kubeconfig(),
        }
    }
}

struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    fn new(s: &Server) -> Kubectl {
        Kubectl {
            kubeconfig: s.kubeconfig().to_path_buf(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.cache.path())
            .arg("--cache-dir")
            .arg(self.cache.path().join("cache"))
            .args(args)
            .current_dir(repo_root());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "kubectl {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn kubectl_workflow_on_fixture_crd() {
    assert!(
        kubectl_available(),
        "kubectl is required on PATH for this test (CI installs it); it is not skipped"
    );
    let s = Server::start();
    let k = Kubectl::new(&s);
    let fx = fixtures();
    let crds = fx.join("crds");
    let examples = fx.join("examples");
    let (crds, examples) = (crds.to_str().unwrap(), examples.to_str().unwrap());

    assert!(
        k.ok(&["apply", "-f", crds])
            .contains("widgets.test.suido.dev created")
    );
    // kube-apiserver serves a new kind only once its CRD is Established, a moment after the
    // create (the local control plane establishes it at once).
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.test.suido.dev",
        "--timeout=30s",
    ]);
    assert!(
        k.ok(&["apply", "-f", examples])
            .contains("widget.test.suido.dev/alpha created")
    );
    assert!(k.ok(&["apply", "-f", examples]).contains("unchanged"));
    assert!(
        k.ok(&["apply", "--server-side", "-f", examples])
            .contains("serverside-applied")
    );

    // Printer columns, wide and yaml.
    let out = k.ok(&["get", "wd"]);
    let header = out.lines().next().unwrap();
    assert!(
        header.contains("HOST")
            && header.contains("PORT")
            && header.contains("READY")
            && !header.contains("BACKEND"),
        "{out}"
    );
    assert!(
        out.contains("alpha.example.com") && out.contains("9090"),
        "{out}"
    );
    assert!(
        out.contains("bravo") && out.contains("8080"),
        "defaulted port: {out}"
    );
    let wide = k.ok(&["get", "wd", "-o", "wide"]);
    assert!(
        wide.lines().next().unwrap().contains("BACKEND") && wide.contains("web"),
        "{wide}"
    );
    let yaml = k.ok(&["get", "wd", "alpha", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Widget") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );

    // api-resources and explain.
    let ar = k.ok(&["api-resources"]);
    let line = ar.lines().find(|l| l.starts_with("widgets")).unwrap();
    assert!(line.contains("wd") && line.contains("Widget"), "{line}");
    assert!(
        k.ok(&["api-resources", "--categories=suido"])
            .contains("widgets")
    );
    let ex = k.ok(&["explain", "widget.spec.port"]);
    assert!(ex.contains("TCP port of the widget."), "{ex}");

    // get -w sees an update.
    let mut watch = k.spawn(&["get", "wd", "-w", "--output-watch-events"]);
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    k.ok(&[
        "patch",
        "wd",
        "alpha",
        "--type=merge",
        "-p",
        r#"{"spec":{"host":"changed.example.com"}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200))
            && l.contains("MODIFIED")
            && l.contains("changed.example.com")
        {
            seen = true;
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(seen, "kubectl get -w did not show the update");

    // describe shows events recorded for the object.
    let uid = k.ok(&["get", "wd", "alpha", "-o", "jsonpath={.metadata.uid}"]);
    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "alpha.1", "namespace": "default"},
        "eventTime": "2026-01-01T00:00:00.000001Z",
        "regarding": {"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "name": "alpha", "namespace": "default", "uid": uid},
        "note": "all widgets reconciled", "reason": "Reconciled", "action": "Reconcile", "type": "Normal",
        "reportingController": "widget-controller", "reportingInstance": "w-1"});
    // Created with kubectl, so that the same request reaches either server.
    let event_file = k.cache.path().join("event.json");
    std::fs::write(&event_file, ev.to_string()).unwrap();
    assert!(
        k.ok(&["create", "-f", event_file.to_str().unwrap()])
            .contains("created")
    );
    let d = k.ok(&["describe", "wd", "alpha"]);
    assert!(
        d.contains("Reconciled") && d.contains("all widgets reconciled"),
        "{d}"
    );

    // wait --for=condition=Ready returns after a status patch.
    let mut wait = k.spawn(&["wait", "--for=condition=Ready", "wd/alpha", "--timeout=30s"]);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        wait.try_wait().unwrap().is_none(),
        "wait returned before Ready"
    );
    k.ok(&[
        "patch",
        "wd",
        "alpha",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    let st = wait_exit(&mut wait, Duration::from_secs(20)).expect("wait did not return");
    assert!(st.success());
    assert!(k.ok(&["get", "wd", "alpha"]).contains("True"));

    // delete blocks on a finalizer and completes once it is removed.
    k.ok(&[
        "patch",
        "wd",
        "alpha",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["test.suido.dev/hold"]}}"#,
    ]);
    let mut del = k.spawn(&["delete", "wd", "alpha", "--timeout=30s"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        del.try_wait().unwrap().is_none(),
        "delete returned while a finalizer remained"
    );
    let y = k.ok(&[
        "get",
        "wd",
        "alpha",
        "-o",
        "jsonpath={.metadata.deletionTimestamp}",
    ]);
    assert!(!y.is_empty());
    k.ok(&[
        "patch",
        "wd",
        "alpha",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#,
    ]);
    let st = wait_exit(&mut del, Duration::from_secs(20)).expect("delete did not return");
    assert!(st.success());
    assert!(!k.run(&["get", "wd", "alpha"]).status.success());

    // Typed kubectl commands send protobuf bodies.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=web.example.com",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        k.ok(&[
            "create",
            "secret",
            "tls",
            "web-tls",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert!(
            k.ok(&["get", "secret", "web-tls"])
                .contains("kubernetes.io/tls")
        );
    } else {
        eprintln!("openssl not available; skipping create secret tls");
    }
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ]);
    assert_eq!(
        k.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.mode}"]),
        "fast"
    );
    k.ok(&["create", "namespace", "team-a"]);
    k.ok(&["-n", "team-a", "create", "serviceaccount", "robot"]);
    assert!(k.ok(&["get", "sa", "-n", "team-a"]).contains("robot"));
}

#[test]
fn kubectl_project_crds_and_examples() {
    assert!(
        kubectl_available(),
        "kubectl is required on PATH for this test (CI installs it); it is not skipped"
    );
    let root = repo_root();
    assert!(
        root.join("crds").is_dir(),
        "crds/ is missing: run `cargo run -p suido -- crds --out-dir crds`"
    );
    let s = Server::start();
    let k = Kubectl::new(&s);
    let out = k.ok(&["apply", "-f", "crds/"]);
    assert_eq!(
        out.matches(" created").count(),
        std::fs::read_dir(root.join("crds")).unwrap().count()
    );
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=60s",
    ]);
    k.ok(&["apply", "-f", "examples/"]);
    let again = k.ok(&["apply", "-f", "examples/"]);
    assert!(!again.contains("created"), "{again}");
    k.ok(&["apply", "--server-side", "-f", "examples/"]);
    // kubectl moved the client-side-apply ownership to its apply manager.
    let mf = k.ok(&[
        "get",
        "tenants",
        "-o",
        "jsonpath={range .items[*].metadata.managedFields[*]}{.manager}/{.operation} {end}",
    ]);
    eprintln!("managers after --server-side: {mf}");
    assert!(mf.contains("kubectl/Apply"), "{mf}");
    let all = k.ok(&["get", "suido", "-A"]);
    assert!(all.lines().count() > 5, "{all}");
    let ar = k.ok(&["api-resources", "--api-group=infra.suido.dev"]);
    assert!(ar.lines().count() > 10, "{ar}");

    // Every refused manifest is refused with a message naming its field.
    let invalid = root.join("examples/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&invalid)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let field = text
            .lines()
            .find_map(|l| l.strip_prefix("# field:"))
            .map(|f| f.trim().to_string());
        let o = k.run(&["apply", "-f", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{} was accepted", path.display());
        if let Some(f) = field {
            assert!(
                err.contains(&f),
                "{}: error does not name {f}: {err}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 0);
}
