//! The API over plain HTTP against an in-process server: discovery, CRUD,
//! lists, watches, patches, deletion and errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn version_and_discovery() {
    let s = TestServer::start();
    let c = s.client();
    let v = c.get("/version?timeout=5s").json();
    assert_eq!(v["minor"], "32");
    install_widgets(&c);

    let agg = c.get_accept(
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    );
    assert_eq!(
        agg.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let agg = agg.json();
    let g = agg["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "test.suido.dev")
        .expect("group listed");
    let r = &g["versions"][0]["resources"][0];
    assert_eq!(r["resource"], "widgets");
    assert_eq!(r["shortNames"], json!(["wd"]));
    assert_eq!(r["subresources"][0]["subresource"], "status");

    let core = c
        .get_accept(
            "/api",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )
        .json();
    assert_eq!(core["items"][0]["metadata"]["name"], "");

    assert_eq!(c.get("/api").json()["kind"], "APIVersions");
    assert_eq!(c.get("/apis").json()["kind"], "APIGroupList");
    let rl = c.get("/apis/test.suido.dev/v1alpha1").json();
    assert_eq!(rl["kind"], "APIResourceList");
    assert!(
        rl["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "widgets/status")
    );

    let root = c.get("/openapi/v3").json();
    let url = root["paths"]["apis/test.suido.dev/v1alpha1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.contains("?hash="));
    let doc = c.get(&url).json();
    let schema = &doc["components"]["schemas"]["dev.suido.test.v1alpha1.Widget"];
    assert_eq!(
        schema["x-kubernetes-group-version-kind"][0]["kind"],
        "Widget"
    );
    let patch = &doc["paths"]["/apis/test.suido.dev/v1alpha1/namespaces/{namespace}/widgets/{name}"]
        ["patch"];
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );
    assert_eq!(c.get("/openapi/v2").status, 404);
}

#[test]
fn crud_generation_noop_status_split_and_conflicts() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    let mut w = widget("alpha", "a.example.com");
    w["status"] = json!({"observedGeneration": 9});
    let r = c.post(WIDGETS, &w);
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["spec"]["port"], 8080, "defaulted");
    assert!(created.get("status").is_none(), "create drops status");
    let rv1 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.post(WIDGETS, &w).status, 409);
    let mut with_rv = widget("rv", "h");
    with_rv["metadata"]["resourceVersion"] = json!("5");
    assert_eq!(c.post(WIDGETS, &with_rv).status, 400);

    // A no-op merge patch changes nothing.
    let same = c.patch(
        &format!("{WIDGETS}/alpha"),
        "application/merge-patch+json",
        &json!({"spec": {"host": "a.example.com"}}),
    );
    assert_eq!(same.status, 200);
    assert_eq!(same.json()["metadata"]["resourceVersion"], rv1.as_str());

    // A status write changes only status, and not the generation.
    let st = c.patch(
        &format!("{WIDGETS}/alpha/status"),
        "application/merge-patch+json",
        &json!({"spec": {"host": "ignored"}, "status": {"observedGeneration": 1}}),
    );
    assert_eq!(st.status, 200);
    let st = st.json();
    assert_eq!(st["status"]["observedGeneration"], 1);
    assert_eq!(st["spec"]["host"], "a.example.com");
    assert_eq!(st["metadata"]["generation"], 1);

    // A main-resource write ignores status and bumps the generation.
    let mut up = st.clone();
    up["spec"]["host"] = json!("b.example.com");
    up["status"] = json!({"observedGeneration": 42});
    let up = c.put(&format!("{WIDGETS}/alpha"), &up);
    assert_eq!(up.status, 200);
    let up = up.json();
    assert_eq!(up["metadata"]["generation"], 2);
    assert_eq!(up["status"]["observedGeneration"], 1);

    // Stale resourceVersion: 409 Conflict.
    let mut stale = up.clone();
    stale["metadata"]["resourceVersion"] = json!(rv1);
    stale["spec"]["host"] = json!("c.example.com");
    let r = c.put(&format!("{WIDGETS}/alpha"), &stale);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");

    // Schema validation: 422 with causes.
    let r = c.post(
        WIDGETS,
        &json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget",
        "metadata": {"name": "bad"}, "spec": {"port": 70000, "backend": "db"}}),
    );
    assert_eq!(r.status, 422);
    let st = r.json();
    assert_eq!(st["reason"], "Invalid");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .starts_with("Widget.test.suido.dev \"bad\" is invalid")
    );
    let fields: Vec<&str> = st["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"spec.port") && fields.contains(&"spec.host"),
        "{fields:?}"
    );

    // Strict field validation names the unknown field.
    let mut extra = widget("extra", "e");
    extra["spec"]["colour"] = json!("red");
    let r = c.post(&format!("{WIDGETS}?fieldValidation=Strict"), &extra);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec.colour\"")
    );
    // Unknown fields are reported before validation errors, as upstream.
    let mut both = extra.clone();
    both["spec"]["port"] = json!(0);
    both["metadata"]["colour"] = json!("blue");
    let r = c.post(&format!("{WIDGETS}?fieldValidation=Strict"), &both);
    assert_eq!(r.status, 400);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("unknown field \"metadata.colour\"") && msg.contains("spec.colour"),
        "{msg}"
    );
    let mut odd = widget("odd", "h");
    odd["spec"]["ça\nva"] = json!(1);
    let r = c.post(WIDGETS, &odd);
    assert_eq!(
        r.status, 201,
        "a warning with non-ASCII text still makes a valid response"
    );
    assert!(r.header("warning").unwrap().contains("spec.?a?va"));
    let r = c.post(WIDGETS, &extra);
    assert_eq!(r.status, 201);
    assert!(r.header("warning").unwrap().contains("spec.colour"));
    assert!(r.json()["spec"].get("colour").is_none(), "pruned");
}

