//! Virtual servers: validation, quotas, the server operations and their effects, health and
//! host failures.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use suido_provider::catalog::{
    DATA_DISK_SIZES_GB, RDS_LICENSE_COUNTS, list_text, server_menu_text, standard_os_disk_gb,
};
use suido_provider::{
    ClientToken, ConsoleAccess, Disk, DiskSpec, FailureLayer, HealthState, MonitoringSettings,
    OperatingSystem, Operation, OperationKind, ProviderError, ProviderResult, ResourceMetric,
    Server, ServerHealth, ServerSize, ServerSpec, ServerState, Tags, VolumeState, tags_match,
};

use super::ops::Action;
use super::{Tx, World, address_for, after, check_name, check_tags};
use crate::store::Key;

/// A server and what only the simulator knows about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServerRecord {
    pub server: Server,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<Outage>,
}

/// A host failure affecting a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outage {
    pub layer: FailureLayer,
    pub since: Timestamp,
    pub until: Timestamp,
}

impl World {
    pub(crate) fn server(&self, id: &str) -> ProviderResult<&ServerRecord> {
        self.servers
            .get(id)
            .ok_or_else(|| ProviderError::not_found(format!("server {id} does not exist")))
    }

    pub(crate) fn list_servers(&self, selector: &Tags) -> Vec<Server> {
        self.servers
            .values()
            .filter(|r| tags_match(&r.server.tags, selector))
            .map(|r| r.server.clone())
            .collect()
    }

    /// A server's health at `now`.
    pub(crate) fn health(&self, id: &str, now: Timestamp) -> ProviderResult<ServerHealth> {
        let rec = self.server(id)?;
        let outage = rec.outage.as_ref().filter(|o| now < o.until);
        let mut health = ServerHealth {
            server_id: id.to_string(),
            server_state: rec.server.state,
            state: HealthState::NotRunning,
            failed_layer: None,
            down_since: None,
            expected_recovery: None,
        };
        if rec.server.state == ServerState::Running {
            match outage {
                Some(o) => {
                    health.state = HealthState::Down;
                    health.failed_layer = Some(o.layer);
                    health.down_since = Some(o.since);
                    health.expected_recovery = Some(o.until);
                }
                None => health.state = HealthState::Up,
            }
        }
        Ok(health)
    }
}

fn check_disk_name(name: &str) -> ProviderResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        return Err(ProviderError::invalid(format!(
            "disk name `{name}` must be a DNS label: 1 to 63 characters from a-z, 0-9 and -, not starting or ending with -"
        )));
    }
    Ok(())
}

fn check_disk_size(field: &str, size_gb: u32) -> ProviderResult<()> {
    if !DATA_DISK_SIZES_GB.contains(&size_gb) {
        return Err(ProviderError::invalid(format!(
            "{field} {size_gb} is not on the disk menu; allowed: {} (GB)",
            list_text(&DATA_DISK_SIZES_GB)
        )));
    }
    Ok(())
}

fn check_size(size: ServerSize) -> ProviderResult<()> {
    if !size.is_on_menu() {
        return Err(ProviderError::invalid(format!(
            "size {size} is not on the menu; allowed: {}",
            server_menu_text()
        )));
    }
    Ok(())
}

