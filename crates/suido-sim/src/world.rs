//! The simulated platform's state and rules: servers, volumes, operations and client tokens,
//! with validation, quotas and the effects of operations. Pure and synchronous; the HTTP layer
//! runs each request as one [`Tx`] under a lock and persists what it changed.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use suido_provider::catalog::{
    DATA_DISK_SIZES_GB, RDS_LICENSE_COUNTS, VOLUME_SIZES_GB, list_text, server_menu_text,
    standard_os_disk_gb,
};
use suido_provider::{
    ClientToken, ConsoleAccess, Disk, DiskSpec, FailureLayer, HealthState, MonitoringSettings,
    OperatingSystem, Operation, OperationKind, OperationState, ProviderError, ProviderResult,
    ResourceMetric, Server, ServerHealth, ServerSize, ServerSpec, ServerState, Tags, Volume,
    VolumeSpec, VolumeState, tags_match,
};

use crate::config::{Limits, Rules};
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

/// What an operation does when it completes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub(crate) enum Action {
    CreateServer,
    StartServer,
    StopServer,
    ResizeServer { size: ServerSize },
    AttachDisk { disk: Disk },
    GrowDisk { name: String, size_gb: u32 },
    DetachDisk { name: String },
    DeleteServer,
    CreateVolume,
    GrowVolume { size_gb: u32 },
    AttachVolume { server_id: String },
    DetachVolume,
    DeleteVolume,
}

impl Action {
    fn kind(&self) -> OperationKind {
        match self {
            Action::CreateServer => OperationKind::CreateServer,
            Action::StartServer => OperationKind::StartServer,
            Action::StopServer => OperationKind::StopServer,
            Action::ResizeServer { .. } => OperationKind::ResizeServer,
            Action::AttachDisk { .. } => OperationKind::AttachDisk,
            Action::GrowDisk { .. } => OperationKind::GrowDisk,
            Action::DetachDisk { .. } => OperationKind::DetachDisk,
            Action::DeleteServer => OperationKind::DeleteServer,
            Action::CreateVolume => OperationKind::CreateVolume,
            Action::GrowVolume { .. } => OperationKind::GrowVolume,
            Action::AttachVolume { .. } => OperationKind::AttachVolume,
            Action::DetachVolume => OperationKind::DetachVolume,
            Action::DeleteVolume => OperationKind::DeleteVolume,
        }
    }
}

/// An operation and what it will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpRecord {
    pub op: Operation,
    pub action: Action,
    pub due: Timestamp,
    /// For creates: the request the client token was first used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// Everything the simulated platform holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct World {
    pub servers: BTreeMap<String, ServerRecord>,
    pub volumes: BTreeMap<String, Volume>,
    pub ops: BTreeMap<String, OpRecord>,
    /// `server:TOKEN` or `volume:TOKEN` to the id of the create operation.
    pub tokens: BTreeMap<String, String>,
    pub next_id: u64,
}

impl World {
    /// When the next running operation is due.
    pub(crate) fn next_due(&self) -> Option<Timestamp> {
        self.ops
            .values()
            .filter(|r| !r.op.state.is_done())
            .map(|r| r.due)
            .min()
    }

    pub(crate) fn server(&self, id: &str) -> ProviderResult<&ServerRecord> {
        self.servers
            .get(id)
            .ok_or_else(|| ProviderError::not_found(format!("server {id} does not exist")))
    }

    pub(crate) fn volume(&self, id: &str) -> ProviderResult<&Volume> {
        self.volumes
            .get(id)
            .ok_or_else(|| ProviderError::not_found(format!("volume {id} does not exist")))
    }

    pub(crate) fn operation(&self, id: &str) -> ProviderResult<&Operation> {
        self.ops
            .get(id)
            .map(|r| &r.op)
            .ok_or_else(|| ProviderError::not_found(format!("operation {id} does not exist")))
    }

    pub(crate) fn list_servers(&self, selector: &Tags) -> Vec<Server> {
        self.servers
            .values()
            .filter(|r| tags_match(&r.server.tags, selector))
            .map(|r| r.server.clone())
            .collect()
    }

    pub(crate) fn list_volumes(&self, selector: &Tags) -> Vec<Volume> {
        self.volumes
            .values()
            .filter(|v| tags_match(&v.tags, selector))
            .cloned()
            .collect()
    }