#[test]
fn namespaces_are_required_and_events_have_two_views() {
    let s = TestServer::start();
    let c = s.client();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}});
    let r = c.post("/api/v1/namespaces/nowhere/configmaps", &cm);
    assert_eq!(r.status, 404);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("namespaces \"nowhere\" not found")
    );
    assert_eq!(
        c.post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": "somewhere"}})
        )
        .status,
        201
    );
    assert_eq!(
        c.post("/api/v1/namespaces/somewhere/configmaps", &cm)
            .status,
        201
    );

    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "w.1", "namespace": "default"},
        "eventTime": "2026-01-01T00:00:00.000001Z",
        "regarding": {"kind": "Widget", "name": "w", "namespace": "default", "uid": "u1"},
        "note": "hello", "reason": "Reconciled", "action": "Reconcile", "type": "Normal",
        "reportingController": "ctl", "reportingInstance": "ctl-1"});
    let r = c.post("/apis/events.k8s.io/v1/namespaces/default/events", &ev);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["note"], "hello");
    let p = c.patch(
        "/apis/events.k8s.io/v1/namespaces/default/events/w.1",
        "application/merge-patch+json",
        &json!({"series": {"count": 2, "lastObservedTime": "2026-01-01T00:00:09.000001Z"}}),
    );
    assert_eq!(p.status, 200);
    let core = c.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=w,involvedObject.uid=u1&limit=500").json();
    assert_eq!(core["items"].as_array().unwrap().len(), 1);
    let e = &core["items"][0];
    assert_eq!(e["message"], "hello");
    assert_eq!(e["count"], 2);
    assert_eq!(e["source"]["component"], "ctl");
    assert_eq!(e["lastTimestamp"], "2026-01-01T00:00:09Z");
    let none = c
        .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=other")
        .json();
    assert!(none["items"].as_array().unwrap().is_empty());

    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    assert_eq!(
        c.post(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            &lease
        )
        .status,
        201
    );
    let r = c.patch(
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
        "application/strategic-merge-patch+json",
        &json!({"spec": {"holderIdentity": "b"}}),
    );
    assert_eq!(r.json()["spec"]["holderIdentity"], "b");
}

