//! `suido control-plane` as a real process: every acknowledged write
//! survives a kill -9, with the same resourceVersions, and the counter
//! keeps increasing after the restart.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

fn start(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["control-plane", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink);
    });
    (child, addr)
}

fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let text = String::from_utf8(resp).ok()?;
    let status: u16 = text.split_whitespace().nth(1)?.parse().ok()?;
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let json_text = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        loop {
            let (size, after) = r.split_once("\r\n")?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(after.get(..n)?);
            r = after.get(n + 2..)?;
        }
        out
    } else {
        rest.to_string()
    };
    Some((status, serde_json::from_str(&json_text).ok()?))
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "suido-cp-durability-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let data = temp_dir();
    let (mut child, addr) = start(&data);
    assert!(data.join("kubeconfig").exists());

    // Writers create and update objects until the server dies.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..2 {
        let (addr, acked) = (addr.clone(), acked.clone());
        writers.push(std::thread::spawn(move || {
            for i in 0.. {
                let name = format!("cm-{w}-{i}");
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name}, "data": {"n": i.to_string()}});
                match request(
                    &addr,
                    "POST",
                    "/api/v1/namespaces/default/configmaps",
                    Some(&body),
                ) {
                    Some((201, obj)) => {
                        let rv = obj["metadata"]["resourceVersion"]
                            .as_str()
                            .unwrap()
                            .to_string();
                        acked.lock().unwrap().push((name, rv));
                    }
                    _ => break,
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(800));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 5,
        "too few writes before the kill: {}",
        acked.len()
    );

    let (mut child, addr) = start(&data);
    let list = request(&addr, "GET", "/api/v1/namespaces/default/configmaps", None)
        .unwrap()
        .1;
    let items = list["items"].as_array().unwrap();
    for (name, rv) in &acked {
        let found = items
            .iter()
            .find(|o| o["metadata"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} lost after kill -9"));
        assert_eq!(found["metadata"]["resourceVersion"], rv.as_str(), "{name}");
    }
    let max_rv: u64 = acked
        .iter()
        .map(|(_, rv)| rv.parse::<u64>().unwrap())
        .max()
        .unwrap();
    let list_rv: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(list_rv >= max_rv);
    let (code, obj) = request(
        &addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&json!({"metadata": {"name": "after-restart"}})),
    )
    .unwrap();
    assert_eq!(code, 201);
    let rv: u64 = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        rv > list_rv,
        "resourceVersion went backwards: {rv} <= {list_rv}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}
