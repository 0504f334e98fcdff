//! Differential test: the same requests, in the same order, to the local control plane and to a
//! real kube-apiserver (with etcd and kube-controller-manager, from `tools/real-apiserver.sh`).
//!
//! The flows are the ones Suido and its tenants depend on: installing the CRDs and discovery,
//! every manifest in `examples/invalid`, server-side apply with conflicts and forcing, merge and
//! JSON patches, updates with stale or missing resourceVersions, creates that collide or carry
//! unknown fields, lists by label and by page, the status subresource, finalizers and deletion,
//! and watches resumed from a resourceVersion or started with initial events.
//!
//! Each answer is reduced to what a client can rely on: the status code, the Status reason, the
//! fields named in its causes, its message, the warnings, and the object with the values that
//! are by nature the server's own (uid, resourceVersion, timestamps, generated names) replaced
//! by placeholders. Both servers must give the same reduced answer to every step, except the
//! steps in [`KNOWN_DIFFERENCES`], which docs/control-plane.md lists with the reason. A step in
//! that list whose answers have become equal fails the test too, so the list stays true.
//!
//! This test always needs the real server (built on first use, see docs/real-apiserver.md), so
//! it runs in CI's first pass only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test file: a failed unwrap is a failed test

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::client::Body;
use serde::Deserialize as _;
use serde_json::{Value, json};
use suido_realapi::RealApiServer;

/// Steps whose answers differ between the servers, with the reason. docs/control-plane.md
/// ("Differences from kube-apiserver") says the same.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "apply/malformed-yaml",
        "the YAML parsers word their errors differently; same 400 BadRequest",
    ),
    (
        "list/bad-continue",
        "continue tokens are opaque and encoded differently, so a forged one fails to decode \
         with a different message; same 400 BadRequest",
    ),
    (
        "patch/json-path-missing",
        "kube-apiserver says only that the request was in error; the local server names the \
         operation and path that failed; same 422 Invalid",
    ),
    (
        "patch/json-test-fails",
        "as patch/json-path-missing: the local message names the failed test; same 422 Invalid",
    ),
    (
        "patch/merge-malformed-json",
        "kube-apiserver says \"invalid JSON patch\" even for a merge patch; the local server \
         gives the parser's position; same 400 BadRequest",
    ),
    (
        "post/array-body",
        "kube-apiserver prints Go's decoder error about its internal type; same 400 BadRequest",
    ),
    (
        "post/wrong-api-version",
        "kube-apiserver also warns that `spec` is an unknown field (it decodes the body before \
         refusing the version); same 400 BadRequest and message",
    ),
    (
        "watch/not-a-resource-version",
        "kube-apiserver answers a non-numeric resourceVersion with 500 and Go's parse error; \
         the local server answers 400 BadRequest, since the client is at fault",
    ),
];

const GROUP: &str = "/apis/infra.suido.dev/v1alpha1";
const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One answer, reduced to what is compared.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
struct Answer {
    code: u16,
    /// `reason` of a Status answer.
    reason: Option<String>,
    /// `details.causes[].field` of a Status answer, sorted.
    fields: Vec<String>,
    /// `message` of a Status answer.
    message: Option<String>,
    /// `Warning` headers, without the `299 - ` prefix.
    warnings: Vec<String>,
    /// The body with server-specific values replaced (Null for a Status).
    body: Value,
}

/// A raw answer, for the flow to take values from (a resourceVersion, a continue token).
struct Raw {
    json: Value,
}

/// A client of one server and the answers it got, step by step.
struct Probe {
    server: &'static str,
    client: kube::Client,
    log: Vec<(String, Answer)>,
}

impl Probe {
    async fn new(server: &'static str, kubeconfig: &Path) -> Probe {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let mut config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .unwrap();
        // The answers themselves are compared: kube-client would retry a 504 for minutes.
        config.default_retry = false;
        Probe {
            server,
            client: kube::Client::try_from(config).unwrap(),
            log: Vec::new(),
        }
    }