#[test]
fn lists_paginate_and_select() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    for i in 0..7 {
        let mut w = widget(&format!("w{i}"), "h");
        w["metadata"]["labels"] = json!({"parity": if i % 2 == 0 { "even" } else { "odd" }});
        assert_eq!(c.post(WIDGETS, &w).status, 201);
    }
    let mut names = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    loop {
        let l = c
            .get(&format!(
                "/apis/test.suido.dev/v1alpha1/widgets?&limit=3&continue={cont}"
            ))
            .json();
        assert!(l["metadata"]["resourceVersion"].as_str().is_some());
        pages += 1;
        for i in l["items"].as_array().unwrap() {
            names.push(i["metadata"]["name"].as_str().unwrap().to_string());
        }
        // The last page carries an empty token, as kube-apiserver's do.
        match l["metadata"]["continue"].as_str().filter(|t| !t.is_empty()) {
            Some(t) => cont = t.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["w0", "w1", "w2", "w3", "w4", "w5", "w6"]);
    // resourceVersion=0 ignores the limit, as upstream.
    let all = c
        .get(&format!("{WIDGETS}?limit=2&resourceVersion=0"))
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 7);
    let even = c
        .get(&format!("{WIDGETS}?labelSelector=parity%3Deven"))
        .json();
    assert_eq!(even["items"].as_array().unwrap().len(), 4);
    let notin = c
        .get(&format!("{WIDGETS}?labelSelector=parity%20notin%20(even)"))
        .json();
    assert_eq!(notin["items"].as_array().unwrap().len(), 3);
    let one = c
        .get(&format!("{WIDGETS}?fieldSelector=metadata.name%3Dw3"))
        .json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        c.get(&format!("{WIDGETS}?resourceVersionMatch=NotOlderThan"))
            .status,
        422
    );
    assert_eq!(
        c.get(&format!("{WIDGETS}?labelSelector=a%20in%20b")).status,
        400
    );

    // Table with printer columns, and metadata-only lists.
    let t = c
        .get_accept(
            WIDGETS,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .json();
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Host", "Port", "Ready", "Backend", "Age"]);
    assert_eq!(t["rows"][0]["cells"][0], "w0");
    assert_eq!(t["rows"][0]["cells"][2], 8080);
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let m = c
        .get_accept(
            WIDGETS,
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )
        .json();
    assert_eq!(m["kind"], "PartialObjectMetadataList");
    assert!(m["items"][0].get("spec").is_none());
}

#[test]
fn watches_resume_bookmark_expire_and_time_out() {
    let s = TestServer::start_with(|c| c.watch_history = 5);
    let c = s.client();
    install_widgets(&c);
    let created = c.post(WIDGETS, &widget("w0", "h")).json();
    let rv0: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // From the current state: synthetic ADDED, then live events.
    let mut w = c.watch(
        &format!("{WIDGETS}?watch=true&allowWatchBookmarks=true"),
        None,
    );
    assert_eq!(w.status, 200);
    let e = w.next().unwrap();
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["metadata"]["name"], "w0");
    c.patch(
        &format!("{WIDGETS}/w0"),
        "application/merge-patch+json",
        &json!({"spec": {"host": "h2"}}),
    );
    let e = w.next_non_bookmark().unwrap();
    assert_eq!(e["type"], "MODIFIED");
    assert_eq!(e["object"]["spec"]["host"], "h2");
    // Idle: a bookmark with kind and apiVersion.
    let b = w.next().unwrap();
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(b["object"]["kind"], "Widget");
    assert_eq!(b["object"]["apiVersion"], "test.suido.dev/v1alpha1");

    // Resume from a resourceVersion: only newer events.
    c.post(WIDGETS, &widget("w1", "h"));
    let mut r = c.watch(&format!("{WIDGETS}?watch=true&resourceVersion={rv0}"), None);
    let e = r.next().unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["metadata"]["name"].as_str()),
        (Some("MODIFIED"), Some("w0"))
    );
    let e = r.next().unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["metadata"]["name"].as_str()),
        (Some("ADDED"), Some("w1"))
    );

    // Too old: HTTP 200 and an in-stream 410 Expired.
    for i in 2..10 {
        c.post(WIDGETS, &widget(&format!("w{i}"), "h"));
    }
    let mut old = c.watch(&format!("{WIDGETS}?watch=true&resourceVersion={rv0}"), None);
    assert_eq!(old.status, 200);
    let e = old.next().unwrap();
    assert_eq!(e["type"], "ERROR");
    assert_eq!(e["object"]["code"], 410);
    assert_eq!(e["object"]["reason"], "Expired");
    assert!(old.next().is_none());

    // sendInitialEvents: ADDED for all, then the initial-events-end bookmark.
    let mut si = c.watch(&format!("{WIDGETS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=&allowWatchBookmarks=true"), None);
    let mut added = 0;
    loop {
        let e = si.next().unwrap();
        if e["type"] == "BOOKMARK" {
            assert_eq!(
                e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
                "true"
            );
            break;
        }
        assert_eq!(e["type"], "ADDED");
        added += 1;
    }
    assert_eq!(added, 10);

    // timeoutSeconds ends the stream cleanly.
    let start = std::time::Instant::now();
    let mut t = c.watch(
        &format!(
            "{WIDGETS}?watch=true&timeoutSeconds=1&resourceVersion={}",
            s_rv(&c)
        ),
        None,
    );
    while t.next().is_some() {}
    assert!(t.ended);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));

    // Table watch: columnDefinitions only in the first event.
    let mut tw = c.watch(
        &format!("{WIDGETS}?watch=true"),
        Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
    );
    let first = tw.next().unwrap();
    assert_eq!(first["object"]["kind"], "Table");
    assert!(first["object"]["columnDefinitions"].is_array());
    let second = tw.next().unwrap();
    assert!(second["object"].get("columnDefinitions").is_none());

    // A forced compaction expires every older resume point.
    let rv_before = s_rv(&c);
    c.post(WIDGETS, &widget("w10", "h"));
    s.compact();
    let mut x = c.watch(
        &format!("{WIDGETS}?watch=true&resourceVersion={rv_before}"),
        None,
    );
    assert_eq!(x.next().unwrap()["object"]["code"], 410);
}

