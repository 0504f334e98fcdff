//! What the service families (load balancers, WAF, IDS/IPS, SMTP relays, backup jobs,
//! snapshots, restores) share: their names, their tables, and the generic create (idempotent
//! by client token, with quotas), update, delete, get and list.
//!
//! Each family is a [`Kind`]; [`with_kind!`] turns a [`Family`] value into its `Kind` type for
//! the code (store, routes, operations) that only knows the family at run time.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use suido_provider::{
    ClientToken, OperationKind, ProviderError, ProviderResult, ResourceState, Tags, tags_match,
};
use suido_provider::{Operation, Restore};

use super::ops::Action;
use super::{Tx, World, check_tags};
use crate::config::{Limits, Rules};
use crate::store::Key;

/// A service family.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub(crate) enum Family {
    LoadBalancer,
    Waf,
    Ips,
    SmtpRelay,
    BackupJob,
    Snapshot,
    Restore,
}

impl Family {
    /// Every family.
    pub(crate) const ALL: [Family; 7] = [
        Family::LoadBalancer,
        Family::Waf,
        Family::Ips,
        Family::SmtpRelay,
        Family::BackupJob,
        Family::Snapshot,
        Family::Restore,
    ];

    /// The key prefix of its records and client tokens in the database.
    pub(crate) fn store_prefix(self) -> &'static str {
        match self {
            Family::LoadBalancer => "loadBalancer",
            Family::Waf => "waf",
            Family::Ips => "ips",
            Family::SmtpRelay => "smtpRelay",
            Family::BackupJob => "backupJob",
            Family::Snapshot => "snapshot",
            Family::Restore => "restore",
        }
    }

    /// The family whose records have this key prefix.
    pub(crate) fn from_store_prefix(prefix: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.store_prefix() == prefix)
    }

    /// Its path segment under `/v1`.
    pub(crate) fn route(self) -> &'static str {
        match self {
            Family::LoadBalancer => "load-balancers",
            Family::Waf => "wafs",
            Family::Ips => "ips",
            Family::SmtpRelay => "smtp-relays",
            Family::BackupJob => "backup-jobs",
            Family::Snapshot => "snapshots",
            Family::Restore => "restores",
        }
    }

    /// The family routed under this path segment.
    pub(crate) fn from_route(route: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.route() == route)
    }

    /// The prefix of its ids (`lb-000001`).
    pub(crate) fn id_prefix(self) -> &'static str {
        match self {
            Family::LoadBalancer => "lb",
            Family::Waf => "waf",
            Family::Ips => "ips",
            Family::SmtpRelay => "smtp",
            Family::BackupJob => "bkj",
            Family::Snapshot => "snap",
            Family::Restore => "rst",
        }
    }

    /// What one of them is called in messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Family::LoadBalancer => "load balancer",
            Family::Waf => "WAF",
            Family::Ips => "IDS/IPS",
            Family::SmtpRelay => "SMTP relay",
            Family::BackupJob => "backup job",
            Family::Snapshot => "snapshot",
            Family::Restore => "restore",
        }
    }

    pub(crate) fn create_kind(self) -> OperationKind {
        match self {
            Family::LoadBalancer => OperationKind::CreateLoadBalancer,
            Family::Waf => OperationKind::CreateWaf,
            Family::Ips => OperationKind::CreateIps,
            Family::SmtpRelay => OperationKind::CreateSmtpRelay,
            Family::BackupJob => OperationKind::CreateBackupJob,
            Family::Snapshot => OperationKind::CreateSnapshot,
            Family::Restore => OperationKind::CreateRestore,
        }
    }

    pub(crate) fn delete_kind(self) -> OperationKind {
        match self {
            Family::LoadBalancer => OperationKind::DeleteLoadBalancer,
            Family::Waf => OperationKind::DeleteWaf,
            Family::Ips => OperationKind::DeleteIps,
            Family::SmtpRelay => OperationKind::DeleteSmtpRelay,
            Family::BackupJob => OperationKind::DeleteBackupJob,
            Family::Snapshot => OperationKind::DeleteSnapshot,
            Family::Restore => OperationKind::DeleteRestore,
        }
    }

    /// How long its creates, updates and deletes take.
    pub(crate) fn duration_ms(self, rules: &Rules) -> u64 {
        let d = &rules.service_durations;
        match self {
            Family::Snapshot => d.snapshot_ms,
            Family::Restore => d.restore_ms,
            _ => d.service_ms,
        }
    }

    /// Whether its resources can be updated (snapshots and restores cannot).
    pub(crate) fn has_update(self) -> bool {
        !matches!(self, Family::Snapshot | Family::Restore)
    }

    /// Its count limit in `limits`.
    pub(crate) fn limit(self, limits: &Limits) -> Option<u32> {
        match self {
            Family::LoadBalancer => limits.max_load_balancers,
            Family::Waf => limits.max_wafs,
            Family::Ips => limits.max_ips,
            Family::SmtpRelay => limits.max_smtp_relays,
            Family::BackupJob => limits.max_backup_jobs,
            Family::Snapshot => limits.max_snapshots,
            Family::Restore => None,
        }
    }
}

