//! The WAF, the IDS/IPS and the outbound SMTP relay: their field checks, the servers and load
//! balancers they protect or serve (which must exist and be the tenant's), and their counters
//! (which only the admin traffic endpoint moves).

use std::collections::BTreeMap;

use jiff::Timestamp;
use suido_provider::{
    ClientToken, Ips, IpsSpec, ProtectedTarget, ProviderError, ProviderResult, ResourceState,
    ServerState, SmtpRelay, SmtpRelaySpec, Tags, TargetKind, Waf, WafSpec,
};

use super::checks::{check_cidr, check_domain, check_unique, no_such};
use super::family::{Family, Kind, common};
use super::ops::Action;
use super::{Tx, World, check_name};

common!(Waf);
common!(Ips);
common!(SmtpRelay);

/// Where the relays listen.
pub(crate) const SMTP_ENDPOINT: &str = "smtp-relay.sim.invalid:25";

/// The WAF family.
pub(crate) struct WafFamily;

/// The IDS/IPS family.
pub(crate) struct IpsFamily;

/// The SMTP relay family.
pub(crate) struct SmtpFamily;

impl Kind for WafFamily {
    const FAMILY: Family = Family::Waf;
    type Spec = WafSpec;
    type Record = Waf;
    type Resource = Waf;

    fn table(world: &World) -> &BTreeMap<String, Waf> {
        &world.wafs
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, Waf> {
        &mut world.wafs
    }

    fn validate(tx: &Tx<'_>, tags: &Tags, spec: &WafSpec, _id: Option<&str>) -> ProviderResult<()> {
        check_name("spec.name", &spec.name)?;
        for (list, name) in [
            (&spec.functions.allow, "allow"),
            (&spec.functions.deny, "deny"),
        ] {
            if list.len() > 256 {
                return Err(ProviderError::invalid(format!(
                    "spec.functions.{name}: at most 256 CIDRs"
                )));
            }
            for (i, cidr) in list.iter().enumerate() {
                check_cidr(&format!("spec.functions.{name}[{i}]"), cidr)?;
            }
            check_unique(&format!("spec.functions.{name}"), list)?;
        }
        tx.check_targets(tags, &spec.targets)
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: WafSpec,
    ) -> ProviderResult<Waf> {
        Ok(Waf {
            id: id.to_string(),
            tags,
            state: ResourceState::Creating,
            client_token: token,
            operation: None,
            created_at: tx.now,
            spec,
            requests_inspected: 0,
            requests_blocked: 0,
        })
    }

    fn update_action(spec: WafSpec) -> Option<Action> {
        Some(Action::UpdateWaf { spec })
    }

    fn present(_world: &World, waf: &Waf, _now: Timestamp) -> Waf {
        waf.clone()
    }
}

impl Kind for IpsFamily {
    const FAMILY: Family = Family::Ips;
    type Spec = IpsSpec;
    type Record = Ips;
    type Resource = Ips;

    fn table(world: &World) -> &BTreeMap<String, Ips> {
        &world.ips
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, Ips> {
        &mut world.ips
    }

    fn validate(tx: &Tx<'_>, tags: &Tags, spec: &IpsSpec, _id: Option<&str>) -> ProviderResult<()> {
        check_name("spec.name", &spec.name)?;
        tx.check_targets(tags, &spec.targets)
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: IpsSpec,
    ) -> ProviderResult<Ips> {
        Ok(Ips {
            id: id.to_string(),
            tags,
            state: ResourceState::Creating,
            client_token: token,
            operation: None,
            created_at: tx.now,
            spec,
            alerts: 0,
            drops: 0,
        })
    }

    fn update_action(spec: IpsSpec) -> Option<Action> {
        Some(Action::UpdateIps { spec })
    }

    fn present(_world: &World, ips: &Ips, _now: Timestamp) -> Ips {
        ips.clone()
    }
}

impl Kind for SmtpFamily {
    const FAMILY: Family = Family::SmtpRelay;
    type Spec = SmtpRelaySpec;
    type Record = SmtpRelay;
    type Resource = SmtpRelay;

