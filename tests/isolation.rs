//! Tenant isolation and lost resources, end to end with the real kubectl, as a hostile tenant
//! would try it: adopting another tenant's server, claiming one server twice, changing
//! `spec.externalId` after the build, deleting a Tenant that still has objects; ObserveOnly and
//! Orphan deletion and the adoption of the tenant's own server; and a server deleted on the
//! platform behind Suido's back, replaced within 90 s with one Warning Event.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::time::Duration;

use suido_e2e::{Kubectl, eventually, repo, start_stack};
use suido_provider::ComputeProvider;
use suido_sim::{SimAdmin, SimProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BILLING: &str = "kawasemi-billing";
const OPS: &str = "kawasemi-ops";

fn example(name: &str) -> String {
    repo()
        .join("examples")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

async fn apply_yaml(k: &Kubectl, dir: &std::path::Path, name: &str, yaml: &str) {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    k.ok(&["apply", "-f", path.to_str().unwrap()]).await;
}

fn server_yaml(name: &str, ns: &str, extra: &str) -> String {
    format!(
        "apiVersion: infra.suido.dev/v1alpha1\nkind: VirtualServer\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  size: 1CPU-2GB\n{extra}"
    )
}

/// The `Ready` condition of a VirtualServer as `status reason message`.
async fn ready(k: &Kubectl, name: &str, ns: &str) -> String {
    k.get(
        "vs",
        name,
        ns,
        r#"{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}"#,
    )
    .await
}

async fn wait_ready_reason(k: &Kubectl, name: &str, ns: &str, want: &str) -> String {
    eventually(
        &format!("{ns}/{name} Ready {want}"),
        Duration::from_secs(60),
        || async {
            let r = ready(k, name, ns).await;
            r.starts_with(want).then_some(r)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_tenant_can_neither_take_nor_fight_over_servers() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    for f in [
        "00-namespaces.yaml",
        "01-tenants.yaml",
        "10-vendor-servers.yaml",
    ] {
        k.ok(&["apply", "-f", &example(f)]).await;
    }
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "vs",
        "--all",
        "-n",
        BILLING,
        "--timeout=120s",
    ])
    .await;
    let sim = SimProvider::new(&stack.sim_url()).unwrap();
    let web1 = k
        .get("vs", "billing-web-1", BILLING, "{.status.externalId}")
        .await;
    let web2 = k
        .get("vs", "billing-web-2", BILLING, "{.status.externalId}")
        .await;
    let db = k
        .get("vs", "billing-db", BILLING, "{.status.externalId}")
        .await;
    let before = sim.get_server(&web1).await.unwrap();

    // The operator tenant names the vendor's server: refused, with nothing leaked or changed.
    apply_yaml(
        &k,
        dir.path(),
        "grab",
        &server_yaml(
            "grab",
            OPS,
            &format!("  powerState: Stopped\n  externalId: {web1}\n"),
        ),
    )
    .await;
    let refusal = wait_ready_reason(&k, "grab", OPS, "False AdoptionRefused").await;
    let address = before.address.clone().unwrap();
    for secret in [address.as_str(), "seiryu", "2CPU-8GB", "billing"] {
        assert!(!refusal.contains(secret), "{refusal} leaks {secret}");
    }
    assert_eq!(k.get("vs", "grab", OPS, "{.status.address}").await, "");
    // The same words as for an id that exists nowhere.
    apply_yaml(
        &k,
        dir.path(),
        "ghost",
        &server_yaml("ghost", OPS, "  externalId: srv-999999\n"),
    )
    .await;
    let ghost = wait_ready_reason(&k, "ghost", OPS, "False AdoptionRefused").await;
    assert_eq!(
        refusal.replace(&web1, "X"),
        ghost.replace("srv-999999", "X")
    );
    k.ok(&["delete", "vs", "grab", "ghost", "-n", OPS, "--timeout=60s"])
        .await;
    let after = sim.get_server(&web1).await.unwrap();
    assert_eq!(
        (after.size, after.state, after.disks.len()),
        (before.size, before.state, before.disks.len())
    );

    // A second object of the vendor claims a server another object manages.
    apply_yaml(
        &k,
        dir.path(),
        "twin",
        &server_yaml("twin", BILLING, &format!("  externalId: {web2}\n")),
    )
    .await;
    wait_ready_reason(&k, "twin", BILLING, "False AlreadyManaged").await;
    k.ok(&["delete", "vs", "twin", "-n", BILLING, "--timeout=60s"])
        .await;
    assert!(
        sim.get_server(&web2).await.is_ok(),
        "the refused twin deleted nothing"
    );

    // spec.externalId cannot be added after the build, nor removed after an adoption.
    let added = k.run(&[
        "patch",
        "vs",
        "billing-web-2",
        "-n",
        BILLING,
        "--type",
        "merge",
        "-p",
        &format!(r#"{{"spec":{{"externalId":"{web1}"}}}}"#),
    ]);
    assert!(!added.status.success());
    assert!(String::from_utf8_lossy(&added.stderr).contains("spec.externalId"));

    // Orphan deletion keeps the server; ObserveOnly reads it and its deletion keeps it too;
    // then the tenant adopts its own server.
    k.ok(&["delete", "vs", "billing-db", "-n", BILLING, "--timeout=60s"])
        .await;
    assert!(
        sim.get_server(&db).await.is_ok(),
        "deletionPolicy Orphan keeps the server"
    );
    apply_yaml(
        &k,
        dir.path(),
        "watch",
        &server_yaml(
            "db-watch",
            BILLING,
            &format!("  managementPolicy: ObserveOnly\n  externalId: {db}\n"),
        ),
    )
    .await;
    wait_ready_reason(&k, "db-watch", BILLING, "True ObserveOnly").await;
    assert_eq!(
        k.get("vs", "db-watch", BILLING, "{.status.size}").await,
        "8CPU-64GB"
    );
    assert_eq!(
        k.get("vs", "db-watch", BILLING, "{.status.phase}").await,
        "Observed"
    );
    k.ok(&["delete", "vs", "db-watch", "-n", BILLING, "--timeout=60s"])
        .await;
    assert!(
        sim.get_server(&db).await.is_ok(),
        "ObserveOnly deletion keeps the server"
    );
    let adopt = format!(
        "  size: 8CPU-64GB\n  os: WindowsServer\n  osDiskGb: 120\n  packages: [SQLServer]\n  rdsLicenses: 30\n  antivirus: DeepSecurity\n  disks: [{{name: data, sizeGb: 500}}, {{name: logs, sizeGb: 100}}]\n  externalId: {db}\n"
    );
    apply_yaml(
        &k,
        dir.path(),
        "adopt",
        &server_yaml("db-adopted", BILLING, &adopt).replace("  size: 1CPU-2GB\n", ""),
    )
    .await;
    wait_ready_reason(&k, "db-adopted", BILLING, "True").await;
    assert_eq!(
        k.get("vs", "db-adopted", BILLING, "{.status.externalId}")
            .await,
        db
    );

    // A Tenant with objects left is kept, and says why.
    apply_yaml(&k, dir.path(), "ops", &server_yaml("ops-small", OPS, "")).await;
    wait_ready_reason(&k, "ops-small", OPS, "True").await;
    k.ok(&["delete", "tenant", "kawasemi-water", "--wait=false"])
        .await;
    eventually("the Tenant's deletion waits", Duration::from_secs(30), || async {
        let out = k.ok(&["get", "tenant", "kawasemi-water", "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Deleting")].reason} {.status.managedObjects.VirtualServer}"#]).await;
        (out == "ObjectsRemain 1").then_some(())
    })
    .await;
    k.ok(&["delete", "vs", "ops-small", "-n", OPS, "--timeout=60s"])
        .await;
    eventually(
        "the Tenant is gone once its objects are",
        Duration::from_secs(30),
        || async {
            let out = k.run(&["get", "tenant", "kawasemi-water"]);
            (!out.status.success()).then_some(())
        },
    )
    .await;
    stack.stop().await;
}

/// `suido_reconciles_total{controller="virtualserver"}` from the operator's metrics.
async fn vs_reconciles(probe: SocketAddr) -> u64 {
    let mut conn = tokio::net::TcpStream::connect(probe).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).await.unwrap();
    body.lines()
        .find(|l| l.starts_with(r#"suido_reconciles_total{controller="virtualserver"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_deleted_behind_suidos_back_is_replaced_once() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    for f in ["00-namespaces.yaml", "01-tenants.yaml"] {
        k.ok(&["apply", "-f", &example(f)]).await;
    }
    apply_yaml(&k, dir.path(), "solo", &server_yaml("solo", OPS, "")).await;
    wait_ready_reason(&k, "solo", OPS, "True").await;
    let old = k.get("vs", "solo", OPS, "{.status.externalId}").await;
    let probe = stack.probe_addr.unwrap();
    let before = vs_reconciles(probe).await;

    SimAdmin::new(&stack.sim_url())
        .unwrap()
        .delete("servers", &old)
        .await
        .unwrap();
    let new = eventually("a replacement server", Duration::from_secs(90), || async {
        let out = k
            .get(
                "vs",
                "solo",
                OPS,
                "{.status.externalId} {.status.attempt} {.status.phase}",
            )
            .await;
        let parts: Vec<&str> = out.split(' ').collect();
        (parts.len() == 3
            && parts[0] != old
            && !parts[0].is_empty()
            && parts[1] == "1"
            && parts[2] == "Available")
            .then(|| parts[0].to_owned())
    })
    .await;
    let sim = SimProvider::new(&stack.sim_url()).unwrap();
    assert!(sim.get_server(&new).await.is_ok());
    let reconciles = vs_reconciles(probe).await - before;
    assert!(
        reconciles <= 10,
        "{reconciles} reconciles to replace one server"
    );
    let events = k.ok(&["get", "events", "-n", OPS, "-o", "json"]).await;
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    let lost: Vec<&serde_json::Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "Lost" && e["type"] == "Warning")
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["count"].as_i64().unwrap_or(1), 1);
    stack.stop().await;
}
