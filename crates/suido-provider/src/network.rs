//! The network services: load balancers (service 12), WAF (6), IDS/IPS (15) and the outbound
//! SMTP relay (14), as ordered (`*Spec`) and as they are on the platform.
//!
//! Every resource carries the spec as last applied (`spec`) next to what the platform observes.
//! A load balancer never gives its TLS private keys back: answers carry the certificate and a
//! fingerprint of it ([`tls_fingerprint`]) so a caller can tell whether the certificate it holds
//! is the one in force.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::resource::ResourceState;
use crate::types::{ClientToken, Tags};

/// Single or VRRP-redundant load balancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LbTopology {
    /// One instance.
    Single,
    /// Two instances sharing a VRRP virtual address.
    Redundant,
}

/// The VRRP settings of a redundant load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VrrpSpec {
    /// The virtual IPv4 address on the server segment.
    pub virtual_address: String,
    /// The VRRP group id (1 to 255), unique on the segment.
    pub group_id: u32,
}

/// How requests are spread over the backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LbAlgorithm {
    /// In turn, by weight (the default).
    #[default]
    RoundRobin,
    /// To the backend with the fewest open connections.
    LeastConnections,
}

/// Protocol of a listener or a health check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LbProtocol {
    /// Plain TCP.
    Tcp,
    /// HTTP.
    Http,
    /// HTTPS; on a listener the TLS is offloaded by the load balancer.
    Https,
}

/// A certificate and its private key, for SSL offload. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsCertificate {
    /// The certificate (chain) in PEM.
    pub certificate_pem: String,
    /// The private key in PEM. The platform never returns it: in answers it is empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_key_pem: String,
}

impl fmt::Debug for TlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCertificate")
            .field("fingerprint", &tls_fingerprint(&self.certificate_pem))
            .field(
                "private_key_pem",
                &if self.private_key_pem.is_empty() {
                    "<none>"
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

/// The fingerprint the platform reports for a certificate: the lowercase hex SHA-256 of the PEM
/// text, with surrounding whitespace trimmed and CRLF line ends read as LF.
pub fn tls_fingerprint(certificate_pem: &str) -> String {
    let normalized = certificate_pem.trim().replace("\r\n", "\n");
    let digest = Sha256::digest(normalized.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A port the load balancer listens on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    /// Protocol.
    pub protocol: LbProtocol,
    /// Port, 1 to 65535, unique within the load balancer.
    pub port: u32,
    /// Certificate for `Https` (required there, refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsCertificate>,
}

/// A server the load balancer sends traffic to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendMember {
    /// Platform id of the server.
    pub server_id: String,
    /// Port on the server, 1 to 65535.
    pub port: u32,
    /// Weight, 1 to 100.
    pub weight: u32,
}

/// How the load balancer checks its backends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// Protocol of the check.
    pub protocol: LbProtocol,
    /// Path for HTTP(S) checks (starting with `/`); not for `Tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Seconds between checks, 1 to 300.
    pub interval_seconds: u32,
    /// Seconds before a check fails, 1 to 60 and less than the interval.
    pub timeout_seconds: u32,
    /// Failed checks in a row that make a backend unhealthy, 1 to 10.
    pub unhealthy_threshold: u32,
}

/// What to build: a load balancer on the server segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Display name.
    pub name: String,
    /// Single or redundant.
    pub topology: LbTopology,
    /// VRRP settings: required for `Redundant`, refused for `Single`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrrp: Option<VrrpSpec>,
    /// Maximum throughput from the menu: 50, 200 or 1000 Mbps.
    pub throughput_mbps: u32,
    /// Balancing algorithm.
    #[serde(default)]
    pub algorithm: LbAlgorithm,
    /// Listeners.
    #[serde(default)]
    pub listeners: Vec<ListenerSpec>,
    /// Backend servers.
    #[serde(default)]
    pub backends: Vec<BackendMember>,
    /// Health check of the backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSpec>,
}

impl LoadBalancerSpec {
    /// The same spec without the TLS private keys (as the platform returns it).
    pub fn redacted(&self) -> LoadBalancerSpec {
        let mut spec = self.clone();
        for l in &mut spec.listeners {
            if let Some(tls) = &mut l.tls {
                tls.private_key_pem.clear();
            }
        }
        spec
    }
}

/// A backend's health as the load balancer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendHealth {
    /// Platform id of the server.
    pub server_id: String,
    /// The server's address, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Whether it passes the health check.
    pub healthy: bool,
}