    /// Sends a request without recording it.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Vec<String>, Vec<u8>) {
        let mut req = http::Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let started = Instant::now();
        let resp = self
            .client
            .send(req.body(Body::from(body)).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{}: {method} {path}: {e}", self.server));
        let code = resp.status().as_u16();
        let warnings = resp
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| {
                let v = v.to_str().unwrap_or_default();
                v.strip_prefix("299 - ").unwrap_or(v).to_string()
            })
            .collect();
        let bytes = resp.into_body().collect_bytes().await.unwrap();
        if started.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "{}: {method} {path} took {:?}",
                self.server,
                started.elapsed()
            );
        }
        (code, warnings, bytes.to_vec())
    }

    /// Sends a JSON request (or `text` as it is) and records the reduced answer as `step`.
    async fn step(
        &mut self,
        step: &str,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Raw {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.step_bytes(step, method, path, content_type, bytes)
            .await
    }

    async fn step_bytes(
        &mut self,
        step: &str,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Raw {
        let (code, warnings, bytes) = self.raw(method, path, content_type, body).await;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            Value::String(format!("(not JSON) {}", String::from_utf8_lossy(&bytes)))
        });
        self.log
            .push((step.to_string(), reduce(code, warnings, &json)));
        Raw { json }
    }

    /// Records a value the flow computed (for example whether a resourceVersion moved).
    fn note(&mut self, step: &str, value: Value) {
        self.log.push((
            step.to_string(),
            Answer {
                code: 0,
                reason: None,
                fields: Vec::new(),
                message: None,
                warnings: Vec::new(),
                body: value,
            },
        ));
    }

    /// A watch that the server ends after `seconds`: its events, reduced to type and name
    /// (ERROR events to their code and reason; periodic BOOKMARKs left out, the one that ends
    /// the initial events kept).
    async fn watch(&mut self, step: &str, path: &str, seconds: u32) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let path = format!("{path}{sep}watch=true&timeoutSeconds={seconds}");
        let (code, warnings, bytes) = self.raw("GET", &path, None, Vec::new()).await;
        let mut answer = if code == 200 {
            let text = String::from_utf8_lossy(&bytes);
            let events: Vec<Value> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| {
                    let e: Value = serde_json::from_str(l).unwrap();
                    let ty = e["type"].as_str().unwrap_or_default().to_string();
                    let o = &e["object"];
                    match ty.as_str() {
                        "BOOKMARK" => o["metadata"]["annotations"]["k8s.io/initial-events-end"]
                            .as_str()
                            .map(|v| json!(["BOOKMARK", format!("initial-events-end={v}")])),
                        "ERROR" => Some(json!(["ERROR", o["code"], o["reason"]])),
                        _ => Some(json!([ty, o["metadata"]["name"]])),
                    }
                })
                .collect();
            reduce(code, warnings, &json!({ "events": events }))
        } else {
            let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            reduce(code, warnings, &json)
        };
        answer.body = answer.body.get("events").cloned().unwrap_or(answer.body);
        self.log.push((step.to_string(), answer));
    }
}

/// Reduces an answer to what is compared.
fn reduce(code: u16, warnings: Vec<String>, json: &Value) -> Answer {
    if json["kind"] == "Status" && json["apiVersion"] == "v1" && json["status"] != "Success" {
        let mut fields: Vec<String> = json["details"]["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["field"].as_str().map(str::to_string))
            .collect();
        fields.sort();
        return Answer {
            code,
            reason: json["reason"].as_str().map(str::to_string),
            fields,
            message: json["message"].as_str().map(scrub_message),
            warnings,
            body: Value::Null,
        };
    }
    let mut body = json.clone();
    scrub(&mut body);
    if let Some(uid) = body.pointer_mut("/details/uid") {
        *uid = json!("<uid>");
    }
    Answer {
        code,
        reason: None,
        fields: Vec::new(),
        message: None,
        warnings,
        body,
    }
}

/// Replaces, in an error message, the values that each server chooses for itself: the
/// resourceVersion and uid "in record", the current resourceVersion.
fn scrub_message(message: &str) -> String {
    let mut out = message.to_string();
    for (start, end) in [
        ("in record (", ")"),
        ("current: ", ""),
        ("Too large resource version: ", ""),
    ] {
        if let Some(i) = out.find(start) {
            let from = i + start.len();
            let to = if end.is_empty() {
                out[from..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(out.len(), |j| from + j)
            } else {
                out[from..].find(end).map_or(out.len(), |j| from + j)
            };
            out.replace_range(from..to, "<server's>");
        }
    }
    out
}

/// Replaces the values that each server chooses for itself.
fn scrub(v: &mut Value) {
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            scrub(item);
        }
    }
    let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for key in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "continue",
    ] {
        // An empty continue token is the same on both servers.
        if meta.get(key).is_some_and(|v| v != "") {
            meta.insert(key.into(), json!(format!("<{key}>")));
        }
    }
    if meta.contains_key("generateName") {
        meta.insert("name".into(), json!("<generated>"));
    }
    if let Some(mf) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
        for entry in mf {
            if let Some(e) = entry.as_object_mut()
                && e.contains_key("time")
            {
                e.insert("time".into(), json!("<time>"));
            }
        }
    }
}

