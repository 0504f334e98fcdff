//! The LoadBalancer's pure steps: its backends resolved among the VirtualServers of its
//! namespace, its certificates read from `kubernetes.io/tls` Secrets, what the platform should
//! hold, and what differs from the spec in force (TLS compared by fingerprint, since the platform
//! never returns private keys).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use suido_api::v1alpha1::conditions::reasons;
use suido_api::v1alpha1::{
    BalancingAlgorithm, HealthCheckProtocol, ListenerProtocol, LoadBalancer, LoadBalancerTopology,
    VirtualServer,
};
use suido_provider::{self as p, tls_fingerprint};

use crate::controllers::family::{self, Built, Step};
use crate::managed::Error;
use crate::managed::references::{self, selector_matches};

/// The type of Secret a listener's certificate comes from.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// One backend server resolved from `spec.backends`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The VirtualServer's name.
    pub name: String,
    /// Its platform id.
    pub server_id: String,
    /// The port traffic goes to.
    pub port: u32,
    /// Its weight.
    pub weight: u32,
}

/// What a load balancer's build reads besides its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refs {
    /// The built backend servers, sorted by name and port, each server and port once.
    pub backends: Vec<Member>,
    /// The referenced servers that cannot be used yet, in words, sorted.
    pub waiting: Vec<String>,
    /// The listeners' certificates, by Secret name.
    pub certificates: BTreeMap<String, p::TlsCertificate>,
}

/// Resolves `spec.backends` among the VirtualServers of the load balancer's namespace: a
/// `serverName` that does not exist there is a `ReferenceNotFound` error; a selector picks the
/// servers whose labels it matches (none is no error), leaving out those being deleted. Servers
/// not built yet wait. Returns the members and the waiting servers.
pub fn backends(
    lb: &LoadBalancer,
    servers: &[Arc<VirtualServer>],
) -> Result<(Vec<Member>, Vec<String>), Error> {
    let namespace = lb.namespace().unwrap_or_default();
    let mut members = vec![];
    let mut waiting = vec![];
    for (i, backend) in lb.spec.backends.iter().enumerate() {
        let picked: Vec<&Arc<VirtualServer>> = match (&backend.server_name, &backend.selector) {
            (Some(name), _) => vec![references::find(
                servers,
                &format!("spec.backends[{i}].serverName"),
                &namespace,
                name,
            )?],
            (None, Some(selector)) => servers
                .iter()
                .filter(|vs| vs.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|vs| vs.metadata.deletion_timestamp.is_none())
                .filter(|vs| selector_matches(selector, vs.labels()))
                .collect(),
            (None, None) => {
                return Err(Error::InvalidSpec(format!(
                    "spec.backends[{i}] needs exactly one of serverName or selector"
                )));
            }
        };
        for vs in picked {
            match family::built(vs.as_ref()) {
                Built::Id(server_id) => members.push(Member {
                    name: vs.name_any(),
                    server_id,
                    port: backend.port,
                    weight: backend.weight,
                }),
                Built::Waiting(why) => waiting.push(why),
            }
        }
    }
    // Stable: of a server and port listed twice, the first entry's weight counts.
    members.sort_by(|a, b| (&a.name, a.port).cmp(&(&b.name, b.port)));
    members.dedup_by(|later, first| later.server_id == first.server_id && later.port == first.port);
    Ok((members, family::sorted(waiting)))
}

/// The certificate and key of the `kubernetes.io/tls` Secret `name` that `field` names, read
/// from `secret` (absent: `ReferenceNotFound`). A Secret of another type, or without a PEM
/// `tls.crt` and `tls.key`, is not usable (`ReferenceNotReady`); both are looked at again after
/// the drift interval, as Secrets are not watched.
pub fn certificate(
    field: &str,
    namespace: &str,
    name: &str,
    secret: Option<&Secret>,
) -> Result<p::TlsCertificate, Error> {
    let not_ready = |what: String| Error::Reference {
        reason: reasons::REFERENCE_NOT_READY,
        message: format!("{field} {name}: {what}"),
    };
    let Some(secret) = secret else {
        return Err(Error::Reference {
            reason: reasons::REFERENCE_NOT_FOUND,
            message: format!("{field} {name}: no Secret of that name in namespace {namespace}"),
        });
    };
    let kind = secret.type_.as_deref().unwrap_or("Opaque");
    if kind != TLS_SECRET_TYPE {
        return Err(not_ready(format!(
            "the Secret is of type {kind}; a {TLS_SECRET_TYPE} Secret is needed"
        )));
    }
    let text = |key: &str| -> Result<String, Error> {
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .filter(|b| !b.0.is_empty())
            .ok_or_else(|| not_ready(format!("the Secret has no {key}")))?;
        String::from_utf8(bytes.0.clone())
            .map_err(|_| not_ready(format!("{key} of the Secret is not PEM text")))
    };
    Ok(p::TlsCertificate {
        certificate_pem: text("tls.crt")?,
        private_key_pem: text("tls.key")?,
    })
}

fn topology(t: LoadBalancerTopology) -> p::LbTopology {
    match t {
        LoadBalancerTopology::Single => p::LbTopology::Single,
        LoadBalancerTopology::Redundant => p::LbTopology::Redundant,
    }
}

fn algorithm(a: BalancingAlgorithm) -> p::LbAlgorithm {
    match a {
        BalancingAlgorithm::RoundRobin => p::LbAlgorithm::RoundRobin,
        BalancingAlgorithm::LeastConnections => p::LbAlgorithm::LeastConnections,
    }
}