fn check_server_spec(spec: &ServerSpec) -> ProviderResult<()> {
    check_name("spec.name", &spec.name)?;
    check_size(spec.size)?;
    let standard = standard_os_disk_gb(spec.os);
    if let Some(gb) = spec.os_disk_gb
        && gb < standard
    {
        return Err(ProviderError::invalid(format!(
            "spec.osDiskGb {gb} is below the standard {standard} GB for {:?}; it may only be enlarged",
            spec.os
        )));
    }
    let mut packages = BTreeSet::new();
    for p in &spec.packages {
        if !packages.insert(*p) {
            return Err(ProviderError::invalid(format!(
                "spec.packages lists {p:?} twice"
            )));
        }
    }
    if let Some(n) = spec.rds_licenses {
        if spec.os != OperatingSystem::WindowsServer {
            return Err(ProviderError::invalid(
                "spec.rdsLicenses is only for os WindowsServer",
            ));
        }
        if !RDS_LICENSE_COUNTS.contains(&n) {
            return Err(ProviderError::invalid(format!(
                "spec.rdsLicenses {n} is not offered; allowed: {}",
                list_text(&RDS_LICENSE_COUNTS)
            )));
        }
    }
    if spec.disks.len() > 16 {
        return Err(ProviderError::invalid("spec.disks: at most 16 disks"));
    }
    let mut names = BTreeSet::new();
    for d in &spec.disks {
        check_disk_name(&d.name)?;
        check_disk_size("spec.disks[].sizeGb", d.size_gb)?;
        if !names.insert(d.name.as_str()) {
            return Err(ProviderError::invalid(format!(
                "spec.disks: disk name `{}` is used twice",
                d.name
            )));
        }
    }
    Ok(())
}

fn check_monitoring(m: &MonitoringSettings) -> ProviderResult<()> {
    for r in &m.resources {
        if !(1..=100).contains(&r.threshold_percent) {
            return Err(ProviderError::invalid(format!(
                "monitoring.resources[].thresholdPercent {} must be 1 to 100",
                r.threshold_percent
            )));
        }
        if r.path.is_some() && r.metric != ResourceMetric::DiskFree {
            return Err(ProviderError::invalid(
                "monitoring.resources[].path is only for metric DiskFree",
            ));
        }
    }
    for p in &m.processes {
        check_name("monitoring.processes[].name", &p.name)?;
    }
    for l in &m.logs {
        check_name("monitoring.logs[].path", &l.path)?;
        check_name("monitoring.logs[].pattern", &l.pattern)?;
    }
    Ok(())
}