fn s_rv(c: &Client) -> String {
    c.get(WIDGETS).json()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn finalizers_json_patch_quirks_and_deletion() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    c.post(WIDGETS, &widget("f", "h"));
    let path = format!("{WIDGETS}/f");
    // kube-rs finalizer(): test null on a missing path passes.
    let r = c.patch(
        &path,
        "application/json-patch+json",
        &json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["test.suido.dev/cleanup"]}]),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // A failed test is a 422.
    let r = c.patch(
        &path,
        "application/json-patch+json",
        &json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "other"}]),
    );
    assert_eq!(r.status, 422);

    let mut w = c.watch(
        &format!(
            "{WIDGETS}?watch=true&fieldSelector=metadata.name%3Df&resourceVersion={}",
            s_rv(&c)
        ),
        None,
    );
    let r = c.raw(
        "DELETE",
        &path,
        &[("Content-Type", "application/json")],
        br#"{"propagationPolicy":"Background"}"#,
    );
    assert_eq!(r.status, 200);
    let obj = r.json();
    assert_eq!(obj["kind"], "Widget");
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(w.next().unwrap()["type"], "MODIFIED");
    // No new finalizers while deleting.
    let r = c.patch(
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": ["test.suido.dev/cleanup", "x/y"]}}),
    );
    assert_eq!(r.status, 422);
    // Removing the last finalizer completes the delete.
    let r = c.patch(
        &path,
        "application/json-patch+json",
        &json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "test.suido.dev/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"}]),
    );
    assert_eq!(r.status, 200);
    let e = w.next().unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(c.get(&path).status, 404);

    // Immediate delete returns a Success Status; preconditions are honoured.
    let created = c.post(WIDGETS, &widget("g", "h")).json();
    let r = c.raw(
        "DELETE",
        &format!("{WIDGETS}/g"),
        &[],
        br#"{"preconditions":{"uid":"nope"}}"#,
    );
    assert_eq!(r.status, 409);
    let r = c.delete(&format!("{WIDGETS}/g"));
    assert_eq!(r.json()["status"], "Success");
    assert_eq!(r.json()["details"]["uid"], created["metadata"]["uid"]);

    // deletecollection with a selector.
    for n in ["d1", "d2", "keep"] {
        let mut w = widget(n, "h");
        if n != "keep" {
            w["metadata"]["labels"] = json!({"gone": "yes"});
        }
        c.post(WIDGETS, &w);
    }
    assert_eq!(
        c.delete(&format!("{WIDGETS}?labelSelector=gone%3Dyes"))
            .status,
        200
    );
    let left: Vec<Value> = c.get(WIDGETS).json()["items"].as_array().unwrap().clone();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["metadata"]["name"], "keep");
}