    fn table(world: &World) -> &BTreeMap<String, SmtpRelay> {
        &world.smtp_relays
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, SmtpRelay> {
        &mut world.smtp_relays
    }

    fn validate(
        tx: &Tx<'_>,
        tags: &Tags,
        spec: &SmtpRelaySpec,
        _id: Option<&str>,
    ) -> ProviderResult<()> {
        check_name("spec.name", &spec.name)?;
        check_domain("spec.senderDomain", &spec.sender_domain)?;
        check_unique("spec.allowedClients", &spec.allowed_clients)?;
        for (i, server) in spec.allowed_clients.iter().enumerate() {
            if !tx.server_visible(tags, server) {
                return Err(no_such(
                    &format!("spec.allowedClients[{i}]"),
                    "server",
                    server,
                ));
            }
        }
        Ok(())
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: SmtpRelaySpec,
    ) -> ProviderResult<SmtpRelay> {
        Ok(SmtpRelay {
            id: id.to_string(),
            tags,
            state: ResourceState::Creating,
            client_token: token,
            operation: None,
            created_at: tx.now,
            spec,
            endpoint: None,
            accepted: 0,
            rejected: 0,
        })
    }

    fn update_action(spec: SmtpRelaySpec) -> Option<Action> {
        Some(Action::UpdateSmtpRelay { spec })
    }

    fn present(_world: &World, relay: &SmtpRelay, _now: Timestamp) -> SmtpRelay {
        relay.clone()
    }
}

impl Tx<'_> {
    /// Whether a resource with tags `owner` may refer to server `id`: it exists, is not being
    /// deleted, and is not another tenant's.
    pub(super) fn server_visible(&self, owner: &Tags, id: &str) -> bool {
        self.world.servers.get(id).is_some_and(|r| {
            r.server.state != ServerState::Deleting && self.same_tenant(owner, &r.server.tags)
        })
    }

    /// Checks the protected targets of a WAF or IDS/IPS.
    fn check_targets(&self, tags: &Tags, targets: &[ProtectedTarget]) -> ProviderResult<()> {
        for (i, t) in targets.iter().enumerate() {
            let field = format!("spec.targets[{i}].id");
            if targets[..i].contains(t) {
                return Err(ProviderError::invalid(format!(
                    "{field}: {:?} {} is listed twice",
                    t.kind, t.id
                )));
            }
            let visible = match t.kind {
                TargetKind::Server => self.server_visible(tags, &t.id),
                TargetKind::LoadBalancer => {
                    self.world.load_balancers.get(&t.id).is_some_and(|lb| {
                        lb.state != ResourceState::Deleting && self.same_tenant(tags, &lb.tags)
                    })
                }
            };
            if !visible {
                let noun = match t.kind {
                    TargetKind::Server => "server",
                    TargetKind::LoadBalancer => "load balancer",
                };
                return Err(no_such(&field, noun, &t.id));
            }
        }
        Ok(())
    }

    pub(super) fn smtp_relay_built(&mut self, id: &str, op_id: &str) -> ProviderResult<()> {
        self.record_mut::<SmtpFamily>(id)?.endpoint = Some(SMTP_ENDPOINT.to_string());
        self.settle::<SmtpFamily>(id, op_id)
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{IpsProfileKind, OperationState, WafFunctionsSpec, WafPlan};

    use super::*;
    use crate::world::testkit::{at, instant, server_spec, t0, tenant, token};

    fn waf(targets: Vec<ProtectedTarget>) -> WafSpec {
        WafSpec {
            name: "w".into(),
            plan: WafPlan::Cpu2Mem4,
            functions: WafFunctionsSpec {
                signature_inspection: true,
                deny: vec!["192.0.2.0/24".into()],
                ..WafFunctionsSpec::default()
            },
            targets,
        }
    }

    #[test]
    fn targets_must_exist_and_belong_to_the_tenant() -> ProviderResult<()> {
        let rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let srv = tx
            .create_server(token("s"), tenant("a"), server_spec("1CPU-2GB"))?
            .0
            .resource_id;
        let target = |id: &str| ProtectedTarget {
            kind: TargetKind::Server,
            id: id.into(),
        };
        tx.create::<WafFamily>(token("w1"), tenant("a"), waf(vec![target(&srv)]))?;
        for (tags, targets, expected) in [
            (
                tenant("b"),
                vec![target(&srv)],
                "spec.targets[0].id: server",
            ),
            (tenant("a"), vec![target("srv-999999")], "does not exist"),
            (
                tenant("a"),
                vec![target(&srv), target(&srv)],
                "spec.targets[1].id: Server",
            ),
        ] {
            let err = tx
                .create::<WafFamily>(token("w2"), tags, waf(targets))
                .err();
            let msg = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains(expected), "{msg} / {expected}");
        }
        let mut bad = waf(Vec::new());
        bad.functions.allow = vec!["10.0.0.0/8".into(), "10.0.0.0/40".into()];
        let err = tx.create::<WafFamily>(token("w3"), tenant("a"), bad).err();
        assert!(
            err.is_some_and(|e| e.message().contains("spec.functions.allow[1]")),
            "CIDR refused by index"
        );
        Ok(())
    }