/// The project's CRDs, as JSON.
fn crds() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_yaml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// Every file of `examples/invalid` with its documents.
fn invalid_examples() -> Vec<(String, Vec<Value>)> {
    let dir = repo_root().join("examples/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let docs = serde_yaml::Deserializer::from_str(&text)
                .map(|d| serde_yaml::Value::deserialize(d).unwrap())
                .filter(|d| !d.is_null())
                .map(|d| serde_json::to_value(d).unwrap())
                .collect();
            (p.file_name().unwrap().to_string_lossy().into_owned(), docs)
        })
        .collect()
}

/// Kind → (plural, namespaced), from the CRDs.
fn kinds(crds: &[Value]) -> BTreeMap<String, (String, bool)> {
    crds.iter()
        .map(|c| {
            let names = &c["spec"]["names"];
            (
                names["kind"].as_str().unwrap().to_string(),
                (
                    names["plural"].as_str().unwrap().to_string(),
                    c["spec"]["scope"] == "Namespaced",
                ),
            )
        })
        .collect()
}

/// The path of an object of `kind` (namespace `default` when a namespaced one names none).
fn object_path(kinds: &BTreeMap<String, (String, bool)>, obj: &Value) -> String {
    let (plural, namespaced) = &kinds[obj["kind"].as_str().unwrap()];
    let name = obj["metadata"]["name"].as_str().unwrap();
    if *namespaced {
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
        format!("{GROUP}/namespaces/{ns}/{plural}/{name}")
    } else {
        format!("{GROUP}/{plural}/{name}")
    }
}

fn server(name: &str, size: &str) -> Value {
    json!({
        "apiVersion": "infra.suido.dev/v1alpha1",
        "kind": "VirtualServer",
        "metadata": {"name": name, "labels": {"app": "diff"}},
        "spec": {"size": size, "os": "RockyLinux", "console": true}
    })
}

const VS: &str = "/apis/infra.suido.dev/v1alpha1/namespaces/diff/virtualservers";
const VS_WATCH: &str = "/apis/infra.suido.dev/v1alpha1/namespaces/diff-watch/virtualservers";

