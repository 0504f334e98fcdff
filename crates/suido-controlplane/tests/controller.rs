//! A kube 5 `Controller` with `finalizer()`, status patches and the event
//! `Recorder` runs against the control plane, survives a restart of it and
//! a forced 410 relist.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;
use kube::{Api, Client, CustomResource, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "test.suido.dev",
    version = "v1alpha1",
    kind = "Widget",
    namespaced
)]
#[kube(status = "WidgetStatus")]
pub struct WidgetSpec {
    host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_generation: Option<i64>,
}

const FINALIZER: &str = "test.suido.dev/cleanup";

struct Ctx {
    client: Client,
    recorder: Recorder,
    reconciles: AtomicUsize,
    cleanups: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failure(String);

async fn reconcile(w: Arc<Widget>, ctx: Arc<Ctx>) -> Result<Action, Failure> {
    let ns = w.namespace().unwrap_or_default();
    let api: Api<Widget> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, w, |event| async {
        match event {
            FinalizerEvent::Apply(w) => {
                ctx.reconciles.fetch_add(1, Ordering::SeqCst);
                let generation = w.metadata.generation;
                let observed = w.status.as_ref().and_then(|s| s.observed_generation);
                if observed != generation {
                    let patch = json!({"status": {"observedGeneration": generation}});
                    api.patch_status(
                        &w.name_any(),
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(&patch),
                    )
                    .await
                    .map_err(|e| Failure(e.to_string()))?;
                    ctx.recorder
                        .publish(
                            &Event {
                                type_: EventType::Normal,
                                reason: "Reconciled".into(),
                                note: Some(format!("generation {generation:?}")),
                                action: "Reconcile".into(),
                                secondary: None,
                            },
                            &w.object_ref(&()),
                        )
                        .await
                        .map_err(|e| Failure(e.to_string()))?;
                }
                Ok(Action::await_change())
            }
            FinalizerEvent::Cleanup(_) => {
                ctx.cleanups.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Failure>(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| Failure(e.to_string()))
}

fn error_policy(_w: Arc<Widget>, _e: &Failure, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn observed(c: &common::Client, name: &str) -> Option<i64> {
    let r = c.get(&format!("{WIDGETS}/{name}"));
    if r.status != 200 {
        return None;
    }
    r.json()["status"]["observedGeneration"].as_i64()
}

fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_with_finalizer_status_and_events_survives_restart_and_410() {
    let server = blocking(TestServer::start);
    let addr = server.addr;
    let c = server.client();
    blocking(move || install_widgets(&c));

    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    let client = Client::try_from(config).unwrap();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "widget-controller".into(),
                instance: Some("widget-controller-0".into()),
            },
        ),
        reconciles: AtomicUsize::new(0),
        cleanups: AtomicUsize::new(0),
    });
    let widgets: Api<Widget> = Api::all(client.clone());
    let controller = Controller::new(widgets, watcher::Config::default())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| async {});
    let task = tokio::spawn(controller);

    // Reconcile: finalizer added, status patched, event recorded.
    blocking(move || c.post(WIDGETS, &widget("c1", "h1")));
    eventually("c1 observed", || {
        blocking(move || observed(&c, "c1")) == Some(1)
    })
    .await;
    let obj = blocking(move || c.get(&format!("{WIDGETS}/c1")).json());
    assert_eq!(obj["metadata"]["finalizers"], json!([FINALIZER]));
    let events = blocking(move || {
        c.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dc1")
            .json()
    });
    let ev = &events["items"][0];
    assert_eq!(ev["reason"], "Reconciled");
    assert_eq!(ev["source"]["component"], "widget-controller");