    #[test]
    fn an_update_keeps_the_old_spec_until_it_completes() -> ProviderResult<()> {
        let mut rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let id = tx
            .create::<IpsFamily>(
                token("i"),
                Tags::new(),
                IpsSpec {
                    name: "i".into(),
                    profile: IpsProfileKind::DetectOnly,
                    targets: Vec::new(),
                },
            )?
            .0
            .resource_id;
        rules.service_durations.service_ms = 1000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let strict = IpsSpec {
            name: "i".into(),
            profile: IpsProfileKind::Strict,
            targets: Vec::new(),
        };
        let op = tx.update::<IpsFamily>(&id, strict.clone())?;
        let ips = &world.ips[&id];
        assert_eq!(ips.state, ResourceState::Updating);
        assert_eq!(ips.spec.profile, IpsProfileKind::DetectOnly);
        assert_eq!(ips.operation.as_ref(), Some(&op.id));
        // Busy: a second update is a conflict, a delete too.
        let mut tx = Tx::new(&mut world, t0(), &rules);
        assert_eq!(
            tx.update::<IpsFamily>(&id, strict).err().map(|e| e.label()),
            Some("conflict")
        );
        assert_eq!(Tx::new(&mut world, at(1), &rules).tick(), 1);
        let ips = &world.ips[&id];
        assert_eq!(
            (ips.state, ips.spec.profile),
            (ResourceState::Available, IpsProfileKind::Strict)
        );
        assert_eq!(world.operation(&op.id)?.state, OperationState::Succeeded);
        let mut tx = Tx::new(&mut world, at(1), &rules);
        let del = tx.delete::<IpsFamily>(&id)?;
        let again = tx.delete::<IpsFamily>(&id)?;
        assert_eq!(del.id, again.id);
        Tx::new(&mut world, at(2), &rules).tick();
        assert!(world.ips.is_empty());
        Ok(())
    }

    #[test]
    fn smtp_relays_check_the_domain_and_clients() -> ProviderResult<()> {
        let rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let spec = |domain: &str, clients: Vec<String>| SmtpRelaySpec {
            name: "m".into(),
            sender_domain: domain.into(),
            allowed_clients: clients,
        };
        let err = tx.create::<SmtpFamily>(token("m"), Tags::new(), spec("localhost", vec![]));
        assert!(
            err.err()
                .is_some_and(|e| e.message().contains("spec.senderDomain"))
        );
        let err = tx.create::<SmtpFamily>(
            token("m"),
            Tags::new(),
            spec("mail.example.jp", vec!["srv-1".into()]),
        );
        assert!(
            err.err()
                .is_some_and(|e| e.message().contains("spec.allowedClients[0]"))
        );
        let id = tx
            .create::<SmtpFamily>(token("m"), Tags::new(), spec("mail.example.jp", vec![]))?
            .0
            .resource_id;
        assert_eq!(
            world.smtp_relays[&id].endpoint.as_deref(),
            Some(SMTP_ENDPOINT)
        );
        Ok(())
    }
}