/// The whole flow, against one server.
async fn flow(p: &mut Probe) {
    let crds = crds();
    let kinds = kinds(&crds);

    // Installing the CRDs, then discovery once every one is Established and served.
    for crd in &crds {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let r = p
            .raw(
                "POST",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                Some("application/json"),
                crd.to_string().into_bytes(),
            )
            .await;
        p.note(&format!("crd/create/{name}"), json!(r.0));
    }
    let start = Instant::now();
    for (plural, _) in kinds.values() {
        loop {
            let (code, _, _) = p
                .raw("GET", &format!("{GROUP}/{plural}"), None, Vec::new())
                .await;
            if code == 200 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{plural} not served"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let r = p.raw("GET", GROUP, None, Vec::new()).await;
    let discovery: Value = serde_json::from_slice(&r.2).unwrap();
    let mut resources: Vec<Value> = discovery["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut verbs: Vec<&str> = r["verbs"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            verbs.sort();
            json!([
                r["name"],
                r["kind"],
                r["namespaced"],
                verbs,
                r["shortNames"],
                r["categories"]
            ])
        })
        .collect();
    resources.sort_by_key(|r| r.to_string());
    p.note("discovery/resources", json!(resources));

    for ns in ["diff", "diff-watch", "diff-invalid"] {
        let r = p
            .raw(
                "POST",
                "/api/v1/namespaces",
                Some("application/json"),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                    .to_string()
                    .into_bytes(),
            )
            .await;
        p.note(&format!("namespace/create/{ns}"), json!(r.0));
    }

    // Every invalid example, applied as `kubectl apply --server-side --force-conflicts` would.
    for (file, docs) in invalid_examples() {
        for (i, doc) in docs.iter().enumerate() {
            let mut doc = doc.clone();
            if kinds[doc["kind"].as_str().unwrap()].1 && doc["metadata"]["namespace"].is_null() {
                doc["metadata"]["namespace"] = json!("diff-invalid");
            }
            let path = format!(
                "{}?fieldManager=kubectl&force=true",
                object_path(&kinds, &doc)
            );
            p.step(
                &format!("invalid/{file}/{i}"),
                "PATCH",
                &path,
                Some(APPLY),
                Some(&doc),
            )
            .await;
        }
        for doc in &docs {
            let mut doc = doc.clone();
            if kinds[doc["kind"].as_str().unwrap()].1 && doc["metadata"]["namespace"].is_null() {
                doc["metadata"]["namespace"] = json!("diff-invalid");
            }
            p.raw("DELETE", &object_path(&kinds, &doc), None, Vec::new())
                .await;
        }
    }

    apply_and_patch(p).await;
    updates_and_creates(p).await;
    lists(p).await;
    status(p).await;
    finalizers(p).await;
    watches(p).await;
}

async fn apply_and_patch(p: &mut Probe) {
    let obj = format!("{VS}/applied");
    let alice = format!("{obj}?fieldManager=alice");
    let desired = server("applied", "1CPU-2GB");
    let created = p
        .step("apply/create", "PATCH", &alice, Some(APPLY), Some(&desired))
        .await;
    let again = p
        .step(
            "apply/same-again",
            "PATCH",
            &alice,
            Some(APPLY),
            Some(&desired),
        )
        .await;
    p.note(
        "apply/same-again/resourceVersion-unchanged",
        json!(
            created.json["metadata"]["resourceVersion"]
                == again.json["metadata"]["resourceVersion"]
        ),
    );
    let bob = format!("{obj}?fieldManager=bob");
    let bigger = json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
        "metadata": {"name": "applied"}, "spec": {"size": "2CPU-4GB"}
    });
    p.step("apply/conflict", "PATCH", &bob, Some(APPLY), Some(&bigger))
        .await;
    p.step(
        "apply/force",
        "PATCH",
        &format!("{bob}&force=true"),
        Some(APPLY),
        Some(&bigger),
    )
    .await;
    // Alice no longer sets `console` (she still owns it alone), nor `size` (now Bob's).
    let fewer = json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
        "metadata": {"name": "applied", "labels": {"app": "diff"}},
        "spec": {"os": "RockyLinux"}
    });
    p.step(
        "apply/drop-owned-field",
        "PATCH",
        &alice,
        Some(APPLY),
        Some(&fewer),
    )
    .await;
    p.step(
        "apply/without-field-manager",
        "PATCH",
        &obj,
        Some(APPLY),
        Some(&fewer),
    )
    .await;
    p.step(
        "apply/kind-mismatch",
        "PATCH",
        &alice,
        Some(APPLY),
        Some(
            &json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "BlockVolume",
                     "metadata": {"name": "applied"}, "spec": {}}),
        ),
    )
    .await;
    p.step_bytes(
        "apply/malformed-yaml",
        "PATCH",
        &alice,
        Some(APPLY),
        b"spec: [unclosed".to_vec(),
    )
    .await;

    p.step(
        "patch/merge-labels",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"metadata": {"labels": {"tier": "web"}}})),
    )
    .await;
    p.step(
        "patch/json-add-label",
        "PATCH",
        &obj,
        Some(JSON_PATCH),
        Some(&json!([{"op": "add", "path": "/metadata/labels/extra", "value": "yes"}])),
    )
    .await;
    p.step(
        "patch/json-test-fails",
        "PATCH",
        &obj,
        Some(JSON_PATCH),
        Some(&json!([{"op": "test", "path": "/spec/size", "value": "8CPU-32GB"}])),
    )
    .await;
    p.step(
        "patch/json-path-missing",
        "PATCH",
        &obj,
        Some(JSON_PATCH),
        Some(&json!([{"op": "replace", "path": "/spec/nothing/here", "value": 1}])),
    )
    .await;
    p.step(
        "patch/strategic-on-custom-resource",
        "PATCH",
        &obj,
        Some(STRATEGIC),
        Some(&json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await;
    p.step_bytes(
        "patch/merge-malformed-json",
        "PATCH",
        &obj,
        Some(MERGE),
        b"{\"metadata\": ".to_vec(),
    )
    .await;
    p.step(
        "patch/merge-invalid-value",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"spec": {"size": "3CPU-3GB"}})),
    )
    .await;
    p.step(
        "patch/merge-immutable-field",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"spec": {"os": "WindowsServer2022"}})),
    )
    .await;
    p.step(
        "patch/missing-object",
        "PATCH",
        &format!("{VS}/nobody"),
        Some(MERGE),
        Some(&json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await;
    p.step(
        "patch/unsupported-content-type",
        "PATCH",
        &obj,
        Some("text/plain"),
        Some(&json!({})),
    )
    .await;
}

async fn updates_and_creates(p: &mut Probe) {
    let obj = format!("{VS}/applied");
    let current = p.step("get/existing", "GET", &obj, None, None).await.json;
    let rv = current["metadata"]["resourceVersion"].clone();

    let mut changed = current.clone();
    changed["metadata"]["labels"]["put"] = json!("first");
    p.step(
        "put/current-rv",
        "PUT",
        &obj,
        Some("application/json"),
        Some(&changed),
    )
    .await;
    changed["metadata"]["resourceVersion"] = rv;
    changed["metadata"]["labels"]["put"] = json!("stale");
    p.step(
        "put/stale-rv",
        "PUT",
        &obj,
        Some("application/json"),
        Some(&changed),
    )
    .await;
    let mut no_rv = changed.clone();
    no_rv["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    p.step(
        "put/no-rv",
        "PUT",
        &obj,
        Some("application/json"),
        Some(&no_rv),
    )
    .await;
    let mut renamed = no_rv.clone();
    renamed["metadata"]["name"] = json!("someone-else");
    p.step(
        "put/name-mismatch",
        "PUT",
        &obj,
        Some("application/json"),
        Some(&renamed),
    )
    .await;
    p.step(
        "put/missing-object",
        "PUT",
        &format!("{VS}/nobody"),
        Some("application/json"),
        Some(&server("nobody", "1CPU-2GB")),
    )
    .await;

    let json_ct = Some("application/json");
    p.step(
        "post/duplicate",
        "POST",
        VS,
        json_ct,
        Some(&server("applied", "1CPU-2GB")),
    )
    .await;
    let mut unknown = server("unknown-field", "1CPU-2GB");
    unknown["spec"]["colour"] = json!("blue");
    p.step(
        "post/unknown-field-strict",
        "POST",
        &format!("{VS}?fieldValidation=Strict"),
        json_ct,
        Some(&unknown),
    )
    .await;
    p.step(
        "post/unknown-field-warn",
        "POST",
        VS,
        json_ct,
        Some(&unknown),
    )
    .await;
    let mut generated = server("", "1CPU-2GB");
    generated["metadata"] = json!({"generateName": "gen-", "labels": {"app": "generated"}});
    let made = p
        .step("post/generate-name", "POST", VS, json_ct, Some(&generated))
        .await;
    p.note(
        "post/generate-name/prefix",
        json!(
            made.json["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("gen-")
        ),
    );
    p.step(
        "post/namespace-mismatch",
        "POST",
        VS,
        json_ct,
        Some(
            &json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
                     "metadata": {"name": "elsewhere", "namespace": "diff-watch"},
                     "spec": {"size": "1CPU-2GB", "os": "RockyLinux"}}),
        ),
    )
    .await;
    p.step(
        "post/missing-namespace",
        "POST",
        "/apis/infra.suido.dev/v1alpha1/namespaces/no-such-namespace/virtualservers",
        json_ct,
        Some(&server("orphan", "1CPU-2GB")),
    )
    .await;
    p.step(
        "post/no-name",
        "POST",
        VS,
        json_ct,
        Some(
            &json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
                     "metadata": {}, "spec": {"size": "1CPU-2GB", "os": "RockyLinux"}}),
        ),
    )
    .await;
    p.step(
        "post/invalid-name",
        "POST",
        VS,
        json_ct,
        Some(&server("Not_A_DNS_Name", "1CPU-2GB")),
    )
    .await;
    p.step(
        "post/wrong-api-version",
        "POST",
        VS,
        json_ct,
        Some(
            &json!({"apiVersion": "infra.suido.dev/v9", "kind": "VirtualServer",
                     "metadata": {"name": "v9"}, "spec": {}}),
        ),
    )
    .await;
    p.step_bytes("post/array-body", "POST", VS, json_ct, b"[]".to_vec())
        .await;
    p.step(
        "post/duplicate-list-key",
        "POST",
        VS,
        json_ct,
        Some(&json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
                     "metadata": {"name": "twice"},
                     "spec": {"size": "1CPU-2GB", "os": "RockyLinux",
                              "disks": [{"path": "/data", "sizeGb": 100}, {"path": "/data", "sizeGb": 200}]}})),
    )
    .await;
    p.step_bytes(
        "post/unsupported-content-type",
        "POST",
        VS,
        Some("text/plain"),
        b"hello".to_vec(),
    )
    .await;
    p.step(
        "patch/unsupported-content-type-built-in",
        "PATCH",
        "/api/v1/namespaces/diff",
        Some("text/plain"),
        Some(&json!({})),
    )
    .await;
    p.step(
        "post/missing-required",
        "POST",
        VS,
        json_ct,
        Some(
            &json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
                     "metadata": {"name": "bare"}, "spec": {}}),
        ),
    )
    .await;
    p.step("get/missing", "GET", &format!("{VS}/nobody"), None, None)
        .await;
    p.step(
        "get/cluster-scoped-kind-in-a-namespace",
        "GET",
        "/apis/infra.suido.dev/v1alpha1/namespaces/diff/tenants",
        None,
        None,
    )
    .await;
    p.step(
        "get/unknown-resource",
        "GET",
        "/apis/infra.suido.dev/v1alpha1/namespaces/diff/teapots",
        None,
        None,
    )
    .await;
}

