//! The ServerRestore's reconcile, over [`Side`] (the platform's restores, status writes and
//! Events) so that it is tested against a fake.
//!
//! A restore is ordered at most once: every reconcile first looks the restore up, by the id in
//! `status.operationId` or by the object's uid tag; only when there is none is the `Pending`
//! marker (with the source it is about to use in `restoredFrom`) written and the create sent,
//! under a client token derived from the uid. A crash after the create is found by tag; a
//! create whose answer was lost is answered with the first one by the token. Once `Succeeded` or
//! `Failed`, nothing more is written.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use suido_api::v1alpha1::conditions::reasons;
use suido_api::v1alpha1::{
    BackupPolicy, ServerRestore, ServerRestoreStatus, ServerSnapshot, Tenant, VirtualServer,
};
use suido_provider::{
    ClientToken, Operation, ProviderError, ProviderResult, Restore, RestoreSpec, Tags, TerminalKind,
};

use super::KIND;
use super::steps::{self, Blocked, Objects, Seen};
use crate::context::Timing;
use crate::identity;
use crate::managed::Error;
use crate::tenancy::{self, Owner};

/// The outside world of a restore's reconcile.
#[async_trait]
pub trait Side: Send + Sync {
    /// One restore by id.
    async fn get(&self, id: &str) -> ProviderResult<Restore>;
    /// The restores carrying every tag of `selector`.
    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Restore>>;
    /// Orders a restore.
    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &RestoreSpec,
    ) -> ProviderResult<Operation>;
    /// Whether the platform has the server `id`.
    async fn server_exists(&self, id: &str) -> ProviderResult<bool>;
    /// Removes a finished restore's record.
    async fn delete(&self, id: &str) -> ProviderResult<Operation>;
    /// Writes `status` when it differs from `obj`'s, and updates `obj`. Returns whether it wrote.
    async fn write_status(
        &self,
        obj: &mut ServerRestore,
        status: &ServerRestoreStatus,
    ) -> Result<bool, kube::Error>;
    /// Publishes an Event about `obj` (best effort).
    async fn event(&self, obj: &ServerRestore, warning: bool, reason: &str, note: String);
}

/// What a reconcile reads besides the object: the caches, and the timing knobs.
pub struct Env<'a> {
    /// Every Tenant.
    pub tenants: &'a [Arc<Tenant>],
    /// Every VirtualServer.
    pub servers: &'a [Arc<VirtualServer>],
    /// Every BackupPolicy.
    pub policies: &'a [Arc<BackupPolicy>],
    /// Every ServerSnapshot.
    pub snapshots: &'a [Arc<ServerSnapshot>],
    /// Timing knobs.
    pub timing: &'a Timing,
}

/// The restore an object has ordered.
enum Found {
    /// On the platform.
    Restore(Box<Restore>),
    /// `status.operationId` names a restore the platform no longer has.
    Vanished(String),
    /// None ordered.
    Absent,
}

async fn find(obj: &ServerRestore, side: &dyn Side) -> Result<Found, Error> {
    if let Some(id) = obj.status.as_ref().and_then(|s| s.operation_id.clone()) {
        return match side.get(&id).await {
            Ok(r) => Ok(Found::Restore(Box::new(r))),
            Err(ProviderError::NotFound { .. }) => Ok(Found::Vanished(id)),
            Err(e) => Err(e.into()),
        };
    }
    let uid = obj.uid().unwrap_or_default();
    let mut found = side.list(&identity::selector(&uid)).await?;
    found.sort_by_key(|r| r.created_at);
    Ok(found
        .into_iter()
        .next()
        .map_or(Found::Absent, |r| Found::Restore(Box::new(r))))
}

/// When to look at a platform restore again.
fn follow(restore: &Restore, timing: &Timing) -> Action {
    if restore.state.is_done() {
        Action::await_change()
    } else {
        Action::requeue(timing.poll)
    }
}

/// When to look again at a restore that cannot be ordered: on a change of what it waits for
/// (the watches), with the drift interval as a fallback; never for a refused one.
fn after_block(blocked: &Blocked, timing: &Timing) -> Action {
    match blocked {
        Blocked::Waiting { .. } => Action::requeue(timing.drift),
        Blocked::Refused { .. } => Action::await_change(),
    }
}