/// A load balancer as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ResourceState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
    /// The spec as last applied (TLS private keys left out).
    pub spec: LoadBalancerSpec,
    /// The address clients use: the VRRP virtual address when redundant, else one the platform
    /// allocated. Absent until built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Health of each backend, in the order of `spec.backends`.
    #[serde(default)]
    pub backend_health: Vec<BackendHealth>,
    /// [`tls_fingerprint`] of the certificate of each HTTPS listener, in listener order.
    #[serde(default)]
    pub tls_fingerprints: Vec<String>,
}

/// What a WAF or an IDS/IPS protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TargetKind {
    /// A virtual server.
    Server,
    /// A load balancer.
    LoadBalancer,
}

/// A protected server or load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtectedTarget {
    /// What it is.
    pub kind: TargetKind,
    /// Its platform id.
    pub id: String,
}

/// WAF plan: one interface each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WafPlan {
    /// 2 vCPUs, 4 GB.
    #[serde(rename = "2CPU-4GB")]
    Cpu2Mem4,
    /// 4 vCPUs, 6 GB.
    #[serde(rename = "4CPU-6GB")]
    Cpu4Mem6,
}

/// The WAF's five functions. Access control by IP address is `allow` and `deny`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WafFunctionsSpec {
    /// Signature-based web inspection.
    #[serde(default)]
    pub signature_inspection: bool,
    /// DoS protection.
    #[serde(default)]
    pub dos_protection: bool,
    /// Antivirus on uploads.
    #[serde(default)]
    pub antivirus: bool,
    /// Blocking by IP reputation.
    #[serde(default)]
    pub ip_reputation: bool,
    /// CIDRs always let through.
    #[serde(default)]
    pub allow: Vec<String>,
    /// CIDRs always refused.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// What to build: a WAF (vendor tenants only; enforced by controllers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WafSpec {
    /// Display name.
    pub name: String,
    /// Plan.
    pub plan: WafPlan,
    /// Functions and IP rules.
    #[serde(default)]
    pub functions: WafFunctionsSpec,
    /// Protected servers and load balancers.
    #[serde(default)]
    pub targets: Vec<ProtectedTarget>,
}

/// A WAF as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waf {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ResourceState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
    /// The spec as last applied.
    pub spec: WafSpec,
    /// Requests inspected since it was built.
    #[serde(default)]
    pub requests_inspected: u64,
    /// Requests blocked since it was built.
    #[serde(default)]
    pub requests_blocked: u64,
}

/// IDS/IPS profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpsProfileKind {
    /// Raise alerts, never drop.
    DetectOnly,
    /// Drop well-known attacks, alert on the rest.
    Balanced,
    /// Drop everything suspicious.
    Strict,
}

/// What to build: an IDS/IPS (vendor tenants only; enforced by controllers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpsSpec {
    /// Display name.
    pub name: String,
    /// Profile.
    pub profile: IpsProfileKind,
    /// Protected servers and load balancers.
    #[serde(default)]
    pub targets: Vec<ProtectedTarget>,
}

/// An IDS/IPS as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ips {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ResourceState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
    /// The spec as last applied.
    pub spec: IpsSpec,
    /// Alerts raised since it was built.
    #[serde(default)]
    pub alerts: u64,
    /// Packets or connections dropped since it was built.
    #[serde(default)]
    pub drops: u64,
}

/// What to set up: an outbound SMTP relay (no inbound mail exists on the platform).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmtpRelaySpec {
    /// Display name.
    pub name: String,
    /// The sender domain the platform designated.
    pub sender_domain: String,
    /// Ids of the servers allowed to relay through it.
    #[serde(default)]
    pub allowed_clients: Vec<String>,
}

