//! Property tests: arbitrary methods, paths, query strings, content types
//! and bodies never panic the handlers, and every error is a well-formed
//! `Status` with a matching code. A few raw-socket cases check the HTTP
//! layer the same way.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use suido_controlplane::api::{self, Outcome, Request, State};
use suido_controlplane::server::parse_query;
use suido_controlplane::store::Store;

fn state() -> (tempfile::TempDir, Arc<State>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), 1000).unwrap();
    let st = Arc::new(State::new(
        store,
        "127.0.0.1:0".into(),
        Duration::from_secs(1),
        64 * 1024,
    ));
    st.ensure_default_namespaces().unwrap();
    let crd = common::widget_crd();
    let req = Request {
        method: http::Method::POST,
        path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".into(),
        query: vec![],
        content_type: Some("application/json".into()),
        accept: String::new(),
        body: crd.to_string().into(),
    };
    match api::handle(&st, &req) {
        Outcome::Response(r) => assert_eq!(r.status, 201),
        Outcome::Watch(_) => panic!("unexpected watch"),
    }
    (dir, st)
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("metadata"),
            Just("spec"),
            Just("status"),
            Just("apiVersion"),
            Just("kind"),
            Just("finalizers")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("apiVersion".to_string()),
                    Just("kind".to_string()),
                    Just("metadata".to_string()),
                    Just("name".to_string()),
                    Just("spec".to_string()),
                    Just("status".to_string()),
                    Just("host".to_string()),
                    Just("port".to_string()),
                    Just("finalizers".to_string()),
                    Just("op".to_string()),
                    Just("path".to_string()),
                    Just("value".to_string()),
                    Just("resourceVersion".to_string()),
                    Just("namespace".to_string()),
                    "[a-z/~0-9.]{0,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        arb_json().prop_map(|v| v.to_string().into_bytes()),
        arb_json().prop_map(|v| {
            // Something close to a valid widget.
            let mut w = json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget",
                "metadata": {"name": "fz"}, "spec": {"host": "h"}});
            if let Value::Object(m) = v {
                for (k, x) in m {
                    w["spec"][k] = x;
                }
            }
            w.to_string().into_bytes()
        }),
        arb_json().prop_map(|v| {
            json!([{"op": "test", "path": "/metadata/finalizers", "value": v}])
                .to_string()
                .into_bytes()
        }),
        ".{0,100}".prop_map(|s| s.into_bytes()),
    ]
}

fn arb_path() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        Just("api".to_string()),
        Just("apis".to_string()),
        Just("v1".to_string()),
        Just("namespaces".to_string()),
        Just("default".to_string()),
        Just("widgets".to_string()),
        Just("test.suido.dev".to_string()),
        Just("v1alpha1".to_string()),
        Just("status".to_string()),
        Just("configmaps".to_string()),
        Just("fz".to_string()),
        Just("openapi".to_string()),
        Just("v3".to_string()),
        Just("events.k8s.io".to_string()),
        Just("events".to_string()),
        "[a-zA-Z0-9.%_-]{0,10}",
    ];
    prop::collection::vec(seg, 0..8).prop_map(|segs| format!("/{}", segs.join("/")))
}

fn arb_query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("limit"),
        Just("continue"),
        Just("watch"),
        Just("labelSelector"),
        Just("fieldSelector"),
        Just("resourceVersion"),
        Just("resourceVersionMatch"),
        Just("timeoutSeconds"),
        Just("fieldManager"),
        Just("force"),
        Just("dryRun"),
        Just("fieldValidation"),
        Just("sendInitialEvents"),
        Just("allowWatchBookmarks"),
        Just("includeObject"),
        Just(""),
    ];
    let pair = (key, ".{0,16}").prop_map(|(k, v)| {
        let enc: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
        format!("{k}={enc}")
    });
    prop_oneof![
        prop::collection::vec(pair, 0..6).prop_map(|ps| format!("&{}", ps.join("&"))),
        ".{0,40}",
    ]
}

fn arb_content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("application/yaml".to_string()),
        Just("application/merge-patch+json".to_string()),
        Just("application/json-patch+json".to_string()),
        Just("application/apply-patch+yaml".to_string()),
        Just("application/strategic-merge-patch+json".to_string()),
        Just("application/vnd.kubernetes.protobuf".to_string()),
        "[a-z/+.-]{0,20}",
    ])
}

fn arb_accept() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("application/json;as=Table;v=v1;g=meta.k8s.io,application/json".to_string()),
        Just("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1".to_string()),
        Just("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList".to_string()),
        ".{0,30}",
    ]
}

