//! The project's Helm chart installs, upgrades and uninstalls with the real Helm 4 against the
//! local control plane (or, with `SUIDO_APISERVER=real`, a real kube-apiserver): CRDs, RBAC
//! (including the tenants' read-only access to SLA reports), the operator's Deployment and
//! Service.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

use suido_e2e::{BareServer, Kubectl, helm, repo};

fn run_helm(helm: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new(helm)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_installs_upgrades_and_uninstalls() {
    let helm = helm();
    let dir = tempfile::tempdir().unwrap();
    let cp = BareServer::start(dir.path()).await;
    let kubeconfig = cp.kubeconfig().to_path_buf();
    let chart = repo().join("charts/suido");
    let chart = chart.to_str().unwrap();
    let k = Kubectl::new(&kubeconfig, &dir.path().join("kubectl-cache"));

    let lint = run_helm(&helm, &kubeconfig, &["lint", chart]);
    assert!(lint.contains("0 chart(s) failed"), "{lint}");
    let helm2 = helm.clone();
    let kc = kubeconfig.clone();
    let chart_owned = chart.to_owned();
    let install = tokio::task::spawn_blocking(move || {
        run_helm(
            &helm2,
            &kc,
            &[
                "install",
                "suido",
                &chart_owned,
                "--namespace",
                "suido-system",
                "--create-namespace",
            ],
        )
    })
    .await
    .unwrap();
    assert!(install.contains("STATUS: deployed"), "{install}");

    let crds = k.ok(&["get", "crd", "-o", "name"]).await;
    assert_eq!(
        crds.lines()
            .filter(|l| l.contains("infra.suido.dev"))
            .count(),
        12,
        "{crds}"
    );
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/virtualservers.infra.suido.dev",
        "--timeout=30s",
    ])
    .await;
    let args = k
        .get(
            "deployment",
            "suido-operator",
            "suido-system",
            "{.spec.template.spec.containers[0].args}",
        )
        .await;
    assert!(args.contains("--metrics=0.0.0.0:9090"), "{args}");
    assert_eq!(
        k.get(
            "serviceaccount",
            "suido-operator",
            "suido-system",
            "{.metadata.name}"
        )
        .await,
        "suido-operator"
    );
    let tenant_rules = k
        .ok(&[
            "get",
            "clusterrole",
            "suido-tenant-edit",
            "-o",
            "jsonpath={.rules[1].resources} {.rules[1].verbs}",
        ])
        .await;
    assert_eq!(
        tenant_rules,
        r#"["servicelevelreports"] ["get","list","watch"]"#
    );

    let helm2 = helm.clone();
    let kc = kubeconfig.clone();
    let chart_owned = chart.to_owned();
    tokio::task::spawn_blocking(move || {
        run_helm(
            &helm2,
            &kc,
            &[
                "upgrade",
                "suido",
                &chart_owned,
                "--namespace",
                "suido-system",
                "--set",
                "metrics.port=9191",
            ],
        )
    })
    .await
    .unwrap();
    let args = k
        .get(
            "deployment",
            "suido-operator",
            "suido-system",
            "{.spec.template.spec.containers[0].args}",
        )
        .await;
    assert!(args.contains("--metrics=0.0.0.0:9191"), "{args}");
    let list = run_helm(&helm, &kubeconfig, &["list", "--namespace", "suido-system"]);
    assert!(
        list.contains("suido") && list.contains("deployed"),
        "{list}"
    );

    let helm2 = helm.clone();
    let kc = kubeconfig.clone();
    tokio::task::spawn_blocking(move || {
        run_helm(
            &helm2,
            &kc,
            &["uninstall", "suido", "--namespace", "suido-system"],
        )
    })
    .await
    .unwrap();
    let left = k
        .ok(&[
            "get",
            "deployment,serviceaccount,secret",
            "-n",
            "suido-system",
            "-o",
            "name",
        ])
        .await;
    // kube-apiserver's ServiceAccount controller gives every namespace (the one Helm created
    // too) a `default` ServiceAccount, which is not the chart's; the local control plane runs
    // no controllers, so it has none.
    let left: Vec<&str> = left
        .lines()
        .filter(|l| *l != "serviceaccount/default")
        .collect();
    assert!(left.is_empty(), "left after uninstall: {left:?}");
    assert!(
        k.ok(&["get", "clusterrole", "-o", "name"])
            .await
            .lines()
            .all(|l| !l.contains("suido"))
    );
    // Helm keeps CRDs on uninstall, so tenants' objects are never deleted by it.
    let crds = k.ok(&["get", "crd", "-o", "name"]).await;
    assert_eq!(
        crds.lines()
            .filter(|l| l.contains("infra.suido.dev"))
            .count(),
        12
    );
    cp.stop().await;
}