/// The fields every stored record of a family has.
pub(crate) trait Common {
    fn tags(&self) -> &Tags;
    fn operation(&self) -> Option<&String>;
    fn operation_mut(&mut self) -> &mut Option<String>;
    /// The lifecycle state, for the families that have a [`ResourceState`].
    fn state(&self) -> Option<ResourceState>;
    fn set_state(&mut self, state: ResourceState);
}

/// Implements [`Common`] for a record whose fields sit at `self` or at `self.$inner`.
macro_rules! common {
    ($t:ty $(, $inner:ident)?) => {
        impl $crate::world::family::Common for $t {
            fn tags(&self) -> &suido_provider::Tags {
                &self$(.$inner)?.tags
            }
            fn operation(&self) -> Option<&String> {
                self$(.$inner)?.operation.as_ref()
            }
            fn operation_mut(&mut self) -> &mut Option<String> {
                &mut self$(.$inner)?.operation
            }
            fn state(&self) -> Option<suido_provider::ResourceState> {
                Some(self$(.$inner)?.state)
            }
            fn set_state(&mut self, state: suido_provider::ResourceState) {
                self$(.$inner)?.state = state;
            }
        }
    };
}
pub(crate) use common;

impl Common for Restore {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn operation(&self) -> Option<&String> {
        self.operation.as_ref()
    }
    fn operation_mut(&mut self) -> &mut Option<String> {
        &mut self.operation
    }
    fn state(&self) -> Option<ResourceState> {
        None
    }
    fn set_state(&mut self, _state: ResourceState) {}
}

/// One family: its types, its table in the world, and its rules.
pub(crate) trait Kind {
    const FAMILY: Family;
    /// What a create or update carries.
    type Spec: Clone + Serialize + DeserializeOwned;
    /// What the database keeps.
    type Record: Common + Clone + Serialize + DeserializeOwned;
    /// What the API answers.
    type Resource: Serialize;

    fn table(world: &World) -> &BTreeMap<String, Self::Record>;
    fn table_mut(world: &mut World) -> &mut BTreeMap<String, Self::Record>;

    /// Checks a spec; `id` is the resource updated, absent for a create.
    fn validate(
        tx: &Tx<'_>,
        tags: &Tags,
        spec: &Self::Spec,
        id: Option<&str>,
    ) -> ProviderResult<()>;

    /// The new record of an accepted create.
    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: Self::Spec,
    ) -> ProviderResult<Self::Record>;

    /// Called once a create's operation has started (and, with a zero duration, ended): a
    /// snapshot or a restore holds its server busy.
    fn started(_tx: &mut Tx<'_>, _id: &str, _op: &Operation) -> ProviderResult<()> {
        Ok(())
    }

    /// Refuses a delete the family does not allow now.
    fn check_delete(_tx: &Tx<'_>, _id: &str) -> ProviderResult<()> {
        Ok(())
    }

    /// The action of an update to `spec`; `None` for families without updates.
    fn update_action(spec: Self::Spec) -> Option<Action>;

    /// A record as the API shows it at `now`.
    fn present(world: &World, record: &Self::Record, now: jiff::Timestamp) -> Self::Resource;
}