async fn lists(p: &mut Probe) {
    for i in 0..5 {
        p.raw(
            "POST",
            VS,
            Some("application/json"),
            server(&format!("page-{i}"), "1CPU-2GB")
                .to_string()
                .into_bytes(),
        )
        .await;
    }
    p.step(
        "list/label-selector",
        "GET",
        &format!("{VS}?labelSelector=app%3Ddiff"),
        None,
        None,
    )
    .await;
    p.step(
        "list/set-selector",
        "GET",
        &format!("{VS}?labelSelector=app%20in%20(generated)"),
        None,
        None,
    )
    .await;
    p.step(
        "list/invalid-selector",
        "GET",
        &format!("{VS}?labelSelector=app%3D%3D%3D"),
        None,
        None,
    )
    .await;
    p.step(
        "list/field-selector-name",
        "GET",
        &format!("{VS}?fieldSelector=metadata.name%3Dpage-3"),
        None,
        None,
    )
    .await;
    p.step(
        "list/field-selector-unsupported",
        "GET",
        &format!("{VS}?fieldSelector=spec.size%3D1CPU-2GB"),
        None,
        None,
    )
    .await;
    let mut next = format!("{VS}?limit=2");
    let mut page = 0;
    loop {
        let r = p
            .step(&format!("list/page-{page}"), "GET", &next, None, None)
            .await;
        let token = r.json["metadata"]["continue"].as_str().unwrap_or_default();
        if token.is_empty() || page > 10 {
            break;
        }
        next = format!("{VS}?limit=2&continue={token}");
        page += 1;
    }
    p.step(
        "list/bad-continue",
        "GET",
        &format!("{VS}?limit=2&continue=bm90LWEtdG9rZW4"),
        None,
        None,
    )
    .await;
    p.step(
        "list/all-namespaces",
        "GET",
        &format!("{GROUP}/virtualservers?labelSelector=app%3Dgenerated"),
        None,
        None,
    )
    .await;
}