/// The status it should have now, and when to look again.
async fn converge(
    obj: &mut ServerRestore,
    env: &Env<'_>,
    side: &dyn Side,
) -> Result<(ServerRestoreStatus, Action), Error> {
    let now = Timestamp::now();
    let blocked = |obj: &ServerRestore, b: Blocked| {
        let action = after_block(&b, env.timing);
        (steps::desired_status(obj, Seen::Blocked(&b), now), action)
    };
    match find(obj, side).await? {
        Found::Restore(r) => {
            return Ok((
                steps::desired_status(obj, Seen::Platform(&r), now),
                follow(&r, env.timing),
            ));
        }
        Found::Vanished(id) => {
            return Ok(blocked(
                obj,
                Blocked::Refused {
                    reason: reasons::FAILED,
                    message: format!(
                        "the platform has no record of restore {id} any more (removed outside Suido); whether it ran is unknown"
                    ),
                },
            ));
        }
        Found::Absent => {}
    }
    let namespace = obj.namespace().unwrap_or_default();
    let tenant = match tenancy::owner(env.tenants, &namespace) {
        Owner::Tenant(t) => t.name_any(),
        Owner::None => {
            return Ok(blocked(
                obj,
                Blocked::Waiting {
                    reason: reasons::NO_TENANT,
                    message: Error::NoTenant(namespace).to_string(),
                },
            ));
        }
    };
    let objects = Objects {
        servers: env.servers,
        policies: env.policies,
        snapshots: env.snapshots,
    };
    let resolved = match steps::resolve(obj, &objects) {
        Ok(r) => r,
        Err(b) => return Ok(blocked(obj, b)),
    };
    if !side.server_exists(&resolved.spec.server_id).await? {
        // A system restore replaced it a moment ago and the VirtualServer has not followed.
        return Ok(blocked(
            obj,
            Blocked::Waiting {
                reason: reasons::REFERENCE_NOT_READY,
                message: format!(
                    "VirtualServer {} names server {}, which the platform no longer has; waiting for it to follow its server",
                    obj.spec.server_name, resolved.spec.server_id
                ),
            },
        ));
    }
    // The marker first: a crash from here on leaves `Pending` with the source it chose, and the
    // next reconcile finds the restore by tag before it would order one.
    let marker = steps::desired_status(obj, Seen::Ordering(&resolved), now);
    side.write_status(obj, &marker).await?;
    let uid = obj.uid().unwrap_or_default();
    let token = identity::client_token(KIND, &uid, None)?;
    let tags = identity::tags(KIND, &namespace, &obj.name_any(), &uid, &tenant);
    let op = match side.create(&token, &tags, &resolved.spec).await {
        Ok(op) => op,
        Err(ProviderError::Terminal {
            kind: TerminalKind::FailedPrecondition,
            message,
        }) => {
            // The server is not in the state the restore needs (a data restore needs it
            // running): wait for it (the VirtualServer watch), do not fail.
            return Ok(blocked(
                obj,
                Blocked::Waiting {
                    reason: reasons::REFERENCE_NOT_READY,
                    message: format!("the platform cannot start the restore yet: {message}"),
                },
            ));
        }
        Err(ProviderError::Terminal { message, .. }) => {
            return Ok(blocked(
                obj,
                Blocked::Refused {
                    reason: reasons::INVALID_SPEC,
                    message: format!("the platform refused the restore: {message}"),
                },
            ));
        }
        Err(e) => return Err(e.into()),
    };
    side.event(
        obj,
        false,
        "Restoring",
        format!(
            "ordering the {} of VirtualServer {} from {}",
            steps::noun(obj),
            obj.spec.server_name,
            resolved.label
        ),
    )
    .await;
    let restore = side.get(&op.resource_id).await?;
    Ok((
        steps::desired_status(obj, Seen::Platform(&restore), now),
        follow(&restore, env.timing),
    ))
}

/// The Apply half of the finalizer: nothing once the restore has ended; otherwise converge,
/// write the status if it changed, and announce the end of the restore once.
pub async fn apply(
    obj: &mut ServerRestore,
    env: &Env<'_>,
    side: &dyn Side,
) -> Result<Action, Error> {
    if steps::is_done(obj) {
        return Ok(Action::await_change());
    }
    let before = obj.status.as_ref().and_then(|s| s.phase);
    match converge(obj, env, side).await {
        Ok((status, action)) => {
            if side.write_status(obj, &status).await?
                && let Some(a) = steps::announce(before, &status)
            {
                side.event(obj, a.warning, a.reason, a.message).await;
            }
            Ok(action)
        }
        Err(error) => {
            let status = steps::failed_status(obj, &error, Timestamp::now());
            if let Err(write) = side.write_status(obj, &status).await {
                tracing::warn!(error = %write, "could not record the error in status");
            }
            Err(error)
        }
    }
}

/// The Cleanup half: remove the platform's record of the restore once it has ended (a running
/// restore cannot be cancelled, so the object waits for its end).
pub async fn cleanup(obj: &ServerRestore, side: &dyn Side) -> Result<Action, Error> {
    match find(obj, side).await? {
        Found::Absent | Found::Vanished(_) => Ok(Action::await_change()),
        Found::Restore(r) if !r.state.is_done() => Err(Error::Pending(format!(
            "restore {} is still running; a restore cannot be cancelled, its record is removed once it ends",
            r.id
        ))),
        Found::Restore(r) => match side.delete(&r.id).await {
            Ok(_) | Err(ProviderError::NotFound { .. }) => Ok(Action::await_change()),
            Err(e) => Err(e.into()),
        },
    }
}