#[test]
fn server_side_apply_creates_merges_and_conflicts() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    let path = format!("{WIDGETS}/ssa");
    let body = json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "metadata": {"name": "ssa"}, "spec": {"host": "h", "backend": "web"}});
    assert_eq!(
        c.patch(&path, "application/apply-patch+yaml", &body).status,
        422,
        "fieldManager is required"
    );
    let r = c.patch(
        &format!("{path}?fieldManager=one"),
        "application/apply-patch+yaml",
        &body,
    );
    assert_eq!(r.status, 201);
    let obj = r.json();
    assert_eq!(obj["metadata"]["managedFields"][0]["manager"], "one");
    assert_eq!(obj["metadata"]["managedFields"][0]["operation"], "Apply");
    // Same config again: unchanged.
    let again = c
        .patch(
            &format!("{path}?fieldManager=one"),
            "application/apply-patch+yaml",
            &body,
        )
        .json();
    assert_eq!(
        again["metadata"]["resourceVersion"],
        obj["metadata"]["resourceVersion"]
    );
    // Another manager changing an owned field: 409 without force.
    let other = json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "metadata": {"name": "ssa"}, "spec": {"backend": "api"}});
    let r = c.patch(
        &format!("{path}?fieldManager=two&force=false"),
        "application/apply-patch+yaml",
        &other,
    );
    assert_eq!(r.status, 409);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("conflict with \"one\"")
    );
    let r = c.patch(
        &format!("{path}?fieldManager=two&force=true"),
        "application/apply-patch+yaml",
        &other,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["spec"]["backend"], "api");
    // Manager one stops applying host: it is removed.
    let r = c.patch(&format!("{path}?fieldManager=one"), "application/apply-patch+yaml",
        &json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "metadata": {"name": "ssa"}, "spec": {"host": "h2"}}));
    assert_eq!(r.json()["spec"]["host"], "h2");
    // Status through apply.
    let r = c.patch(&format!("{path}/status?fieldManager=ctl&force=true"), "application/apply-patch+yaml",
        &json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "metadata": {"name": "ssa"}, "status": {"observedGeneration": 3}}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"]["observedGeneration"], 3);
    // managedFields sent by a client are taken as sent (kubectl migrating
    // client-side-apply ownership does this with a JSON patch).
    let r = c.patch(&path, "application/json-patch+json", &json!([
        {"op": "replace", "path": "/metadata/managedFields", "value": [{"manager": "migrated", "operation": "Apply",
            "apiVersion": "test.suido.dev/v1alpha1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:host": {}}}}]}]));
    assert_eq!(r.status, 200);
    let mf = r.json()["metadata"]["managedFields"].clone();
    assert_eq!(mf.as_array().unwrap().len(), 1, "{mf}");
    assert_eq!(mf[0]["manager"], "migrated");
    // Strategic merge patch is refused for custom resources.
    assert_eq!(
        c.patch(&path, "application/strategic-merge-patch+json", &json!({}))
            .status,
        415
    );
}

#[test]
fn crd_lifecycle_and_bad_schemas() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    let crd = c
        .get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.suido.dev")
        .json();
    let conds = crd["status"]["conditions"].as_array().unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    c.post(WIDGETS, &widget("w", "h"));
    let mut bad = common::widget_crd();
    bad["metadata"]["name"] = json!("gadgets.test.suido.dev");
    bad["spec"]["names"] = json!({"plural": "gadgets", "kind": "Gadget"});
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"] =
        json!("banana");
    let r = c.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &bad,
    );
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    let r =
        c.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.suido.dev");
    assert_eq!(r.status, 200);
    assert_eq!(c.get(WIDGETS).status, 404);
}

