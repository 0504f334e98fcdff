//! Test helpers: a control plane on its own runtime thread, and a tiny
//! blocking HTTP/1.1 client that also reads chunked watch streams.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use suido_controlplane::{Config, ControlPlane};

/// A running server with its data directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::mpsc::UnboundedSender<Cmd>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

enum Cmd {
    Stop,
    Compact,
    Expire,
    Lists(std::sync::mpsc::Sender<u64>),
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, "127.0.0.1:0".parse().unwrap(), |_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config) + Send + 'static) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, "127.0.0.1:0".parse().unwrap(), tweak)
    }

    pub fn start_in(
        dir: tempfile::TempDir,
        listen: SocketAddr,
        tweak: impl FnOnce(&mut Config) + Send + 'static,
    ) -> TestServer {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Cmd>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let data = dir.path().to_path_buf();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut config = Config::new(data, listen);
                config.bookmark_interval = Duration::from_secs(1);
                tweak(&mut config);
                let handle = ControlPlane::start(config).await.unwrap();
                ready_tx
                    .send((handle.addr(), handle.kubeconfig().to_path_buf()))
                    .unwrap();
                loop {
                    match rx.recv().await {
                        Some(Cmd::Compact) => handle.compact_watch_history(),
                        Some(Cmd::Expire) => handle.expire_watches(),
                        Some(Cmd::Lists(tx)) => {
                            let _ = tx.send(handle.lists_served());
                        }
                        Some(Cmd::Stop) | None => break,
                    }
                }
                handle.shutdown().await;
            });
        });
        let (addr, kubeconfig) = ready_rx.recv().unwrap();
        TestServer {
            addr,
            kubeconfig,
            dir,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Stops the server and returns its data directory for a restart.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.shutdown();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(Cmd::Stop);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn compact(&self) {
        if let Some(tx) = &self.stop {
            tx.send(Cmd::Compact).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    pub fn expire_watches(&self) {
        if let Some(tx) = &self.stop {
            tx.send(Cmd::Expire).unwrap();
        }
    }

    pub fn lists_served(&self) -> u64 {
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stop) = &self.stop {
            stop.send(Cmd::Lists(tx)).unwrap();
        }
        rx.recv().unwrap()
    }

    pub fn client(&self) -> Client {
        Client { addr: self.addr }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
}

fn read_head(r: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("bad status line {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (status, headers)
}

fn read_chunk(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut size = String::new();
    if r.read_line(&mut size).ok()? == 0 {
        return None;
    }
    let n = usize::from_str_radix(size.trim(), 16).ok()?;
    let mut buf = vec![0; n];
    r.read_exact(&mut buf).ok()?;
    let mut crlf = [0u8; 2];
    r.read_exact(&mut crlf).ok()?;
    if n == 0 { None } else { Some(buf) }
}

impl Client {
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut r = BufReader::new(s);
        let (status, headers) = read_head(&mut r);
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let mut body = Vec::new();
        if chunked {
            while let Some(c) = read_chunk(&mut r) {
                body.extend(c);
            }
        } else if let Some(len) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
        {
            body.resize(len, 0);
            r.read_exact(&mut body).unwrap();
        } else {
            r.read_to_end(&mut body).unwrap();
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.raw("GET", path, &[], b"")
    }

    pub fn get_accept(&self, path: &str, accept: &str) -> Resp {
        self.raw("GET", path, &[("Accept", accept)], b"")
    }

    pub fn send(&self, method: &str, path: &str, ct: &str, body: &Value) -> Resp {
        self.raw(
            method,
            path,
            &[("Content-Type", ct)],
            body.to_string().as_bytes(),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, "application/json", body)
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.send("PUT", path, "application/json", body)
    }

    pub fn patch(&self, path: &str, ct: &str, body: &Value) -> Resp {
        self.send("PATCH", path, ct, body)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.raw("DELETE", path, &[], b"")
    }

    /// Opens a watch and returns a reader of events.
    pub fn watch(&self, path: &str, accept: Option<&str>) -> Watch {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n");
        if let Some(a) = accept {
            req.push_str(&format!("Accept: {a}\r\n"));
        }
        req.push_str("\r\n");
        w.write_all(req.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let (status, headers) = read_head(&mut r);
        Watch {
            status,
            headers,
            reader: r,
            pending: Vec::new(),
            ended: false,
        }
    }
}

pub struct Watch {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    pending: Vec<u8>,
    pub ended: bool,
}

impl Watch {
    /// The next event, or None when the stream ended (or timed out).
    pub fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                return Some(serde_json::from_slice(&line[..line.len() - 1]).unwrap());
            }
            match read_chunk(&mut self.reader) {
                Some(c) => self.pending.extend(c),
                None => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// The next event that is not a BOOKMARK.
    pub fn next_non_bookmark(&mut self) -> Option<Value> {
        loop {
            let e = self.next()?;
            if e["type"] != "BOOKMARK" {
                return Some(e);
            }
        }
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture CRD as JSON.
pub fn widget_crd() -> Value {
    let text = std::fs::read_to_string(fixtures().join("crds/widgets.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

pub const WIDGETS: &str = "/apis/test.suido.dev/v1alpha1/namespaces/default/widgets";

pub fn install_widgets(c: &Client) {
    let r = c.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &widget_crd(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

pub fn widget(name: &str, host: &str) -> Value {
    serde_json::json!({
        "apiVersion": "test.suido.dev/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"host": host},
    })
}