    // A status write does not loop: the generation is unchanged.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = ctx.reconciles.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        ctx.reconciles.load(Ordering::SeqCst),
        settled,
        "hot reconcile loop"
    );

    // A spec change is observed.
    blocking(move || {
        c.patch(
            &format!("{WIDGETS}/c1"),
            "application/merge-patch+json",
            &json!({"spec": {"host": "h2"}}),
        )
    });
    eventually("c1 generation 2", || {
        blocking(move || observed(&c, "c1")) == Some(2)
    })
    .await;

    // Restart the control plane on the same address.
    let dir = blocking(move || server.stop());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = blocking(move || {
        TestServer::start_in(dir, addr, |c| c.bookmark_interval = Duration::from_secs(1))
    });
    let c = server.client();
    blocking(move || c.post(WIDGETS, &widget("c2", "h")));
    eventually("c2 observed after restart", || {
        blocking(move || observed(&c, "c2")) == Some(1)
    })
    .await;

    // Forced 410: every watch ends with Expired; the controller relists.
    let server = Arc::new(server);
    let s2 = server.clone();
    let lists_before = blocking(move || s2.lists_served());
    let s2 = server.clone();
    blocking(move || s2.expire_watches());
    let s2 = server.clone();
    eventually("a relist after 410", || {
        let s = s2.clone();
        blocking(move || s.lists_served()) > lists_before
    })
    .await;
    blocking(move || c.post(WIDGETS, &widget("c3", "h")));
    eventually("c3 observed after relist", || {
        blocking(move || observed(&c, "c3")) == Some(1)
    })
    .await;

    // Deletion runs the cleanup and removes the finalizer.
    blocking(move || c.delete(&format!("{WIDGETS}/c1")));
    eventually("c1 gone", || {
        blocking(move || c.get(&format!("{WIDGETS}/c1")).status) == 404
    })
    .await;
    assert!(ctx.cleanups.load(Ordering::SeqCst) >= 1);

    task.abort();
    let _ = task.await;
    let check: Value = blocking(move || c.get(WIDGETS).json());
    assert_eq!(check["items"].as_array().unwrap().len(), 2);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_api_calls_and_streaming_lists() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
    use kube::runtime::watcher::Event as WEvent;

    let server = blocking(TestServer::start);
    let addr = server.addr;
    let c = server.client();
    blocking(move || install_widgets(&c));
    let client =
        Client::try_from(kube::Config::new(format!("http://{addr}").parse().unwrap())).unwrap();

    // Typed built-ins: create, replace with a stale version (409), strategic patch.
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"a": "1"}})).unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    cm.metadata.resource_version = created.metadata.resource_version.clone();
    cm.data = Some([("a".to_string(), "2".to_string())].into());
    let replaced = cms
        .replace("cfg", &PostParams::default(), &cm)
        .await
        .unwrap();
    assert_eq!(replaced.data.unwrap()["a"], "2");
    match cms.replace("cfg", &PostParams::default(), &cm).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let leases: Api<Lease> = Api::default_namespaced(client.clone());
    let lease: Lease = serde_json::from_value(
        json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}}),
    )
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let p = leases
        .patch(
            "leader",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"holderIdentity": "b"}})),
        )
        .await
        .unwrap();
    assert_eq!(p.spec.unwrap().holder_identity.unwrap(), "b");
    let p = leases
        .patch("leader", &PatchParams::apply("mgr"), &Patch::Apply(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"holderIdentity": "c"}})))
        .await;
    match p {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409, "owned by the strategic patcher"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    // Custom resources: apply, replace_status, delete_collection.
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    let w = widgets
        .patch("k1", &PatchParams::apply("test").force(), &Patch::Apply(json!({"apiVersion": "test.suido.dev/v1alpha1", "kind": "Widget", "spec": {"host": "k"}})))
        .await
        .unwrap();
    assert_eq!(w.spec.port, Some(8080));
    let mut w2 = w.clone();
    w2.status = Some(WidgetStatus {
        observed_generation: Some(7),
    });
    let w3 = widgets
        .replace_status("k1", &PostParams::default(), &w2)
        .await
        .unwrap();
    assert_eq!(w3.status.unwrap().observed_generation, Some(7));

    // Streaming lists (sendInitialEvents) with kube-rs' watcher.
    let stream = kube::runtime::watcher(
        widgets.clone(),
        watcher::Config::default().streaming_lists(),
    );
    futures::pin_mut!(stream);
    let mut names = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            WEvent::Init => {}
            WEvent::InitApply(w) => names.push(w.name_any()),
            WEvent::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(names, ["k1"]);

    let deleted = widgets
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    // As kube-apiserver: the deleted objects, not a Status.
    let deleted = deleted
        .left()
        .expect("deletecollection answers with the list");
    assert!(!deleted.items.is_empty());
    assert!(
        widgets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    drop(server);
}