#[test]
fn malformed_requests_get_status_errors() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 1024);
    let c = s.client();
    install_widgets_small(&c);
    // Unknown paths get kube-apiserver's plain-text 404, not a Status.
    for path in ["/apis/nope/v1/things", "/no/such/path"] {
        let r = c.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, b"404 page not found\n", "{path}");
    }
    let cases: Vec<(Resp, u16, &str)> = vec![
        (
            c.raw(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                &[("Content-Type", "application/json")],
                b"{not json",
            ),
            400,
            "BadRequest",
        ),
        (
            c.raw(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                &[("Content-Type", "application/yaml")],
                b"a: [b",
            ),
            400,
            "BadRequest",
        ),
        (
            c.raw(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                &[("Content-Type", "text/html")],
                b"<p>",
            ),
            415,
            "UnsupportedMediaType",
        ),
        (
            c.raw(
                "PATCH",
                "/api/v1/namespaces/default/configmaps/x",
                &[("Content-Type", "application/json")],
                b"{}",
            ),
            415,
            "UnsupportedMediaType",
        ),
        (
            c.raw(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                &[("Content-Type", "application/json")],
                &vec![b' '; 4096],
            ),
            413,
            "RequestEntityTooLarge",
        ),
        (c.raw("POST", "/version", &[], b""), 405, "MethodNotAllowed"),
        (
            c.raw(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                &[("Content-Type", "application/json")],
                b"[1,2]",
            ),
            400,
            "BadRequest",
        ),
        (
            c.get("/api/v1/namespaces/default/configmaps/missing"),
            404,
            "NotFound",
        ),
    ];
    for (r, code, reason) in cases {
        assert_eq!(r.status, code, "{}", String::from_utf8_lossy(&r.body));
        let st = r.json();
        assert_eq!(st["kind"], "Status");
        assert_eq!(st["code"], code);
        assert_eq!(st["reason"], reason);
    }
}

fn install_widgets_small(c: &Client) {
    // The CRD is larger than the 1 KiB limit of that test; send a minimal one.
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.t.dev"},
        "spec": {"group": "t.dev", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    assert_eq!(
        c.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd
        )
        .status,
        201
    );
}

#[test]
fn restart_keeps_objects_and_versions() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    let w = c.post(WIDGETS, &widget("keep", "h")).json();
    let addr = s.addr;
    let dir = s.stop();
    let s2 = TestServer::start_in(dir, addr, |_| {});
    let again = s2.client().get(&format!("{WIDGETS}/keep")).json();
    assert_eq!(again, w);
    // The watch history was stored too: resuming from before the restart
    // replays the events instead of answering 410.
    let rv: u64 = w["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut watch = s2.client().watch(
        &format!("{WIDGETS}?watch=true&resourceVersion={}", rv - 1),
        None,
    );
    let e = watch.next().unwrap();
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["metadata"]["name"], "keep");
}

#[test]
fn deleting_a_namespace_deletes_its_contents() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    assert_eq!(
        c.post("/api/v1/namespaces", &json!({"metadata": {"name": "team"}}))
            .status,
        201
    );
    let team = "/apis/test.suido.dev/v1alpha1/namespaces/team/widgets";
    c.post(team, &widget("plain", "h"));
    let mut held = widget("held", "h");
    held["metadata"]["finalizers"] = json!(["test.suido.dev/hold"]);
    assert_eq!(c.post(team, &held).status, 201);
    let r = c.delete("/api/v1/namespaces/team");
    assert_eq!(r.status, 200);
    let ns = c.get("/api/v1/namespaces/team").json();
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert_eq!(c.get(&format!("{team}/plain")).status, 404);
    assert!(c.get(&format!("{team}/held")).json()["metadata"]["deletionTimestamp"].is_string());
    let r = c.post(team, &widget("late", "h"));
    assert_eq!(r.status, 403);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("being terminated")
    );
    c.patch(
        &format!("{team}/held"),
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(c.get(&format!("{team}/held")).status, 404);
    assert_eq!(c.get("/api/v1/namespaces/team").status, 404);
}

#[test]
fn selector_watches_see_objects_enter_and_leave() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    let mut w = widget("sel", "h");
    w["metadata"]["labels"] = json!({"team": "a"});
    c.post(WIDGETS, &w);
    let mut watch = c.watch(
        &format!(
            "{WIDGETS}?watch=true&labelSelector=team%3Da&resourceVersion={}",
            s_rv(&c)
        ),
        None,
    );
    let path = format!("{WIDGETS}/sel");
    c.patch(
        &path,
        "application/merge-patch+json",
        &json!({"spec": {"host": "h2"}}),
    );
    assert_eq!(watch.next_non_bookmark().unwrap()["type"], "MODIFIED");
    c.patch(
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"team": "b"}}}),
    );
    let e = watch.next_non_bookmark().unwrap();
    assert_eq!(e["type"], "DELETED");
    c.patch(
        &path,
        "application/merge-patch+json",
        &json!({"spec": {"host": "h3"}}),
    );
    c.patch(
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"team": "a"}}}),
    );
    let e = watch.next_non_bookmark().unwrap();
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["spec"]["host"], "h3");
}