async fn status(p: &mut Probe) {
    let obj = format!("{VS}/page-0");
    p.step(
        "status/patch-ignores-spec",
        "PATCH",
        &format!("{obj}/status"),
        Some(MERGE),
        Some(&json!({"spec": {"size": "8CPU-32GB"},
                     "status": {"phase": "Available", "observedGeneration": 1}})),
    )
    .await;
    p.step(
        "status/main-resource-ignores-status",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"status": {"phase": "Stopped"}})),
    )
    .await;
    p.step(
        "status/spec-change-bumps-generation",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"spec": {"size": "2CPU-4GB"}})),
    )
    .await;
    p.step(
        "status/metadata-change-keeps-generation",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"metadata": {"annotations": {"note": "hello"}}})),
    )
    .await;
    p.step(
        "status/invalid-enum",
        "PATCH",
        &format!("{obj}/status"),
        Some(MERGE),
        Some(&json!({"status": {"phase": "Exploded"}})),
    )
    .await;
    p.step(
        "status/apply",
        "PATCH",
        &format!("{obj}/status?fieldManager=suido-operator&force=true"),
        Some(APPLY),
        Some(
            &json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
                     "metadata": {"name": "page-0"},
                     "status": {"phase": "Updating", "observedGeneration": 2,
                                "conditions": [{"type": "Ready", "status": "False", "reason": "Updating",
                                                "message": "resizing", "lastTransitionTime": "2026-12-01T00:00:00Z"}]}}),
        ),
    )
    .await;
    p.step(
        "status/update-condition",
        "PATCH",
        &format!("{obj}/status"),
        Some(MERGE),
        Some(&json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "Available", "message": "",
             "lastTransitionTime": "2026-12-01T00:01:00Z"},
            {"type": "Synced", "status": "True", "reason": "Synced", "message": "",
             "lastTransitionTime": "2026-12-01T00:01:00Z"}]}})),
    )
    .await;
    let current = p
        .step("status/get", "GET", &format!("{obj}/status"), None, None)
        .await
        .json;
    let mut put = current.clone();
    put["status"]["phase"] = json!("Available");
    put["spec"]["size"] = json!("1CPU-2GB");
    p.step(
        "status/put",
        "PUT",
        &format!("{obj}/status"),
        Some("application/json"),
        Some(&put),
    )
    .await;
    p.step(
        "status/missing-object",
        "PATCH",
        &format!("{VS}/nobody/status"),
        Some(MERGE),
        Some(&json!({"status": {"phase": "Available"}})),
    )
    .await;
}