fn check(st: &State, req: &Request) {
    match api::handle(st, req) {
        Outcome::Watch(_) => {}
        Outcome::Response(r) => {
            assert!((200..600).contains(&r.status));
            if r.status == 404 && r.content_type.starts_with("text/plain") {
                // An unknown path, answered as kube-apiserver does.
                assert_eq!(r.body, b"404 page not found\n");
            } else if r.status >= 400 {
                let v: Value = serde_json::from_slice(&r.body).expect("error bodies are JSON");
                assert_eq!(v["kind"], "Status");
                assert_eq!(v["status"], "Failure");
                assert_eq!(v["code"], r.status);
                // kube-apiserver leaves the reason out of a few errors (a 500 from apply).
                assert!(v["reason"].is_string() || r.status == 500);
                assert!(v["message"].is_string());
            } else if r.content_type.starts_with("application/json") {
                serde_json::from_slice::<Value>(&r.body).expect("success bodies are JSON");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_panic(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE"), Just("HEAD"), Just("OPTIONS")],
        path in arb_path(),
        query in arb_query(),
        content_type in arb_content_type(),
        accept in arb_accept(),
        body in arb_body(),
    ) {
        thread_local! {
            static STATE: (tempfile::TempDir, Arc<State>) = state();
        }
        STATE.with(|(_, st)| {
            let req = Request {
                method: method.parse().unwrap(),
                path,
                query: parse_query(&query),
                content_type,
                accept,
                body: body.into(),
            };
            check(st, &req);
        });
    }

    #[test]
    fn arbitrary_bodies_on_real_resources(
        target in prop_oneof![
            Just(("POST", "/apis/test.suido.dev/v1alpha1/namespaces/default/widgets")),
            Just(("PUT", "/apis/test.suido.dev/v1alpha1/namespaces/default/widgets/fz")),
            Just(("PATCH", "/apis/test.suido.dev/v1alpha1/namespaces/default/widgets/fz")),
            Just(("PATCH", "/apis/test.suido.dev/v1alpha1/namespaces/default/widgets/fz/status")),
            Just(("POST", "/api/v1/namespaces/default/configmaps")),
            Just(("POST", "/apis/events.k8s.io/v1/namespaces/default/events")),
            Just(("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")),
            Just(("DELETE", "/apis/test.suido.dev/v1alpha1/namespaces/default/widgets/fz")),
        ],
        content_type in arb_content_type(),
        query in arb_query(),
        body in arb_body(),
    ) {
        thread_local! {
            static STATE: (tempfile::TempDir, Arc<State>) = state();
        }
        STATE.with(|(_, st)| {
            let (method, path) = target;
            let req = Request {
                method: method.parse().unwrap(),
                path: path.into(),
                query: parse_query(&query),
                content_type,
                accept: String::new(),
                body: body.into(),
            };
            check(st, &req);
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(text in ".{0,60}", bytes in prop::collection::vec(any::<u8>(), 0..120), doc in arb_json(), patch in arb_json()) {
        use suido_controlplane::{patch as p, proto, selectors, table};
        if let Some(path) = table::JsonPath::parse(&text) {
            let _ = path.eval(&doc);
        }
        let _ = selectors::LabelSelector::parse(&text).map(|s| s.matches(&doc));
        let _ = selectors::FieldSelector::parse(&text).map(|s| s.matches(&doc));
        let mut framed = b"k8s\0".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = proto::decode(&framed);
        let _ = proto::decode(&bytes);
        let mut d = doc.clone();
        let _ = p::json_patch(&mut d, &patch);
        let mut d = doc.clone();
        p::merge_patch(&mut d, &patch);
        let _ = suido_controlplane::ssa::decode(&doc);
    }
}

#[test]
fn raw_socket_garbage_does_not_take_the_server_down() {
    use std::io::{Read, Write};
    let s = common::TestServer::start_with(|c| c.max_body_bytes = 4096);
    let inputs: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
        b"GET /version HTTP/1.1\r\nContent-Length: nope\r\n\r\n".to_vec(),
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Length: 100000\r\nContent-Type: application/json\r\n\r\n{".to_vec(),
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\n\r\n", "a/".repeat(3000)).into_bytes(),
        b"GET /api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=abc HTTP/1.1\r\n\r\n".to_vec(),
    ];
    for input in inputs {
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = c.write_all(&input);
        let _ = c.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
    }
    let big = c_post_big(&s);
    assert_eq!(big, 413);
    assert_eq!(s.client().get("/version").status, 200);
}

fn c_post_big(s: &common::TestServer) -> u16 {
    let body = vec![b'x'; 10_000];
    s.client()
        .raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &[("Content-Type", "application/json")],
            &body,
        )
        .status
}