/// Runs `$body` with `$k` naming the [`Kind`] type of `$family`.
macro_rules! with_kind {
    ($family:expr, $k:ident => $body:expr) => {
        match $family {
            $crate::world::family::Family::LoadBalancer => {
                type $k = $crate::world::LbFamily;
                $body
            }
            $crate::world::family::Family::Waf => {
                type $k = $crate::world::WafFamily;
                $body
            }
            $crate::world::family::Family::Ips => {
                type $k = $crate::world::IpsFamily;
                $body
            }
            $crate::world::family::Family::SmtpRelay => {
                type $k = $crate::world::SmtpFamily;
                $body
            }
            $crate::world::family::Family::BackupJob => {
                type $k = $crate::world::BackupFamily;
                $body
            }
            $crate::world::family::Family::Snapshot => {
                type $k = $crate::world::SnapshotFamily;
                $body
            }
            $crate::world::family::Family::Restore => {
                type $k = $crate::world::RestoreFamily;
                $body
            }
        }
    };
}
pub(crate) use with_kind;

impl World {
    /// One record of a family.
    pub(crate) fn record<K: Kind>(&self, id: &str) -> ProviderResult<&K::Record> {
        K::table(self).get(id).ok_or_else(|| {
            ProviderError::not_found(format!("{} {id} does not exist", K::FAMILY.noun()))
        })
    }

    /// One resource of a family, as the API shows it.
    pub(crate) fn get<K: Kind>(
        &self,
        id: &str,
        now: jiff::Timestamp,
    ) -> ProviderResult<K::Resource> {
        Ok(K::present(self, self.record::<K>(id)?, now))
    }

    /// The resources of a family carrying every pair of `selector`.
    pub(crate) fn list<K: Kind>(&self, selector: &Tags, now: jiff::Timestamp) -> Vec<K::Resource> {
        K::table(self)
            .values()
            .filter(|r| tags_match(r.tags(), selector))
            .map(|r| K::present(self, r, now))
            .collect()
    }
}