async fn finalizers(p: &mut Probe) {
    let obj = format!("{VS}/page-1");
    p.step(
        "finalizer/add",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"metadata": {"finalizers": ["infra.suido.dev/test"]}})),
    )
    .await;
    p.step("finalizer/delete", "DELETE", &obj, None, None).await;
    p.step("finalizer/get-while-deleting", "GET", &obj, None, None)
        .await;
    p.step(
        "finalizer/add-another-while-deleting",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(
            &json!({"metadata": {"finalizers": ["infra.suido.dev/test", "infra.suido.dev/more"]}}),
        ),
    )
    .await;
    p.step(
        "finalizer/spec-change-while-deleting",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"spec": {"size": "2CPU-4GB"}})),
    )
    .await;
    p.step("finalizer/delete-again", "DELETE", &obj, None, None)
        .await;
    p.step(
        "finalizer/remove",
        "PATCH",
        &obj,
        Some(MERGE),
        Some(&json!({"metadata": {"finalizers": null}})),
    )
    .await;
    p.step("finalizer/gone", "GET", &obj, None, None).await;

    let other = format!("{VS}/page-2");
    p.step(
        "delete/wrong-uid-precondition",
        "DELETE",
        &other,
        Some("application/json"),
        Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1",
                     "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
    )
    .await;
    p.step(
        "delete/wrong-rv-precondition",
        "DELETE",
        &other,
        Some("application/json"),
        Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1",
                     "preconditions": {"resourceVersion": "1"}})),
    )
    .await;
    p.step(
        "delete/dry-run",
        "DELETE",
        &format!("{other}?dryRun=All"),
        None,
        None,
    )
    .await;
    p.step("delete/dry-run-left-it", "GET", &other, None, None)
        .await;
    p.step("delete/plain", "DELETE", &other, None, None).await;
    p.step("delete/missing", "DELETE", &other, None, None).await;
    p.step(
        "delete/collection",
        "DELETE",
        &format!("{VS}?labelSelector=app%3Dgenerated"),
        None,
        None,
    )
    .await;
}

