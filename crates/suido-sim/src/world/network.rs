//! Load balancers: the menu and field checks, VRRP group and address uniqueness on the server
//! segment, backends that must exist, backend health computed at read time, and TLS
//! fingerprints (private keys are kept but never shown).

use std::collections::BTreeMap;

use jiff::Timestamp;
use suido_provider::catalog::{LB_THROUGHPUT_MBPS, list_text};
use suido_provider::{
    BackendHealth, ClientToken, LbProtocol, LbTopology, LoadBalancer, LoadBalancerSpec,
    ProviderError, ProviderResult, ResourceState, ServerState, Tags, tls_fingerprint,
};

use super::checks::{check_ipv4, check_port, check_range, lb_address_for, no_such};
use super::family::{Family, Kind, common};
use super::ops::Action;
use super::{Tx, World, check_name};

common!(LoadBalancer);

/// The load balancer family.
pub(crate) struct LbFamily;

impl Kind for LbFamily {
    const FAMILY: Family = Family::LoadBalancer;
    type Spec = LoadBalancerSpec;
    type Record = LoadBalancer;
    type Resource = LoadBalancer;

    fn table(world: &World) -> &BTreeMap<String, LoadBalancer> {
        &world.load_balancers
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, LoadBalancer> {
        &mut world.load_balancers
    }

    fn validate(
        tx: &Tx<'_>,
        tags: &Tags,
        spec: &LoadBalancerSpec,
        id: Option<&str>,
    ) -> ProviderResult<()> {
        check_lb_spec(spec)?;
        tx.check_lb_references(tags, spec, id)
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: LoadBalancerSpec,
    ) -> ProviderResult<LoadBalancer> {
        Ok(LoadBalancer {
            id: id.to_string(),
            tags,
            state: ResourceState::Creating,
            client_token: token,
            operation: None,
            created_at: tx.now,
            tls_fingerprints: fingerprints(&spec),
            spec,
            address: None,
            backend_health: Vec::new(),
        })
    }

    fn update_action(spec: LoadBalancerSpec) -> Option<Action> {
        Some(Action::UpdateLoadBalancer { spec })
    }

    fn present(world: &World, lb: &LoadBalancer, now: Timestamp) -> LoadBalancer {
        let mut shown = lb.clone();
        shown.spec = lb.spec.redacted();
        shown.backend_health = world.backend_health(&lb.spec, now);
        shown
    }
}

/// The fingerprint of each HTTPS listener's certificate, in listener order.
fn fingerprints(spec: &LoadBalancerSpec) -> Vec<String> {
    spec.listeners
        .iter()
        .filter(|l| l.protocol == LbProtocol::Https)
        .filter_map(|l| l.tls.as_ref())
        .map(|t| tls_fingerprint(&t.certificate_pem))
        .collect()
}

fn address_of(id: &str, spec: &LoadBalancerSpec) -> String {
    match &spec.vrrp {
        Some(v) if spec.topology == LbTopology::Redundant => v.virtual_address.clone(),
        _ => lb_address_for(id),
    }
}

/// The checks that need nothing but the spec.
fn check_lb_spec(spec: &LoadBalancerSpec) -> ProviderResult<()> {
    check_name("spec.name", &spec.name)?;
    if !LB_THROUGHPUT_MBPS.contains(&spec.throughput_mbps) {
        return Err(ProviderError::invalid(format!(
            "spec.throughputMbps {} is not on the menu; allowed: {} (Mbps)",
            spec.throughput_mbps,
            list_text(&LB_THROUGHPUT_MBPS)
        )));
    }
    match (&spec.topology, &spec.vrrp) {
        (LbTopology::Redundant, None) => {
            return Err(ProviderError::invalid(
                "spec.vrrp is required for topology Redundant (virtualAddress and groupId)",
            ));
        }
        (LbTopology::Single, Some(_)) => {
            return Err(ProviderError::invalid(
                "spec.vrrp is only for topology Redundant",
            ));
        }
        (_, Some(v)) => {
            check_ipv4("spec.vrrp.virtualAddress", &v.virtual_address)?;
            check_range("spec.vrrp.groupId", v.group_id, 1, 255)?;
        }
        (LbTopology::Single, None) => {}
    }
    if spec.listeners.len() > 32 {
        return Err(ProviderError::invalid(
            "spec.listeners: at most 32 listeners",
        ));
    }
    for (i, l) in spec.listeners.iter().enumerate() {
        let field = format!("spec.listeners[{i}]");
        check_port(&format!("{field}.port"), l.port)?;
        if spec.listeners[..i].iter().any(|o| o.port == l.port) {
            return Err(ProviderError::invalid(format!(
                "{field}.port {} is used by another listener",
                l.port
            )));
        }
        match (&l.protocol, &l.tls) {
            (LbProtocol::Https, None) => {
                return Err(ProviderError::invalid(format!(
                    "{field}.tls is required for protocol Https (certificatePem and privateKeyPem)"
                )));
            }
            (LbProtocol::Https, Some(tls)) => {
                if !tls.certificate_pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(ProviderError::invalid(format!(
                        "{field}.tls.certificatePem must be a PEM certificate (-----BEGIN CERTIFICATE-----)"
                    )));
                }
                if !tls.private_key_pem.contains("PRIVATE KEY-----") {
                    return Err(ProviderError::invalid(format!(
                        "{field}.tls.privateKeyPem must be a PEM private key (-----BEGIN PRIVATE KEY-----)"
                    )));
                }
            }
            (_, Some(_)) => {
                return Err(ProviderError::invalid(format!(
                    "{field}.tls is only for protocol Https"
                )));
            }
            (_, None) => {}
        }
    }
    if spec.backends.len() > 64 {
        return Err(ProviderError::invalid("spec.backends: at most 64 backends"));
    }
    for (i, b) in spec.backends.iter().enumerate() {
        let field = format!("spec.backends[{i}]");
        check_port(&format!("{field}.port"), b.port)?;
        check_range(&format!("{field}.weight"), b.weight, 1, 100)?;
        if spec.backends[..i]
            .iter()
            .any(|o| o.server_id == b.server_id && o.port == b.port)
        {
            return Err(ProviderError::invalid(format!(
                "{field}: server {} port {} is listed twice",
                b.server_id, b.port
            )));
        }
    }
    if let Some(h) = &spec.health_check {
        check_range(
            "spec.healthCheck.intervalSeconds",
            h.interval_seconds,
            1,
            300,
        )?;
        check_range("spec.healthCheck.timeoutSeconds", h.timeout_seconds, 1, 60)?;
        if h.timeout_seconds >= h.interval_seconds {
            return Err(ProviderError::invalid(format!(
                "spec.healthCheck.timeoutSeconds {} must be less than intervalSeconds {}",
                h.timeout_seconds, h.interval_seconds
            )));
        }
        check_range(
            "spec.healthCheck.unhealthyThreshold",
            h.unhealthy_threshold,
            1,
            10,
        )?;
        match (&h.protocol, &h.path) {
            (LbProtocol::Tcp, Some(_)) => {
                return Err(ProviderError::invalid(
                    "spec.healthCheck.path is only for protocol Http or Https",
                ));
            }
            (_, Some(p)) if !p.starts_with('/') => {
                return Err(ProviderError::invalid(format!(
                    "spec.healthCheck.path `{p}` must start with /"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

impl World {
    /// Each backend's health at `now`: healthy when its server exists, is running and its host
    /// is up.
    pub(crate) fn backend_health(
        &self,
        spec: &LoadBalancerSpec,
        now: Timestamp,
    ) -> Vec<BackendHealth> {
        spec.backends
            .iter()
            .map(|b| {
                let server = self.servers.get(&b.server_id);
                let healthy = server.is_some_and(|r| {
                    r.server.state == ServerState::Running
                        && r.outage.as_ref().is_none_or(|o| now >= o.until)
                });
                BackendHealth {
                    server_id: b.server_id.clone(),
                    address: server.and_then(|r| r.server.address.clone()),
                    healthy,
                }
            })
            .collect()
    }
}

impl Tx<'_> {
    /// The checks against the rest of the platform: backends exist (and are the tenant's), the
    /// VRRP group id and virtual address are free on the segment. The refusal of a taken group
    /// id names the field only, never the load balancer or tenant holding it.
    fn check_lb_references(
        &self,
        tags: &Tags,
        spec: &LoadBalancerSpec,
        id: Option<&str>,
    ) -> ProviderResult<()> {
        for (i, b) in spec.backends.iter().enumerate() {
            if !self.server_visible(tags, &b.server_id) {
                return Err(no_such(
                    &format!("spec.backends[{i}].serverId"),
                    "server",
                    &b.server_id,
                ));
            }
        }
        let Some(vrrp) = &spec.vrrp else {
            return Ok(());
        };
        // Every other load balancer's spec in force, and the specs of updates in progress.
        let current = self
            .world
            .load_balancers
            .values()
            .filter(|lb| Some(lb.id.as_str()) != id)
            .map(|lb| &lb.spec);
        let pending = self.world.ops.values().filter_map(|r| match &r.action {
            Action::UpdateLoadBalancer { spec }
                if !r.op.state.is_done() && Some(r.op.resource_id.as_str()) != id =>
            {
                Some(spec)
            }
            _ => None,
        });
        for other in current.chain(pending).filter_map(|s| s.vrrp.as_ref()) {
            if other.group_id == vrrp.group_id {
                return Err(ProviderError::invalid(format!(
                    "spec.vrrp.groupId {} is already in use on the server segment; choose another group id (1 to 255)",
                    vrrp.group_id
                )));
            }
            if other.virtual_address == vrrp.virtual_address {
                return Err(ProviderError::invalid(format!(
                    "spec.vrrp.virtualAddress {} is already in use on the server segment",
                    vrrp.virtual_address
                )));
            }
        }
        let taken_by_server = self
            .world
            .servers
            .values()
            .any(|r| r.server.address.as_deref() == Some(vrrp.virtual_address.as_str()));
        if taken_by_server {
            return Err(ProviderError::invalid(format!(
                "spec.vrrp.virtualAddress {} is already in use on the server segment",
                vrrp.virtual_address
            )));
        }
        Ok(())
    }

    pub(super) fn load_balancer_built(&mut self, id: &str, op_id: &str) -> ProviderResult<()> {
        let lb = self.record_mut::<LbFamily>(id)?;
        lb.address = Some(address_of(id, &lb.spec));
        self.settle::<LbFamily>(id, op_id)
    }

    pub(super) fn load_balancer_updated(
        &mut self,
        id: &str,
        spec: &LoadBalancerSpec,
        op_id: &str,
    ) -> ProviderResult<()> {
        let lb = self.record_mut::<LbFamily>(id)?;
        lb.spec = spec.clone();
        lb.tls_fingerprints = fingerprints(spec);
        lb.address = Some(address_of(id, spec));
        self.settle::<LbFamily>(id, op_id)
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{
        BackendMember, HealthCheckSpec, LbAlgorithm, ListenerSpec, TlsCertificate, VrrpSpec,
    };

    use super::*;
    use crate::world::testkit::{instant, server_spec, t0, tenant, token};

    fn redundant(group_id: u32, address: &str) -> LoadBalancerSpec {
        LoadBalancerSpec {
            name: "front".into(),
            topology: LbTopology::Redundant,
            vrrp: Some(VrrpSpec {
                virtual_address: address.into(),
                group_id,
            }),
            throughput_mbps: 200,
            algorithm: LbAlgorithm::RoundRobin,
            listeners: Vec::new(),
            backends: Vec::new(),
            health_check: None,
        }
    }

    fn invalid_message(r: ProviderResult<(suido_provider::Operation, bool)>) -> String {
        match r {
            Err(e) => {
                assert_eq!(e.label(), "invalid_request", "{e}");
                e.message().to_string()
            }
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn a_vrrp_group_in_use_is_refused_without_naming_its_holder() -> ProviderResult<()> {
        let rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let (op, _) = tx.create::<LbFamily>(token("a"), tenant("a"), redundant(7, "10.20.9.1"))?;
        let msg = invalid_message(tx.create::<LbFamily>(
            token("b"),
            tenant("b"),
            redundant(7, "10.20.9.2"),
        ));
        assert!(
            msg.contains("spec.vrrp.groupId 7") && msg.contains("in use"),
            "{msg}"
        );
        assert!(
            !msg.contains(&op.resource_id) && !msg.contains("`a`"),
            "{msg}"
        );
        let msg = invalid_message(tx.create::<LbFamily>(
            token("c"),
            tenant("b"),
            redundant(8, "10.20.9.1"),
        ));
        assert!(msg.contains("spec.vrrp.virtualAddress"), "{msg}");
        // Its own group id is no conflict on update.
        let lb = op.resource_id;
        let mut spec = redundant(7, "10.20.9.1");
        spec.throughput_mbps = 1000;
        tx.update::<LbFamily>(&lb, spec)?;
        assert_eq!(tx.world.load_balancers[&lb].spec.throughput_mbps, 1000);
        Ok(())
    }

    #[test]
    fn menu_and_fields_are_checked_by_name() {
        let rules = instant();
        let mut world = World::default();
        let mut cases: Vec<(LoadBalancerSpec, &str)> = Vec::new();
        let mut s = redundant(1, "10.20.9.1");
        s.throughput_mbps = 100;
        cases.push((s, "allowed: 50, 200, 1000"));
        let mut s = redundant(1, "10.20.9.1");
        s.vrrp = None;
        cases.push((s, "spec.vrrp is required"));
        cases.push((
            redundant(0, "10.20.9.1"),
            "spec.vrrp.groupId 0 must be 1 to 255",
        ));
        let mut s = redundant(1, "10.20.9.1");
        s.listeners = vec![ListenerSpec {
            protocol: LbProtocol::Https,
            port: 443,
            tls: None,
        }];
        cases.push((s.clone(), "spec.listeners[0].tls is required"));
        s.listeners[0].protocol = LbProtocol::Http;
        s.listeners[0].tls = Some(TlsCertificate {
            certificate_pem: "-----BEGIN CERTIFICATE-----".into(),
            private_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
        });
        cases.push((s, "spec.listeners[0].tls is only for protocol Https"));
        let mut s = redundant(1, "10.20.9.1");
        s.backends = vec![BackendMember {
            server_id: "srv-000404".into(),
            port: 80,
            weight: 1,
        }];
        cases.push((
            s,
            "spec.backends[0].serverId: server srv-000404 does not exist",
        ));
        let mut s = redundant(1, "10.20.9.1");
        s.health_check = Some(HealthCheckSpec {
            protocol: LbProtocol::Tcp,
            path: Some("/".into()),
            interval_seconds: 10,
            timeout_seconds: 10,
            unhealthy_threshold: 3,
        });
        cases.push((s, "timeoutSeconds 10 must be less than intervalSeconds 10"));
        for (spec, expected) in cases {
            let mut tx = Tx::new(&mut world, t0(), &rules);
            let msg = invalid_message(tx.create::<LbFamily>(token("t"), Tags::new(), spec));
            assert!(msg.contains(expected), "{msg} / {expected}");
        }
        assert!(world.load_balancers.is_empty());
    }

    #[test]
    fn backend_health_follows_the_server_and_keys_stay_hidden() -> ProviderResult<()> {
        let rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let srv = tx
            .create_server(token("s"), tenant("a"), server_spec("1CPU-2GB"))?
            .0
            .resource_id;
        let mut spec = redundant(3, "10.20.9.3");
        spec.backends = vec![BackendMember {
            server_id: srv.clone(),
            port: 8080,
            weight: 5,
        }];
        spec.listeners = vec![ListenerSpec {
            protocol: LbProtocol::Https,
            port: 443,
            tls: Some(TlsCertificate {
                certificate_pem: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----".into(),
                private_key_pem: "-----BEGIN PRIVATE KEY-----\nSECRET".into(),
            }),
        }];
        let lb = tx
            .create::<LbFamily>(token("l"), tenant("a"), spec)?
            .0
            .resource_id;
        let shown = world.get::<LbFamily>(&lb, t0())?;
        assert_eq!(shown.address.as_deref(), Some("10.20.9.3"));
        assert!(shown.backend_health[0].healthy);
        assert_eq!(shown.tls_fingerprints.len(), 1);
        let text = serde_json::to_string(&shown).unwrap_or_default();
        assert!(!text.contains("SECRET"), "{text}");
        Tx::new(&mut world, t0(), &rules).stop_server(&srv)?;
        assert!(!world.get::<LbFamily>(&lb, t0())?.backend_health[0].healthy);
        // Another tenant's server is no backend: it "does not exist".
        let mut spec = redundant(4, "10.20.9.4");
        spec.backends = vec![BackendMember {
            server_id: srv.clone(),
            port: 80,
            weight: 1,
        }];
        let msg = invalid_message(Tx::new(&mut world, t0(), &rules).create::<LbFamily>(
            token("m"),
            tenant("b"),
            spec,
        ));
        assert!(msg.contains("does not exist"), "{msg}");
        Ok(())
    }
}
