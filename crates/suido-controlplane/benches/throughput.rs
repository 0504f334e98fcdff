//! Control-plane benchmark: creates and status patches per second over
//! keep-alive HTTP, and watch fan-out latency with 10,000 stored objects.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-cp cargo bench -p suido-controlplane --bench throughput`
//! (set `SUIDO_BENCH_OBJECTS` to change the object count).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use suido_controlplane::{Config, ControlPlane};

const NS_PATH: &str = "/apis/bench.suido.dev/v1/namespaces/default/gadgets";

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    fn call(&mut self, method: &str, path: &str, ct: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: b\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.w.write_all(head.as_bytes()).unwrap();
        self.w.write_all(body).unwrap();
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut len = 0;
        loop {
            let mut h = String::new();
            self.r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut b = vec![0; len];
        self.r.read_exact(&mut b).unwrap();
        (status, b)
    }
}

fn gadget(name: &str) -> Vec<u8> {
    json!({"apiVersion": "bench.suido.dev/v1", "kind": "Gadget", "metadata": {"name": name},
        "spec": {"host": format!("{name}.example.com"), "port": 443}})
    .to_string()
    .into_bytes()
}

fn crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.bench.suido.dev"},
        "spec": {"group": "bench.suido.dev", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["host"], "properties": {
                        "host": {"type": "string", "maxLength": 253},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535}}},
                    "status": {"type": "object", "properties": {"observedGeneration": {"type": "integer"}, "seq": {"type": "integer"}}}}}}}]}})
}

/// Runs `total` calls split over `threads` keep-alive connections; returns
/// calls per second.
fn parallel(addr: SocketAddr, threads: usize, total: usize, f: fn(&mut Conn, usize)) -> f64 {
    let start = Instant::now();
    let per = total / threads;
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Conn::new(addr);
                for i in 0..per {
                    f(&mut c, t * per + i);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    (per * threads) as f64 / start.elapsed().as_secs_f64()
}

fn create(c: &mut Conn, i: usize) {
    let (st, _) = c.call(
        "POST",
        NS_PATH,
        "application/json",
        &gadget(&format!("g{i:05}")),
    );
    assert_eq!(st, 201);
}

fn status_patch(c: &mut Conn, i: usize) {
    let body = json!({"status": {"seq": i}}).to_string();
    let (st, _) = c.call(
        "PATCH",
        &format!("{NS_PATH}/g{:05}/status", i % 1000),
        "application/merge-patch+json",
        body.as_bytes(),
    );
    assert_eq!(st, 200);
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Opens `n` watchers from `rv`, makes `rounds` status writes, and returns
/// the delivery latencies (write sent → event line read by a watcher) and
/// the write round trips.
fn fan_out(addr: SocketAddr, rv: &str, n: usize, rounds: usize) -> (Vec<Duration>, Vec<Duration>) {
    let (tx, rx) = mpsc::channel::<(usize, Instant)>();
    let mut streams = Vec::new();
    for _ in 0..n {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut w = s.try_clone().unwrap();
        write!(
            w,
            "GET {NS_PATH}?watch=true&resourceVersion={rv} HTTP/1.1\r\nHost: b\r\n\r\n"
        )
        .unwrap();
        let tx = tx.clone();
        streams.push(w);
        std::thread::spawn(move || {
            let mut r = BufReader::new(s);
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                // Chunked framing: event lines start with '{'.
                if let Some(p) = line.find("\"seq\":") {
                    let rest = &line[p + 6..];
                    let end = rest
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(rest.len());
                    if let Ok(seq) = rest[..end].parse::<usize>() {
                        let _ = tx.send((seq, Instant::now()));
                    }
                }
            }
        });
    }
    drop(tx);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = Conn::new(addr);
    let mut lat = Vec::new();
    let mut writes = Vec::new();
    for round in 0..rounds {
        let seq = 1_000_000 + round;
        let body = json!({"status": {"seq": seq}}).to_string();
        let sent = Instant::now();
        let (st, _) = c.call(
            "PATCH",
            &format!("{NS_PATH}/g00000/status"),
            "application/merge-patch+json",
            body.as_bytes(),
        );
        assert_eq!(st, 200);
        writes.push(sent.elapsed());
        let mut got = 0;
        while got < n {
            let (s, at) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            if s == seq {
                got += 1;
                lat.push(at.saturating_duration_since(sent));
            }
        }
    }
    for s in streams {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    (lat, writes)
}

fn main() {
    let objects: usize = std::env::var("SUIDO_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.block_on(async {
        let mut config = Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        config.watch_history = 50_000;
        ControlPlane::start(config).await.unwrap()
    });
    let addr = handle.addr();
    let mut c = Conn::new(addr);
    let (st, _) = c.call(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "application/json",
        crd().to_string().as_bytes(),
    );
    assert_eq!(st, 201);

    println!(
        "## Control plane benchmark ({objects} objects, schema admission on, fsync per write)"
    );
    for threads in [1, 4] {
        let n = if threads == 1 {
            objects / 10
        } else {
            objects - objects / 10
        };
        let offset = if threads == 1 { 0 } else { objects / 10 };
        let start = Instant::now();
        let per = n / threads;
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut c = Conn::new(addr);
                    for i in 0..per {
                        create(&mut c, offset + t * per + i);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let rate = (per * threads) as f64 / start.elapsed().as_secs_f64();
        println!(
            "create: {rate:.0} writes/s ({threads} client{})",
            if threads == 1 { "" } else { "s" }
        );
    }
    for threads in [1, 4] {
        let rate = parallel(addr, threads, 2000, status_patch);
        println!(
            "status patch: {rate:.0} writes/s ({threads} client{})",
            if threads == 1 { "" } else { "s" }
        );
    }
    let rate = parallel(addr, 4, 4000, |c, _| {
        let (st, _) = c.call("GET", &format!("{NS_PATH}/g00001"), "application/json", b"");
        assert_eq!(st, 200);
    });
    println!("get: {rate:.0} reads/s (4 clients)");
    let start = Instant::now();
    let (st, body) = c.call("GET", NS_PATH, "application/json", b"");
    assert_eq!(st, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    println!(
        "list of {} objects: {:.0} ms",
        list["items"].as_array().unwrap().len(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let mut base = None;
    for watchers in [1, 10, 100] {
        let (mut lat, mut writes) = fan_out(addr, &rv_now(addr, &rv), watchers, 50);
        let p50 = percentile(&mut lat, 0.5);
        let p99 = percentile(&mut lat, 0.99);
        let w50 = percentile(&mut writes, 0.5);
        let b = *base.get_or_insert(p50.as_secs_f64().max(1e-6));
        println!(
            "watch fan-out to {watchers:>3} watchers: delivery p50 {:.2} ms, p99 {:.2} ms ({:.2}x the 1-watcher p50; write round trip p50 {:.2} ms)",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            p50.as_secs_f64() / b,
            w50.as_secs_f64() * 1000.0,
        );
    }
    let start = Instant::now();
    let (st, _) = Conn::new(addr).call("DELETE", NS_PATH, "application/json", b"");
    assert_eq!(st, 200);
    println!(
        "deletecollection of {objects} objects: {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    rt.block_on(handle.shutdown());
}

fn rv_now(addr: SocketAddr, fallback: &str) -> String {
    let mut c = Conn::new(addr);
    let (st, body) = c.call(
        "GET",
        &format!("{NS_PATH}?limit=1"),
        "application/json",
        b"",
    );
    if st != 200 {
        return fallback.to_string();
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or(fallback)
        .to_string()
}