async fn watches(p: &mut Probe) {
    let list = p.raw("GET", VS_WATCH, None, Vec::new()).await;
    let rv0 = serde_json::from_slice::<Value>(&list.2).unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let w1 = format!("{VS_WATCH}/w1");
    let ct = Some("application/json");
    let mut one = server("w1", "1CPU-2GB");
    p.step("watch/setup-create", "POST", VS_WATCH, ct, Some(&one))
        .await;
    p.step(
        "watch/setup-patch",
        "PATCH",
        &w1,
        Some(MERGE),
        Some(&json!({"metadata": {"labels": {"seen": "yes"}}})),
    )
    .await;
    p.step("watch/setup-delete", "DELETE", &w1, None, None)
        .await;
    p.watch(
        "watch/from-list-rv",
        &format!("{VS_WATCH}?resourceVersion={rv0}"),
        2,
    )
    .await;

    for name in ["w3", "w2"] {
        one["metadata"]["name"] = json!(name);
        p.raw("POST", VS_WATCH, ct, one.to_string().into_bytes())
            .await;
    }
    p.watch(
        "watch/initial-events",
        &format!("{VS_WATCH}?sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"),
        2,
    )
    .await;
    p.watch("watch/rv-0", &format!("{VS_WATCH}?resourceVersion=0"), 2)
        .await;
    p.watch("watch/no-rv", VS_WATCH, 2).await;
    p.watch(
        "watch/label-selector",
        &format!("{VS_WATCH}?resourceVersion=0&labelSelector=app%3Dnone"),
        2,
    )
    .await;
    p.watch(
        "watch/send-initial-events-without-match",
        &format!("{VS_WATCH}?sendInitialEvents=true"),
        2,
    )
    .await;
    p.watch(
        "watch/not-a-resource-version",
        &format!("{VS_WATCH}?resourceVersion=abc"),
        2,
    )
    .await;
    let current = p.raw("GET", VS_WATCH, None, Vec::new()).await;
    let now: u64 =
        serde_json::from_slice::<Value>(&current.2).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    p.watch(
        "watch/from-the-future",
        &format!("{VS_WATCH}?resourceVersion={}", now + 1_000_000),
        4,
    )
    .await;
    p.step(
        "list/from-the-future",
        "GET",
        &format!(
            "{VS_WATCH}?resourceVersion={}&resourceVersionMatch=NotOlderThan",
            now + 1_000_000
        ),
        None,
        None,
    )
    .await;
    p.step(
        "list/exact-without-limit",
        "GET",
        &format!("{VS_WATCH}?resourceVersion={now}&resourceVersionMatch=Exact"),
        None,
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_servers_answer_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("realapi");
    let real = tokio::task::spawn_blocking(move || {
        RealApiServer::up(&suido_realapi::default_script(), &real_dir)
    });
    let local = common::TestServer::start();
    let real = real.await.unwrap().expect("the real API server starts");

    let mut local_probe = Probe::new("local", &local.kubeconfig).await;
    let mut real_probe = Probe::new("real", real.kubeconfig()).await;
    tokio::join!(flow(&mut local_probe), flow(&mut real_probe));

    let known: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let real_log: BTreeMap<&str, &Answer> = real_probe
        .log
        .iter()
        .map(|(s, a)| (s.as_str(), a))
        .collect();
    let local_log: BTreeMap<&str, &Answer> = local_probe
        .log
        .iter()
        .map(|(s, a)| (s.as_str(), a))
        .collect();
    let steps: BTreeSet<&str> = real_log.keys().chain(local_log.keys()).copied().collect();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for step in &steps {
        let (l, r) = (local_log.get(step), real_log.get(step));
        if l != r {
            eprintln!(
                "DIFFERS {step}\n  local: {}\n  real:  {}",
                serde_json::to_string(&l).unwrap(),
                serde_json::to_string(&r).unwrap()
            );
            if !known.contains_key(step) {
                unexpected.push(*step);
            }
        } else if known.contains_key(step) {
            stale.push(*step);
        }
    }
    eprintln!(
        "{} steps compared, {} differ as documented",
        steps.len(),
        known.len() - stale.len()
    );
    assert!(
        unexpected.is_empty(),
        "steps that differ and are not documented: {unexpected:?}"
    );
    assert!(
        stale.is_empty(),
        "documented differences that no longer differ (remove them here and in docs/control-plane.md): {stale:?}"
    );
    drop(real);
}