#[test]
fn metadata_is_type_checked_and_labels_validated() {
    let s = TestServer::start();
    let c = s.client();
    let cm = |meta: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta});
    let p = "/api/v1/namespaces/default/configmaps";
    assert_eq!(c.post(p, &cm(json!({"name": 5}))).status, 400);
    assert_eq!(
        c.post(p, &cm(json!({"name": "a", "labels": {"x": 1}})))
            .status,
        400
    );
    assert_eq!(
        c.post(p, &cm(json!({"name": "a", "finalizers": "x"})))
            .status,
        400
    );
    let r = c.post(p, &cm(json!({"name": "a", "labels": {"x": "bad value!"}})));
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["details"]["causes"][0]["field"], "metadata.labels");
    assert_eq!(
        c.post(p, &cm(json!({"name": "a", "labels": {"bad key!": "v"}})))
            .status,
        422
    );
    assert_eq!(
        c.post(
            p,
            &cm(json!({"name": "a", "labels": {"app.kubernetes.io/name": "web_1", "empty": ""}}))
        )
        .status,
        201
    );
}

#[test]
fn secrets_fold_string_data_into_base64_data() {
    let s = TestServer::start();
    let c = s.client();
    let p = "/api/v1/namespaces/default/secrets";
    let r = c.post(
        p,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "YQ=="}, "stringData": {"b": "bee"}}),
    );
    assert_eq!(r.status, 201);
    let sec = r.json();
    assert_eq!(sec["data"], json!({"a": "YQ==", "b": "YmVl"}));
    assert!(sec.get("stringData").is_none());
    assert_eq!(
        c.post(
            p,
            &json!({"metadata": {"name": "bad"}, "data": {"a": "not base64!"}})
        )
        .status,
        400
    );
}

#[test]
fn only_loopback_addresses_are_served() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = rt.block_on(suido_controlplane::ControlPlane::start(
        suido_controlplane::Config::new(dir.path(), "0.0.0.0:0".parse().unwrap()),
    ));
    assert!(matches!(
        r,
        Err(suido_controlplane::StartError::NotLoopback(_))
    ));
}

#[test]
fn owner_references_are_garbage_collected() {
    let s = TestServer::start();
    let c = s.client();
    install_widgets(&c);
    let owner = c.post(WIDGETS, &widget("owner", "h")).json();
    let uid = owner["metadata"]["uid"].as_str().unwrap();
    let child = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
        "ownerReferences": [{"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "name": "owner", "uid": uid, "controller": true}]}})
    };
    let cms = "/api/v1/namespaces/default/configmaps";
    let c1 = c.post(cms, &child("child")).json();
    // A grandchild owned by the child goes too.
    c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grandchild",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "child", "uid": c1["metadata"]["uid"]}]}}));
    c.post(cms, &json!({"metadata": {"name": "unrelated"}}));
    assert_eq!(c.delete(&format!("{WIDGETS}/owner")).status, 200);
    assert_eq!(c.get(&format!("{cms}/child")).status, 404);
    assert_eq!(c.get(&format!("{cms}/grandchild")).status, 404);
    assert_eq!(c.get(&format!("{cms}/unrelated")).status, 200);

    // Orphan: the dependent stays and loses its owner reference.
    let owner = c.post(WIDGETS, &widget("owner2", "h")).json();
    let mut kept = child("kept");
    kept["metadata"]["ownerReferences"][0]["uid"] = owner["metadata"]["uid"].clone();
    c.post(cms, &kept);
    let r = c.raw(
        "DELETE",
        &format!("{WIDGETS}/owner2"),
        &[("Content-Type", "application/json")],
        br#"{"propagationPolicy":"Orphan"}"#,
    );
    assert_eq!(r.status, 200);
    let k = c.get(&format!("{cms}/kept")).json();
    assert_eq!(k["metadata"]["ownerReferences"], json!([]));
}