impl Tx<'_> {
    pub(super) fn server_mut(&mut self, id: &str) -> ProviderResult<&mut ServerRecord> {
        self.dirty.insert(Key::Server(id.to_string()));
        self.world
            .servers
            .get_mut(id)
            .ok_or_else(|| ProviderError::not_found(format!("server {id} does not exist")))
    }

    fn check_server_quota(
        &self,
        tags: &Tags,
        add_servers: u32,
        add_vcpus: u32,
    ) -> ProviderResult<()> {
        for (scope, limits, tenant) in self.scopes(tags) {
            let servers: Vec<&Server> = self
                .world
                .servers
                .values()
                .map(|r| &r.server)
                .filter(|s| self.in_scope(&s.tags, &tenant))
                .collect();
            let count = u32::try_from(servers.len()).unwrap_or(u32::MAX);
            if let Some(max) = limits.max_servers
                && count.saturating_add(add_servers) > max
            {
                return Err(ProviderError::quota(format!(
                    "{scope} may have at most {max} servers and has {count}"
                )));
            }
            let vcpus: u32 = servers.iter().map(|s| s.size.cpus).sum();
            if let Some(max) = limits.max_vcpus
                && vcpus.saturating_add(add_vcpus) > max
            {
                return Err(ProviderError::quota(format!(
                    "{scope} may use at most {max} vCPUs, uses {vcpus} and asks for {add_vcpus} more"
                )));
            }
        }
        Ok(())
    }

    pub(super) fn release_server(&mut self, id: &str, op_id: &str) {
        if let Ok(rec) = self.server_mut(id)
            && rec.server.operation.as_deref() == Some(op_id)
        {
            rec.server.operation = None;
        }
    }

    /// Removes a server at once; its block volumes are detached (and become `Available`).
    pub(super) fn remove_server(&mut self, id: &str) -> ProviderResult<ServerRecord> {
        let rec = self.server_mut(id)?;
        let volumes = std::mem::take(&mut rec.server.volumes);
        let removed = self
            .world
            .servers
            .remove(id)
            .ok_or_else(|| ProviderError::not_found(format!("server {id} does not exist")))?;
        for v in volumes {
            if let Ok(vol) = self.volume_mut(&v) {
                vol.attached_to = None;
                if vol.state == VolumeState::Attached {
                    vol.state = VolumeState::Available;
                }
            }
        }
        Ok(removed)
    }

    pub(super) fn apply_server(
        &mut self,
        action: &Action,
        id: &str,
        op_id: &str,
    ) -> ProviderResult<()> {
        match action {
            Action::CreateServer => {
                let rec = self.server_mut(id)?;
                rec.server.state = ServerState::Running;
                rec.server.address = Some(address_for(id));
                self.release_server(id, op_id);
            }
            Action::StartServer | Action::StopServer => {
                let rec = self.server_mut(id)?;
                rec.server.state = if *action == Action::StartServer {
                    ServerState::Running
                } else {
                    ServerState::Stopped
                };
                self.release_server(id, op_id);
            }
            Action::ResizeServer { size } => {
                self.server_mut(id)?.server.size = *size;
                self.release_server(id, op_id);
            }
            Action::AttachDisk { disk } => {
                self.server_mut(id)?.server.disks.push(disk.clone());
                self.release_server(id, op_id);
            }
            Action::GrowDisk { name, size_gb } => {
                let rec = self.server_mut(id)?;
                if let Some(d) = rec.server.disks.iter_mut().find(|d| &d.name == name) {
                    d.size_gb = *size_gb;
                }
                self.release_server(id, op_id);
            }
            Action::DetachDisk { name } => {
                self.server_mut(id)?
                    .server
                    .disks
                    .retain(|d| &d.name != name);
                self.release_server(id, op_id);
            }
            Action::DeleteServer => {
                self.remove_server(id)?;
            }
            _ => {
                return Err(ProviderError::transient(format!(
                    "operation {op_id} has no server action"
                )));
            }
        }
        Ok(())
    }

    /// Orders a server; returns the operation and whether it is new (false: token replay).
    pub(crate) fn create_server(
        &mut self,
        token: ClientToken,
        tags: Tags,
        spec: ServerSpec,
    ) -> ProviderResult<(Operation, bool)> {
        check_tags(&tags)?;
        check_server_spec(&spec)?;
        let fingerprint = serde_json::to_string(&(&tags, &spec))
            .map_err(|e| ProviderError::invalid(e.to_string()))?;
        let key = format!("server:{token}");
        if let Some(op) = self.replay(&key, &fingerprint, "server")? {
            return Ok((op, false));
        }
        self.check_server_quota(&tags, 1, spec.size.cpus)?;
        let id = self.new_id("srv");
        let mut disks = Vec::new();
        for d in &spec.disks {
            disks.push(Disk {
                id: self.new_id("disk"),
                name: d.name.clone(),
                size_gb: d.size_gb,
            });
        }
        let server = Server {
            id: id.clone(),
            name: spec.name.clone(),
            tags,
            state: ServerState::Building,
            size: spec.size,
            os: spec.os,
            os_disk_gb: spec.os_disk_gb.unwrap_or(standard_os_disk_gb(spec.os)),
            packages: spec.packages.clone(),
            antivirus: spec.antivirus,
            rds_licenses: spec.rds_licenses,
            address: None,
            disks,
            volumes: Vec::new(),
            monitoring: None,
            client_token: token.clone(),
            operation: None,
            created_at: self.now,
        };
        self.world.servers.insert(
            id.clone(),
            ServerRecord {
                server,
                outage: None,
            },
        );
        self.dirty.insert(Key::Server(id.clone()));
        let ms = self.rules.durations.create_server_ms;
        let op = self.start_op(
            Action::CreateServer,
            &id,
            ms,
            Some(token),
            Some(fingerprint),
        );
        self.remember_token(key, &op);
        if !op.state.is_done() {
            self.server_mut(&id)?.server.operation = Some(op.id.clone());
        }
        tracing::info!(server = %id, op = %op.id, "server ordered");
        Ok((op, true))
    }

    /// The operation in progress on a server, when it is of `kind` (a repeated request), or a
    /// conflict when another operation is in progress.
    fn busy_server(
        &self,
        id: &str,
        kind: Option<OperationKind>,
    ) -> ProviderResult<Option<Operation>> {
        let rec = self.world.server(id)?;
        let Some(op_id) = &rec.server.operation else {
            return Ok(None);
        };
        let op = self.world.operation(op_id)?;
        if Some(op.kind) == kind {
            return Ok(Some(op.clone()));
        }
        Err(ProviderError::conflict(format!(
            "server {id} is busy with operation {op_id} ({:?})",
            op.kind
        )))
    }

    fn require_host_up(&self, id: &str) -> ProviderResult<()> {
        let rec = self.world.server(id)?;
        if let Some(o) = rec.outage.as_ref().filter(|o| self.now < o.until) {
            return Err(ProviderError::transient(format!(
                "the host of server {id} is down ({:?} failure) until {}",
                o.layer, o.until
            )));
        }
        Ok(())
    }

    fn require_state(&self, id: &str, want: ServerState, to: &str) -> ProviderResult<()> {
        let state = self.world.server(id)?.server.state;
        if state != want {
            return Err(ProviderError::conflict(format!(
                "server {id} must be {want:?} to {to}; it is {state:?}"
            )));
        }
        Ok(())
    }

    fn server_op(&mut self, id: &str, action: Action, ms: u64) -> ProviderResult<Operation> {
        let op = self.start_op(action, id, ms, None, None);
        if !op.state.is_done() {
            self.server_mut(id)?.server.operation = Some(op.id.clone());
        }
        Ok(op)
    }

    pub(crate) fn start_server(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_server(id, Some(OperationKind::StartServer))? {
            return Ok(op);
        }
        self.require_host_up(id)?;
        self.require_state(id, ServerState::Stopped, "start")?;
        self.server_op(id, Action::StartServer, self.rules.durations.start_ms)
    }

    pub(crate) fn stop_server(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_server(id, Some(OperationKind::StopServer))? {
            return Ok(op);
        }
        self.require_host_up(id)?;
        self.require_state(id, ServerState::Running, "stop")?;
        self.server_op(id, Action::StopServer, self.rules.durations.stop_ms)
    }

    pub(crate) fn resize_server(
        &mut self,
        id: &str,
        size: ServerSize,
    ) -> ProviderResult<Operation> {
        check_size(size)?;
        self.busy_server(id, None)?;
        self.require_host_up(id)?;
        self.require_state(id, ServerState::Stopped, "resize")?;
        let server = &self.world.server(id)?.server;
        let add = size.cpus.saturating_sub(server.size.cpus);
        let tags = server.tags.clone();
        self.check_server_quota(&tags, 0, add)?;
        self.server_op(
            id,
            Action::ResizeServer { size },
            self.rules.durations.resize_ms,
        )
    }

    pub(crate) fn attach_disk(&mut self, id: &str, disk: DiskSpec) -> ProviderResult<Operation> {
        check_disk_name(&disk.name)?;
        check_disk_size("sizeGb", disk.size_gb)?;
        self.busy_server(id, None)?;
        self.require_host_up(id)?;
        self.require_state(id, ServerState::Stopped, "add a disk")?;
        let server = &self.world.server(id)?.server;
        if server.disks.iter().any(|d| d.name == disk.name) {
            return Err(ProviderError::conflict(format!(
                "server {id} already has a disk named `{}`",
                disk.name
            )));
        }
        if server.disks.len() >= 16 {
            return Err(ProviderError::invalid(format!(
                "server {id} already has 16 disks, the most allowed"
            )));
        }
        let disk = Disk {
            id: self.new_id("disk"),
            name: disk.name,
            size_gb: disk.size_gb,
        };
        self.server_op(
            id,
            Action::AttachDisk { disk },
            self.rules.durations.disk_ms,
        )
    }

    pub(crate) fn grow_disk(
        &mut self,
        id: &str,
        name: &str,
        size_gb: u32,
    ) -> ProviderResult<Operation> {
        check_disk_size("sizeGb", size_gb)?;
        self.busy_server(id, None)?;
        self.require_host_up(id)?;
        self.require_state(id, ServerState::Stopped, "grow a disk")?;
        let server = &self.world.server(id)?.server;
        let disk = server
            .disks
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| ProviderError::not_found(format!("server {id} has no disk `{name}`")))?;
        if size_gb <= disk.size_gb {
            return Err(ProviderError::invalid(format!(
                "sizeGb {size_gb} must be larger than the disk's {} GB: disks only grow",
                disk.size_gb
            )));
        }
        let action = Action::GrowDisk {
            name: name.to_string(),
            size_gb,
        };
        self.server_op(id, action, self.rules.durations.disk_ms)
    }

    pub(crate) fn detach_disk(&mut self, id: &str, name: &str) -> ProviderResult<Operation> {
        self.busy_server(id, None)?;
        self.require_host_up(id)?;
        self.require_state(id, ServerState::Stopped, "remove a disk")?;
        if !self
            .world
            .server(id)?
            .server
            .disks
            .iter()
            .any(|d| d.name == name)
        {
            return Err(ProviderError::not_found(format!(
                "server {id} has no disk `{name}`"
            )));
        }
        let action = Action::DetachDisk {
            name: name.to_string(),
        };
        self.server_op(id, action, self.rules.durations.disk_ms)
    }

    pub(crate) fn delete_server(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_server(id, Some(OperationKind::DeleteServer))? {
            return Ok(op);
        }
        self.server_mut(id)?.server.state = ServerState::Deleting;
        self.server_op(
            id,
            Action::DeleteServer,
            self.rules.durations.delete_server_ms,
        )
    }

    pub(crate) fn console(&mut self, id: &str) -> ProviderResult<ConsoleAccess> {
        let state = self.world.server(id)?.server.state;
        if matches!(state, ServerState::Building | ServerState::Deleting) {
            return Err(ProviderError::conflict(format!(
                "server {id} has no console while {state:?}"
            )));
        }
        let session = self.new_id("console");
        Ok(ConsoleAccess {
            url: format!("https://console.sim.invalid/servers/{id}?session={session}"),
            token: session,
            expires_at: after(self.now, 15 * 60 * 1000),
        })
    }

    pub(crate) fn set_monitoring(
        &mut self,
        id: &str,
        settings: MonitoringSettings,
    ) -> ProviderResult<Server> {
        check_monitoring(&settings)?;
        if self.world.server(id)?.server.state == ServerState::Deleting {
            return Err(ProviderError::conflict(format!(
                "server {id} is being deleted"
            )));
        }
        let rec = self.server_mut(id)?;
        rec.server.monitoring = Some(settings);
        Ok(rec.server.clone())
    }

    /// Takes a server down for `duration_ms`.
    pub(crate) fn fail_host(
        &mut self,
        id: &str,
        layer: FailureLayer,
        duration_ms: u64,
    ) -> ProviderResult<ServerHealth> {
        let now = self.now;
        let rec = self.server_mut(id)?;
        rec.outage = Some(Outage {
            layer,
            since: now,
            until: after(now, duration_ms),
        });
        tracing::info!(server = id, ?layer, duration_ms, "host failure injected");
        self.world.health(id, now)
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{CommercialPackage, OperationState};

    use super::*;
    use crate::config::{Durations, Limits, Rules};
    use crate::world::testkit::{server_spec as spec, t0, token};

    #[test]
    fn an_operation_completes_exactly_at_its_due_time() -> ProviderResult<()> {
        let rules = Rules::default();
        let mut world = World::default();
        let (op, new) = Tx::new(&mut world, t0(), &rules).create_server(
            token("a"),
            Tags::new(),
            spec("2CPU-8GB"),
        )?;
        assert!(new);
        let id = op.resource_id.clone();
        assert_eq!(world.next_wake(), Some(after(t0(), 2000)));

        let mut early = Tx::new(&mut world, after(t0(), 1999), &rules);
        assert_eq!(early.complete_due(), 0);
        assert!(early.into_dirty().is_empty());
        assert_eq!(world.server(&id)?.server.state, ServerState::Building);

        let mut due = Tx::new(&mut world, after(t0(), 2000), &rules);
        assert_eq!(due.complete_due(), 1);
        let dirty = due.into_dirty();
        assert!(dirty.contains(&Key::Server(id.clone())));
        assert!(dirty.contains(&Key::Op(op.id.clone())));
        let server = &world.server(&id)?.server;
        assert_eq!(server.state, ServerState::Running);
        assert_eq!(server.operation, None);
        let done = world.operation(&op.id)?;
        assert_eq!(done.state, OperationState::Succeeded);
        assert_eq!(done.finished_at, Some(after(t0(), 2000)));
        assert_eq!(world.next_wake(), None);
        Ok(())
    }

    #[test]
    fn spec_errors_name_the_field_and_the_allowed_values() {
        let mut cases: Vec<(ServerSpec, &str)> = Vec::new();
        cases.push((spec("3CPU-8GB"), "1CPU-2GB, 1CPU-4GB"));
        let mut s = spec("1CPU-2GB");
        s.os = OperatingSystem::WindowsServer;
        s.os_disk_gb = Some(60);
        cases.push((s.clone(), "spec.osDiskGb 60 is below the standard 80 GB"));
        s.os_disk_gb = None;
        s.rds_licenses = Some(25);
        cases.push((
            s.clone(),
            "spec.rdsLicenses 25 is not offered; allowed: 10, 30, 50, 100",
        ));
        let mut s = spec("1CPU-2GB");
        s.packages = vec![CommercialPackage::OracleEe, CommercialPackage::OracleEe];
        cases.push((s, "spec.packages lists OracleEe twice"));
        let mut s = spec("1CPU-2GB");
        s.disks = vec![
            DiskSpec {
                name: "d".into(),
                size_gb: 40,
            },
            DiskSpec {
                name: "d".into(),
                size_gb: 80,
            },
        ];
        cases.push((s.clone(), "disk name `d` is used twice"));
        s.disks[1].size_gb = 50;
        cases.push((
            s.clone(),
            "50 is not on the disk menu; allowed: 40, 80, 100",
        ));
        s.disks[1].name = "Bad_Name".into();
        cases.push((s, "must be a DNS label"));
        let mut s = spec("1CPU-2GB");
        s.name = String::new();
        cases.push((s, "spec.name must be 1 to 253 characters"));

        let rules = Rules::default();
        for (spec, expected) in cases {
            let mut world = World::default();
            let err = Tx::new(&mut world, t0(), &rules)
                .create_server(token("t"), Tags::new(), spec)
                .err();
            let err = err.unwrap_or_else(|| panic!("accepted, expected {expected}"));
            assert_eq!(err.label(), "invalid_request");
            assert!(err.message().contains(expected), "{err} / {expected}");
            assert!(world.servers.is_empty() && world.ops.is_empty());
        }
    }

    #[test]
    fn tenant_quotas_count_only_that_tenants_resources() -> ProviderResult<()> {
        let mut rules = Rules {
            durations: Durations::instant(),
            ..Rules::default()
        };
        rules.quotas.per_tenant.insert(
            "a".into(),
            Limits {
                max_servers: Some(1),
                ..Limits::default()
            },
        );
        let tenant = |t: &str| -> Tags { [("suido.dev/tenant".to_string(), t.to_string())].into() };
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        tx.create_server(token("b1"), tenant("b"), spec("1CPU-2GB"))?;
        tx.create_server(token("n1"), Tags::new(), spec("1CPU-2GB"))?;
        tx.create_server(token("a1"), tenant("a"), spec("1CPU-2GB"))?;
        let err = tx
            .create_server(token("a2"), tenant("a"), spec("1CPU-2GB"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("quota_exceeded: tenant `a` may have at most 1 servers and has 1")
        );
        // A replay of an accepted create is not a new server, so the quota does not apply.
        assert!(
            !tx.create_server(token("a1"), tenant("a"), spec("1CPU-2GB"))?
                .1
        );
        Ok(())
    }
}
