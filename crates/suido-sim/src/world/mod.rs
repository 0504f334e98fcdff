//! The simulated platform's state and rules: servers, volumes, the service families, operations
//! and client tokens, with validation, quotas, the effects of operations and the backup
//! scheduler. Pure and synchronous; the HTTP layer runs each request as one [`Tx`] under a lock
//! and persists what it changed, and the background task calls [`Tx::tick`].
//!
//! One module per concern: `ops` (operations), `family` (what the service families share),
//! `servers`, `volumes`, `network` (load balancers), `guards` (WAF, IDS/IPS, SMTP relay),
//! `backups` (jobs and their scheduler), `snapshots`, `restores` and `admin` (changes behind
//! the API's back).

mod admin;
mod backups;
mod checks;
pub(crate) mod family;
mod guards;
mod network;
mod ops;
mod restores;
mod servers;
mod snapshots;
#[cfg(test)]
mod testkit;
mod volumes;

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use suido_provider::{
    Ips, LoadBalancer, Operation, ProviderError, ProviderResult, Restore, SmtpRelay, Snapshot,
    Tags, Volume, Waf,
};

pub(crate) use admin::Traffic;
pub(crate) use backups::{BackupFamily, BackupRecord};
pub(crate) use checks::{address_for, after, check_name, check_tags};
pub(crate) use family::{Family, Kind, with_kind};
pub(crate) use guards::{IpsFamily, SmtpFamily, WafFamily};
pub(crate) use network::LbFamily;
pub(crate) use ops::OpRecord;
pub(crate) use restores::RestoreFamily;
pub(crate) use servers::ServerRecord;
pub(crate) use snapshots::SnapshotFamily;

use crate::config::{Limits, Rules};
use crate::store::Key;

/// Everything the simulated platform holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct World {
    pub servers: BTreeMap<String, ServerRecord>,
    pub volumes: BTreeMap<String, Volume>,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub wafs: BTreeMap<String, Waf>,
    pub ips: BTreeMap<String, Ips>,
    pub smtp_relays: BTreeMap<String, SmtpRelay>,
    pub backup_jobs: BTreeMap<String, BackupRecord>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub restores: BTreeMap<String, Restore>,
    pub ops: BTreeMap<String, OpRecord>,
    /// `<family>:TOKEN` to the id of the create operation.
    pub tokens: BTreeMap<String, String>,
    pub next_id: u64,
    /// How far the platform's clock is ahead of the system clock (set by `/admin/clock`).
    pub clock_offset_ms: i64,
}

impl World {
    /// The platform's time: the system clock plus the admin offset.
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(SignedDuration::from_millis(self.clock_offset_ms))
            .unwrap_or(Timestamp::MAX)
    }

    /// When something is next due: a running operation, a backup run or a merge.
    pub(crate) fn next_wake(&self) -> Option<Timestamp> {
        let ops = self
            .ops
            .values()
            .filter(|r| !r.op.state.is_done())
            .map(|r| r.due);
        ops.chain(self.backup_wakes()).min()
    }

    pub(crate) fn operation(&self, id: &str) -> ProviderResult<&Operation> {
        self.ops
            .get(id)
            .map(|r| &r.op)
            .ok_or_else(|| ProviderError::not_found(format!("operation {id} does not exist")))
    }

    pub(crate) fn list_operations(&self) -> Vec<Operation> {
        self.ops.values().map(|r| r.op.clone()).collect()
    }
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

    /// Everything that is due at `now`: completes the due operations, runs the due backups and
    /// merges. Returns how many operations completed and backups ran.
    pub(crate) fn tick(&mut self) -> usize {
        self.complete_due() + self.run_due_backups()
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.world.next_id += 1;
        self.dirty.insert(Key::NextId);
        format!("{prefix}-{:06}", self.world.next_id)
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

    /// Whether a resource with tags `owner` may refer to one with tags `other`: always, unless
    /// both name a tenant and the tenants differ. A resource another tenant owns is reported as
    /// not existing, so nothing about other tenants leaks.
    fn same_tenant(&self, owner: &Tags, other: &Tags) -> bool {
        match (self.tenant_of(owner), self.tenant_of(other)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    // ----- client tokens -----

    /// The operation of an earlier create with the same token key, if the platform
    /// deduplicates by token; a conflict when the token was used for a different request.
    fn replay(
        &self,
        key: &str,
        fingerprint: &str,
        what: &str,
    ) -> ProviderResult<Option<Operation>> {
        if !self.rules.idempotency_tokens {
            return Ok(None);
        }
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

    /// Records that the create with this token key is `op` (when the platform deduplicates).
    fn remember_token(&mut self, key: String, op: &Operation) {
        if !self.rules.idempotency_tokens {
            return;
        }
        self.world.tokens.insert(key.clone(), op.id.clone());
        self.dirty.insert(Key::Token(key));
    }
}