/// An SMTP relay as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmtpRelay {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ResourceState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
    /// The spec as last applied.
    pub spec: SmtpRelaySpec,
    /// `host:port` the allowed servers send to, once set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Messages accepted for delivery.
    #[serde(default)]
    pub accepted: u64,
    /// Messages refused (sender outside the domain, client not allowed, ...).
    #[serde(default)]
    pub rejected: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn https_spec() -> LoadBalancerSpec {
        LoadBalancerSpec {
            name: "front".into(),
            topology: LbTopology::Redundant,
            vrrp: Some(VrrpSpec {
                virtual_address: "10.20.9.10".into(),
                group_id: 7,
            }),
            throughput_mbps: 200,
            algorithm: LbAlgorithm::LeastConnections,
            listeners: vec![ListenerSpec {
                protocol: LbProtocol::Https,
                port: 443,
                tls: Some(TlsCertificate {
                    certificate_pem: "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----"
                        .into(),
                    private_key_pem: "-----BEGIN PRIVATE KEY-----\nSECRET\n".into(),
                }),
            }],
            backends: vec![BackendMember {
                server_id: "srv-000001".into(),
                port: 8080,
                weight: 10,
            }],
            health_check: Some(HealthCheckSpec {
                protocol: LbProtocol::Http,
                path: Some("/healthz".into()),
                interval_seconds: 10,
                timeout_seconds: 5,
                unhealthy_threshold: 3,
            }),
        }
    }

    #[test]
    fn load_balancer_spec_is_camel_case_and_round_trips() -> Result<(), serde_json::Error> {
        let spec = https_spec();
        let v = serde_json::to_value(&spec)?;
        assert_eq!(
            v["vrrp"],
            json!({"virtualAddress": "10.20.9.10", "groupId": 7})
        );
        assert_eq!(v["throughputMbps"], 200);
        assert_eq!(v["algorithm"], "LeastConnections");
        assert_eq!(v["healthCheck"]["unhealthyThreshold"], 3);
        assert_eq!(v["listeners"][0]["protocol"], "Https");
        assert_eq!(serde_json::from_value::<LoadBalancerSpec>(v)?, spec);
        let minimal: LoadBalancerSpec = serde_json::from_value(
            json!({"name": "a", "topology": "Single", "throughputMbps": 50}),
        )?;
        assert_eq!(minimal.algorithm, LbAlgorithm::RoundRobin);
        assert!(minimal.listeners.is_empty() && minimal.vrrp.is_none());
        Ok(())
    }

    #[test]
    fn private_keys_are_neither_shown_nor_returned() -> Result<(), serde_json::Error> {
        let spec = https_spec();
        assert!(!format!("{spec:?}").contains("SECRET"));
        let redacted = spec.redacted();
        let text = serde_json::to_string(&redacted)?;
        assert!(
            !text.contains("SECRET") && !text.contains("privateKeyPem"),
            "{text}"
        );
        assert_eq!(
            redacted.listeners[0]
                .tls
                .as_ref()
                .map(|t| &t.certificate_pem),
            spec.listeners[0].tls.as_ref().map(|t| &t.certificate_pem)
        );
        Ok(())
    }

    #[test]
    fn fingerprint_is_sha256_hex_of_the_trimmed_pem() {
        // SHA-256 of "abc".
        assert_eq!(
            tls_fingerprint("  abc\n"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(tls_fingerprint("a\r\nb"), tls_fingerprint("a\nb"));
        assert_ne!(tls_fingerprint("a"), tls_fingerprint("b"));
    }

    #[test]
    fn waf_ips_and_smtp_use_platform_names() -> Result<(), serde_json::Error> {
        let waf = WafSpec {
            name: "w".into(),
            plan: WafPlan::Cpu4Mem6,
            functions: WafFunctionsSpec {
                signature_inspection: true,
                ip_reputation: true,
                deny: vec!["192.0.2.0/24".into()],
                ..WafFunctionsSpec::default()
            },
            targets: vec![ProtectedTarget {
                kind: TargetKind::LoadBalancer,
                id: "lb-000001".into(),
            }],
        };
        let v = serde_json::to_value(&waf)?;
        assert_eq!(v["plan"], "4CPU-6GB");
        assert_eq!(v["functions"]["signatureInspection"], true);
        assert_eq!(
            v["targets"][0],
            json!({"kind": "LoadBalancer", "id": "lb-000001"})
        );
        assert_eq!(serde_json::from_value::<WafSpec>(v)?, waf);
        assert!(serde_json::from_value::<WafPlan>(json!("2CPU-8GB")).is_err());
        let ips: IpsSpec = serde_json::from_value(json!({"name": "i", "profile": "DetectOnly"}))?;
        assert_eq!(ips.profile, IpsProfileKind::DetectOnly);
        let smtp = SmtpRelaySpec {
            name: "m".into(),
            sender_domain: "mail.example.jp".into(),
            allowed_clients: vec!["srv-000001".into()],
        };
        let v = serde_json::to_value(&smtp)?;
        assert_eq!(v["senderDomain"], "mail.example.jp");
        assert_eq!(v["allowedClients"][0], "srv-000001");
        Ok(())
    }
}