fn listener_protocol(l: ListenerProtocol) -> p::LbProtocol {
    match l {
        ListenerProtocol::Tcp => p::LbProtocol::Tcp,
        ListenerProtocol::Http => p::LbProtocol::Http,
        ListenerProtocol::Https => p::LbProtocol::Https,
    }
}

fn check_protocol(h: HealthCheckProtocol) -> p::LbProtocol {
    match h {
        HealthCheckProtocol::Tcp => p::LbProtocol::Tcp,
        HealthCheckProtocol::Http => p::LbProtocol::Http,
        HealthCheckProtocol::Https => p::LbProtocol::Https,
    }
}

/// What the platform should hold, from the spec and the resolved references.
pub fn build(lb: &LoadBalancer, refs: &Refs) -> Result<p::LoadBalancerSpec, Error> {
    let spec = &lb.spec;
    let namespace = lb.namespace().unwrap_or_default();
    let listeners = spec
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let tls = match &l.tls {
                Some(t) => Some(
                    refs.certificates
                        .get(&t.secret_name)
                        .cloned()
                        .ok_or_else(|| {
                            Error::Reference {
                                reason: reasons::REFERENCE_NOT_FOUND,
                                message: format!(
                                    "spec.listeners[{i}].tls.secretName {}: no Secret of that name in namespace {namespace}",
                                    t.secret_name
                                ),
                            }
                        })?,
                ),
                None => None,
            };
            Ok(p::ListenerSpec {
                protocol: listener_protocol(l.protocol),
                port: l.port,
                tls,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(p::LoadBalancerSpec {
        name: lb.name_any(),
        topology: topology(spec.topology),
        vrrp: spec.vrrp.as_ref().map(|v| p::VrrpSpec {
            virtual_address: v.virtual_address.clone(),
            group_id: v.group_id,
        }),
        throughput_mbps: spec.throughput_mbps,
        algorithm: algorithm(spec.algorithm),
        listeners,
        backends: refs
            .backends
            .iter()
            .map(|m| p::BackendMember {
                server_id: m.server_id.clone(),
                port: m.port,
                weight: m.weight,
            })
            .collect(),
        health_check: spec.health_check.as_ref().map(|h| p::HealthCheckSpec {
            protocol: check_protocol(h.protocol),
            path: h.path.clone(),
            interval_seconds: h.interval_seconds,
            timeout_seconds: h.timeout_seconds,
            unhealthy_threshold: h.unhealthy_threshold,
        }),
    })
}

/// The fingerprints of the HTTPS listeners' certificates, in listener order, as the platform
/// reports them.
pub fn fingerprints(spec: &p::LoadBalancerSpec) -> Vec<String> {
    spec.listeners
        .iter()
        .filter(|l| l.protocol == p::LbProtocol::Https)
        .filter_map(|l| l.tls.as_ref())
        .map(|t| tls_fingerprint(&t.certificate_pem))
        .collect()
}

/// A listener without its certificate: what is compared directly.
fn shape(l: &p::ListenerSpec) -> (p::LbProtocol, u32, bool) {
    (l.protocol, l.port, l.tls.is_some())
}

/// Backends in a canonical order.
fn sorted_backends(backends: &[p::BackendMember]) -> Vec<p::BackendMember> {
    let mut out = backends.to_vec();
    out.sort_by(|a, b| (&a.server_id, a.port, a.weight).cmp(&(&b.server_id, b.port, b.weight)));
    out
}

/// What differs between the desired spec and the one in force on the platform, in words.
/// Certificates are compared by the fingerprints the platform reports, private keys not at all
/// (the platform never returns them).
pub fn differences(desired: &p::LoadBalancerSpec, lb: &p::LoadBalancer) -> Vec<String> {
    let now = &lb.spec;
    let mut out = vec![];
    if desired.name != now.name {
        out.push(format!("name {} -> {}", now.name, desired.name));
    }
    if desired.topology != now.topology {
        out.push(format!(
            "topology {:?} -> {:?}",
            now.topology, desired.topology
        ));
    } else if desired.vrrp != now.vrrp {
        out.push("VRRP settings".to_owned());
    }
    if desired.throughput_mbps != now.throughput_mbps {
        out.push(format!(
            "throughput {} -> {} Mbps",
            now.throughput_mbps, desired.throughput_mbps
        ));
    }
    if desired.algorithm != now.algorithm {
        out.push(format!(
            "algorithm {:?} -> {:?}",
            now.algorithm, desired.algorithm
        ));
    }
    let shapes = |s: &p::LoadBalancerSpec| s.listeners.iter().map(shape).collect::<Vec<_>>();
    if shapes(desired) != shapes(now) {
        out.push("listeners".to_owned());
    } else {
        let https: Vec<u32> = desired
            .listeners
            .iter()
            .filter(|l| l.protocol == p::LbProtocol::Https && l.tls.is_some())
            .map(|l| l.port)
            .collect();
        for (i, (port, fingerprint)) in https.iter().zip(fingerprints(desired)).enumerate() {
            if lb.tls_fingerprints.get(i) != Some(&fingerprint) {
                out.push(format!("certificate of listener {port}"));
            }
        }
    }
    let (want, have) = (
        sorted_backends(&desired.backends),
        sorted_backends(&now.backends),
    );
    if want != have {
        out.push(format!("backends ({} -> {})", have.len(), want.len()));
    }
    if desired.health_check != now.health_check {
        out.push("health check".to_owned());
    }
    out
}

/// Decides the next step for a built load balancer.
pub fn plan(desired: &p::LoadBalancerSpec, lb: &p::LoadBalancer, refs: &Refs) -> Step {
    family::plan(
        lb.state,
        lb.operation.as_ref(),
        differences(desired, lb),
        &refs.waiting,
    )
}