impl Tx<'_> {
    /// A record of a family, to change (and so to write).
    pub(crate) fn record_mut<K: Kind>(&mut self, id: &str) -> ProviderResult<&mut K::Record> {
        self.dirty.insert(Key::Record(K::FAMILY, id.to_string()));
        K::table_mut(self.world).get_mut(id).ok_or_else(|| {
            ProviderError::not_found(format!("{} {id} does not exist", K::FAMILY.noun()))
        })
    }

    fn check_count_quota(
        &self,
        family: Family,
        count: impl Fn(&World, &Option<String>) -> usize,
        tags: &Tags,
    ) -> ProviderResult<()> {
        for (scope, limits, tenant) in self.scopes(tags) {
            let Some(max) = family.limit(&limits) else {
                continue;
            };
            let have = u32::try_from(count(self.world, &tenant)).unwrap_or(u32::MAX);
            if have.saturating_add(1) > max {
                return Err(ProviderError::quota(format!(
                    "{scope} may have at most {max} {}s and has {have}",
                    family.noun()
                )));
            }
        }
        Ok(())
    }

    /// The operation in progress on a record, when it is of `kind` (a repeated request), or a
    /// conflict when another one is in progress.
    pub(crate) fn busy<K: Kind>(
        &self,
        id: &str,
        kind: Option<OperationKind>,
    ) -> ProviderResult<Option<Operation>> {
        let rec = self.world.record::<K>(id)?;
        let Some(op_id) = rec.operation() else {
            return Ok(None);
        };
        let op = self.world.operation(op_id)?;
        if Some(op.kind) == kind {
            return Ok(Some(op.clone()));
        }
        Err(ProviderError::conflict(format!(
            "{} {id} is busy with operation {op_id} ({:?})",
            K::FAMILY.noun(),
            op.kind
        )))
    }

    /// Creates a resource of a family; returns the operation and whether it is new (false: a
    /// replay of the same client token).
    pub(crate) fn create<K: Kind>(
        &mut self,
        token: ClientToken,
        tags: Tags,
        spec: K::Spec,
    ) -> ProviderResult<(Operation, bool)> {
        let family = K::FAMILY;
        check_tags(&tags)?;
        let fingerprint = serde_json::to_string(&(&tags, &spec))
            .map_err(|e| ProviderError::invalid(e.to_string()))?;
        let key = format!("{}:{token}", family.store_prefix());
        // A replay first: the checks against the rest of the platform (a VRRP group in use, a
        // server that must be stopped) would otherwise refuse what the first create made.
        if let Some(op) = self.replay(&key, &fingerprint, family.noun())? {
            return Ok((op, false));
        }
        K::validate(self, &tags, &spec, None)?;
        let in_scope = |w: &World, tenant: &Option<String>| {
            K::table(w)
                .values()
                .filter(|r| self.in_scope(r.tags(), tenant))
                .count()
        };
        self.check_count_quota(family, in_scope, &tags)?;
        let id = self.new_id(family.id_prefix());
        let record = K::build(self, &id, token.clone(), tags, spec)?;
        K::table_mut(self.world).insert(id.clone(), record);
        self.dirty.insert(Key::Record(family, id.clone()));
        let op = self.start_op(
            Action::Create { family },
            &id,
            family.duration_ms(self.rules),
            Some(token),
            Some(fingerprint),
        );
        self.remember_token(key, &op);
        if !op.state.is_done() {
            *self.record_mut::<K>(&id)?.operation_mut() = Some(op.id.clone());
        }
        K::started(self, &id, &op)?;
        tracing::info!(family = family.noun(), id = %id, op = %op.id, "resource ordered");
        Ok((op, true))
    }

    /// Applies a whole new spec to a resource of a family.
    pub(crate) fn update<K: Kind>(&mut self, id: &str, spec: K::Spec) -> ProviderResult<Operation> {
        let family = K::FAMILY;
        self.busy::<K>(id, None)?;
        let rec = self.world.record::<K>(id)?;
        if rec.state() == Some(ResourceState::Deleting) {
            return Err(ProviderError::conflict(format!(
                "{} {id} is being deleted",
                family.noun()
            )));
        }
        let tags = rec.tags().clone();
        K::validate(self, &tags, &spec, Some(id))?;
        let action = K::update_action(spec).ok_or_else(|| {
            ProviderError::invalid(format!("a {} cannot be updated", family.noun()))
        })?;
        self.record_mut::<K>(id)?.set_state(ResourceState::Updating);
        let ms = family.duration_ms(self.rules);
        self.family_op::<K>(id, action, ms)
    }

    /// Deletes a resource of a family. Asking again while it is being deleted returns the
    /// delete in progress.
    pub(crate) fn delete<K: Kind>(&mut self, id: &str) -> ProviderResult<Operation> {
        let family = K::FAMILY;
        if let Some(op) = self.busy::<K>(id, Some(family.delete_kind()))? {
            return Ok(op);
        }
        K::check_delete(self, id)?;
        self.record_mut::<K>(id)?.set_state(ResourceState::Deleting);
        // Removing the record of a finished restore takes no time.
        let ms = match family {
            Family::Restore => 0,
            _ => family.duration_ms(self.rules),
        };
        self.family_op::<K>(id, Action::Delete { family }, ms)
    }

    /// Starts an operation on a record and marks the record busy with it.
    fn family_op<K: Kind>(
        &mut self,
        id: &str,
        action: Action,
        ms: u64,
    ) -> ProviderResult<Operation> {
        let op = self.start_op(action, id, ms, None, None);
        if !op.state.is_done() {
            *self.record_mut::<K>(id)?.operation_mut() = Some(op.id.clone());
        }
        Ok(op)
    }

    /// Clears the record's operation when it is `op_id`.
    pub(crate) fn release<K: Kind>(&mut self, id: &str, op_id: &str) {
        if let Ok(rec) = self.record_mut::<K>(id)
            && rec.operation().map(String::as_str) == Some(op_id)
        {
            *rec.operation_mut() = None;
        }
    }

    /// Marks a record of a family available again after its create or update.
    pub(crate) fn settle<K: Kind>(&mut self, id: &str, op_id: &str) -> ProviderResult<()> {
        self.record_mut::<K>(id)?
            .set_state(ResourceState::Available);
        self.release::<K>(id, op_id);
        Ok(())
    }

    /// Removes a record of a family at once.
    pub(crate) fn remove<K: Kind>(&mut self, id: &str) -> ProviderResult<K::Record> {
        self.dirty.insert(Key::Record(K::FAMILY, id.to_string()));
        K::table_mut(self.world).remove(id).ok_or_else(|| {
            ProviderError::not_found(format!("{} {id} does not exist", K::FAMILY.noun()))
        })
    }
}