    pub(crate) fn list_operations(&self) -> Vec<Operation> {
        self.ops.values().map(|r| r.op.clone()).collect()
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

fn after(now: Timestamp, ms: u64) -> Timestamp {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    now.checked_add(SignedDuration::from_millis(ms))
        .unwrap_or(Timestamp::MAX)
}

fn check_name(field: &str, name: &str) -> ProviderResult<()> {
    if name.is_empty() || name.len() > 253 || name.chars().any(char::is_control) {
        return Err(ProviderError::invalid(format!(
            "{field} must be 1 to 253 characters without control characters"
        )));
    }
    Ok(())
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

fn check_volume_size(field: &str, size_gb: u32) -> ProviderResult<()> {
    if !VOLUME_SIZES_GB.contains(&size_gb) {
        return Err(ProviderError::invalid(format!(
            "{field} {size_gb} is not on the block storage menu; allowed: {} (GB)",
            list_text(&VOLUME_SIZES_GB)
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

fn check_tags(tags: &Tags) -> ProviderResult<()> {
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(ProviderError::invalid(format!(
                "tag `{k}`: keys must be 1 to 128 characters and values at most 256"
            )));
        }
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

/// One request's change to the world: records what it touched so that only those records are
/// written.
pub(crate) struct Tx<'a> {
    pub world: &'a mut World,
    pub now: Timestamp,
    rules: &'a Rules,
    dirty: BTreeSet<Key>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(world: &'a mut World, now: Timestamp, rules: &'a Rules) -> Self {
        Tx {
            world,
            now,
            rules,
            dirty: BTreeSet::new(),
        }
    }

    /// The records changed so far.
    pub(crate) fn into_dirty(self) -> BTreeSet<Key> {
        self.dirty
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.world.next_id += 1;
        self.dirty.insert(Key::NextId);
        format!("{prefix}-{:06}", self.world.next_id)
    }

    fn server_mut(&mut self, id: &str) -> ProviderResult<&mut ServerRecord> {
        self.dirty.insert(Key::Server(id.to_string()));
        self.world
            .servers
            .get_mut(id)
            .ok_or_else(|| ProviderError::not_found(format!("server {id} does not exist")))
    }

    fn volume_mut(&mut self, id: &str) -> ProviderResult<&mut Volume> {
        self.dirty.insert(Key::Volume(id.to_string()));
        self.world
            .volumes
            .get_mut(id)
            .ok_or_else(|| ProviderError::not_found(format!("volume {id} does not exist")))
    }

    // ----- quotas -----

    fn tenant_of<'t>(&self, tags: &'t Tags) -> Option<&'t String> {
        tags.get(&self.rules.quotas.tenant_tag)
    }

    /// Scopes whose limits apply to a resource with these tags: global, then its tenant's.
    fn scopes(&self, tags: &Tags) -> Vec<(String, Limits, Option<String>)> {
        let mut scopes = vec![("the platform".to_string(), self.rules.quotas.global, None)];
        if let Some(t) = self.tenant_of(tags)
            && let Some(limits) = self.rules.quotas.per_tenant.get(t)
        {
            scopes.push((format!("tenant `{t}`"), *limits, Some(t.clone())));
        }
        scopes
    }

    fn in_scope(&self, tags: &Tags, tenant: &Option<String>) -> bool {
        tenant
            .as_ref()
            .is_none_or(|t| self.tenant_of(tags) == Some(t))
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

    fn check_volume_quota(&self, tags: &Tags, add_gb: u64) -> ProviderResult<()> {
        for (scope, limits, tenant) in self.scopes(tags) {
            let used: u64 = self
                .world
                .volumes
                .values()
                .filter(|v| self.in_scope(&v.tags, &tenant))
                .map(|v| u64::from(v.size_gb))
                .sum();
            if let Some(max) = limits.max_volume_gb
                && used.saturating_add(add_gb) > max
            {
                return Err(ProviderError::quota(format!(
                    "{scope} may have at most {max} GB of block storage, has {used} and asks for {add_gb} more"
                )));
            }
        }
        Ok(())
    }

    // ----- operations -----

    /// Starts an operation; with a zero duration it completes at once.
    fn start_op(
        &mut self,
        action: Action,
        resource_id: &str,
        duration_ms: u64,
        token: Option<ClientToken>,
        fingerprint: Option<String>,
    ) -> Operation {
        let id = self.new_id("op");
        let op = Operation {
            id: id.clone(),
            kind: action.kind(),
            state: OperationState::Running,
            resource_id: resource_id.to_string(),
            client_token: token,
            created_at: self.now,
            finished_at: None,
        };
        let started = op.clone();
        self.world.ops.insert(
            id.clone(),
            OpRecord {
                op,
                action,
                due: after(self.now, duration_ms),
                fingerprint,
            },
        );
        self.dirty.insert(Key::Op(id.clone()));
        if duration_ms == 0 {
            self.finish(&id);
        }
        self.world
            .ops
            .get(&id)
            .map(|r| r.op.clone())
            .unwrap_or(started)
    }

    /// Completes every running operation due at `now`; returns how many.
    pub(crate) fn complete_due(&mut self) -> usize {
        let due: Vec<String> = self
            .world
            .ops
            .iter()
            .filter(|(_, r)| !r.op.state.is_done() && r.due <= self.now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &due {
            self.finish(id);
        }
        due.len()
    }

    /// Applies an operation's effect and marks it done.
    fn finish(&mut self, op_id: &str) {
        let Some(rec) = self.world.ops.get(op_id) else {
            return;
        };
        let action = rec.action.clone();
        let resource = rec.op.resource_id.clone();
        let result = self.apply(&action, &resource, op_id);
        if let Err(e) = &result {
            tracing::info!(op = op_id, error = %e, "operation failed");
        }
        let now = self.now;
        if let Some(rec) = self.world.ops.get_mut(op_id) {
            rec.op.state = match result {
                Ok(()) => OperationState::Succeeded,
                Err(error) => OperationState::Failed { error },
            };
            rec.op.finished_at = Some(now);
        }
        self.dirty.insert(Key::Op(op_id.to_string()));
    }

    fn release_server(&mut self, id: &str, op_id: &str) {
        if let Ok(rec) = self.server_mut(id)
            && rec.server.operation.as_deref() == Some(op_id)
        {
            rec.server.operation = None;
        }
    }

    fn release_volume(&mut self, id: &str, op_id: &str) {
        if let Ok(v) = self.volume_mut(id)
            && v.operation.as_deref() == Some(op_id)
        {
            v.operation = None;
        }
    }

    fn apply(&mut self, action: &Action, id: &str, op_id: &str) -> ProviderResult<()> {
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
                let rec = self.server_mut(id)?;
                let volumes = std::mem::take(&mut rec.server.volumes);
                self.world.servers.remove(id);
                for v in volumes {
                    if let Ok(vol) = self.volume_mut(&v) {
                        vol.attached_to = None;
                        if vol.state == VolumeState::Attached {
                            vol.state = VolumeState::Available;
                        }
                    }
                }
            }
            Action::CreateVolume => {
                self.volume_mut(id)?.state = VolumeState::Available;
                self.release_volume(id, op_id);
            }
            Action::GrowVolume { size_gb } => {
                self.volume_mut(id)?.size_gb = *size_gb;
                self.release_volume(id, op_id);
            }
            Action::AttachVolume { server_id } => {
                self.volume_mut(id)?;
                self.release_volume(id, op_id);
                let usable = self
                    .world
                    .servers
                    .get(server_id)
                    .is_some_and(|r| r.server.state != ServerState::Deleting);
                if !usable {
                    return Err(ProviderError::not_found(format!(
                        "server {server_id} no longer exists"
                    )));
                }
                let server = self.server_mut(server_id)?;
                if !server.server.volumes.iter().any(|v| v == id) {
                    server.server.volumes.push(id.to_string());
                }
                let vol = self.volume_mut(id)?;
                vol.state = VolumeState::Attached;
                vol.attached_to = Some(server_id.clone());
            }
            Action::DetachVolume => {
                let vol = self.volume_mut(id)?;
                let server = vol.attached_to.take();
                vol.state = VolumeState::Available;
                self.release_volume(id, op_id);
                if let Some(s) = server
                    && let Ok(rec) = self.server_mut(&s)
                {
                    rec.server.volumes.retain(|v| v != id);
                }
            }
            Action::DeleteVolume => {
                self.volume_mut(id)?;
                self.world.volumes.remove(id);
            }
        }
        Ok(())
    }

    // ----- servers -----

    fn replay(
        &self,
        key: &str,
        fingerprint: &str,
        what: &str,
    ) -> ProviderResult<Option<Operation>> {
        let Some(op_id) = self.world.tokens.get(key) else {
            return Ok(None);
        };
        let rec = self
            .world
            .ops
            .get(op_id)
            .ok_or_else(|| ProviderError::transient(format!("operation {op_id} is missing")))?;
        if rec.fingerprint.as_deref() != Some(fingerprint) {
            return Err(ProviderError::conflict(format!(
                "clientToken was already used for a different {what} request (operation {op_id})"
            )));
        }
        Ok(Some(rec.op.clone()))
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
        self.world.tokens.insert(key.clone(), op.id.clone());
        self.dirty.insert(Key::Token(key));
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

    // ----- volumes -----

    pub(crate) fn create_volume(
        &mut self,
        token: ClientToken,
        tags: Tags,
        spec: VolumeSpec,
    ) -> ProviderResult<(Operation, bool)> {
        check_tags(&tags)?;
        check_name("spec.name", &spec.name)?;
        check_volume_size("spec.sizeGb", spec.size_gb)?;
        let fingerprint = serde_json::to_string(&(&tags, &spec))
            .map_err(|e| ProviderError::invalid(e.to_string()))?;
        let key = format!("volume:{token}");
        if let Some(op) = self.replay(&key, &fingerprint, "volume")? {
            return Ok((op, false));
        }
        self.check_volume_quota(&tags, u64::from(spec.size_gb))?;
        let id = self.new_id("vol");
        let volume = Volume {
            id: id.clone(),
            name: spec.name,
            tags,
            state: VolumeState::Creating,
            plan: spec.plan,
            size_gb: spec.size_gb,
            attached_to: None,
            iscsi_target: format!("iqn.2026-01.invalid.sim:{id}"),
            client_token: token.clone(),
            operation: None,
            created_at: self.now,
        };
        self.world.volumes.insert(id.clone(), volume);
        self.dirty.insert(Key::Volume(id.clone()));
        let ms = self.rules.durations.volume_ms;
        let op = self.start_op(
            Action::CreateVolume,
            &id,
            ms,
            Some(token),
            Some(fingerprint),
        );
        self.world.tokens.insert(key.clone(), op.id.clone());
        self.dirty.insert(Key::Token(key));
        if !op.state.is_done() {
            self.volume_mut(&id)?.operation = Some(op.id.clone());
        }
        Ok((op, true))
    }

    fn busy_volume(
        &self,
        id: &str,
        kind: Option<OperationKind>,
    ) -> ProviderResult<Option<Operation>> {
        let vol = self.world.volume(id)?;
        let Some(op_id) = &vol.operation else {
            return Ok(None);
        };
        let op = self.world.operation(op_id)?;
        if Some(op.kind) == kind {
            return Ok(Some(op.clone()));
        }
        Err(ProviderError::conflict(format!(
            "volume {id} is busy with operation {op_id} ({:?})",
            op.kind
        )))
    }

    fn volume_op(&mut self, id: &str, action: Action) -> ProviderResult<Operation> {
        let op = self.start_op(action, id, self.rules.durations.volume_ms, None, None);
        if !op.state.is_done() {
            self.volume_mut(id)?.operation = Some(op.id.clone());
        }
        Ok(op)
    }

    pub(crate) fn grow_volume(&mut self, id: &str, size_gb: u32) -> ProviderResult<Operation> {
        check_volume_size("sizeGb", size_gb)?;
        self.busy_volume(id, None)?;
        let vol = self.world.volume(id)?;
        if vol.state == VolumeState::Deleting {
            return Err(ProviderError::conflict(format!(
                "volume {id} is being deleted"
            )));
        }
        if size_gb <= vol.size_gb {
            return Err(ProviderError::invalid(format!(
                "sizeGb {size_gb} must be larger than the volume's {} GB: volumes only grow",
                vol.size_gb
            )));
        }
        let tags = vol.tags.clone();
        self.check_volume_quota(&tags, u64::from(size_gb - vol.size_gb))?;
        self.volume_op(id, Action::GrowVolume { size_gb })
    }

    pub(crate) fn attach_volume(&mut self, id: &str, server_id: &str) -> ProviderResult<Operation> {
        self.busy_volume(id, None)?;
        let vol = self.world.volume(id)?;
        match (&vol.state, &vol.attached_to) {
            (VolumeState::Available, _) => {}
            (VolumeState::Attached, Some(s)) => {
                return Err(ProviderError::conflict(format!(
                    "volume {id} is already attached to server {s}; detach it first"
                )));
            }
            (state, _) => {
                return Err(ProviderError::conflict(format!(
                    "volume {id} must be Available to attach; it is {state:?}"
                )));
            }
        }
        let server = &self.world.server(server_id)?.server;
        if server.state == ServerState::Deleting {
            return Err(ProviderError::conflict(format!(
                "server {server_id} is being deleted"
            )));
        }
        let action = Action::AttachVolume {
            server_id: server_id.to_string(),
        };
        self.volume_op(id, action)
    }

    pub(crate) fn detach_volume(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_volume(id, Some(OperationKind::DetachVolume))? {
            return Ok(op);
        }
        let vol = self.world.volume(id)?;
        if vol.state != VolumeState::Attached {
            return Err(ProviderError::conflict(format!(
                "volume {id} is not attached; it is {:?}",
                vol.state
            )));
        }
        self.volume_op(id, Action::DetachVolume)
    }

    pub(crate) fn delete_volume(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_volume(id, Some(OperationKind::DeleteVolume))? {
            return Ok(op);
        }
        let vol = self.world.volume(id)?;
        if let Some(s) = &vol.attached_to {
            return Err(ProviderError::conflict(format!(
                "volume {id} is attached to server {s}; detach it first"
            )));
        }
        self.volume_mut(id)?.state = VolumeState::Deleting;
        self.volume_op(id, Action::DeleteVolume)
    }
}

/// The address of a server on the server segment, derived from its id's number.
fn address_for(id: &str) -> String {
    let n: u32 = id
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    format!("10.20.{}.{}", (n / 250) % 256, n % 250 + 4)
}

#[cfg(test)]
mod tests {
    use suido_provider::{Antivirus, CommercialPackage, VolumePlan};

    use super::*;
    use crate::config::Durations;

    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn spec(menu: &str) -> ServerSpec {
        ServerSpec {
            name: "s".into(),
            size: ServerSize::parse(menu).unwrap_or(ServerSize {
                cpus: 0,
                memory_gb: 0,
            }),
            os: OperatingSystem::RockyLinux,
            os_disk_gb: None,
            packages: Vec::new(),
            antivirus: Antivirus::None,
            rds_licenses: None,
            disks: Vec::new(),
        }
    }

    fn token(t: &str) -> ClientToken {
        ClientToken::new(t).unwrap_or_else(|e| panic!("{e}"))
    }

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
        assert_eq!(world.next_due(), Some(after(t0(), 2000)));

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
        assert_eq!(world.next_due(), None);
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
    fn an_attach_to_a_server_deleted_meanwhile_fails_and_leaves_the_volume_available()
    -> ProviderResult<()> {
        let mut rules = Rules {
            durations: Durations::instant(),
            ..Rules::default()
        };
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let server = tx
            .create_server(token("s"), Tags::new(), spec("1CPU-2GB"))?
            .0
            .resource_id;
        let vspec = VolumeSpec {
            name: "v".into(),
            plan: VolumePlan::Iops2PerGb,
            size_gb: 100,
        };
        let vol = tx
            .create_volume(token("v"), Tags::new(), vspec)?
            .0
            .resource_id;

        rules.durations.volume_ms = 1000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let attach = tx.attach_volume(&vol, &server)?;
        tx.delete_server(&server)?;
        let mut later = Tx::new(&mut world, after(t0(), 1000), &rules);
        assert_eq!(later.complete_due(), 1);
        match &world.operation(&attach.id)?.state {
            OperationState::Failed { error } => assert_eq!(error.label(), "not_found"),
            other => panic!("attach ended {other:?}"),
        }
        let v = world.volume(&vol)?;
        assert_eq!(
            (v.state, v.attached_to.clone(), v.operation.clone()),
            (VolumeState::Available, None, None)
        );
        Ok(())
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
