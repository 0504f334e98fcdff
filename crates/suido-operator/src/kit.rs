//! The reconcile kit: small steps every controller shares, kept here so each controller module
//! holds only what is particular to its kind.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use suido_api::v1alpha1::Tenant;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_provider::{Operation, OperationState, ProviderError, ProviderResult};

use crate::conditions::{self, Desired};
use crate::context::Context;
use crate::status::HasStatus;

/// Records in `Synced` that reconciliation is paused by `spec.paused` (a write only the first
/// time), leaving everything else of the status as it is.
pub async fn record_paused<K: HasStatus>(
    ctx: &Context,
    api: &Api<K>,
    obj: &mut K,
) -> Result<(), kube::Error> {
    let mut status = obj.status_ref().cloned().unwrap_or_default();
    conditions::set(
        K::conditions(&mut status),
        Desired::new(
            cond::SYNCED,
            false,
            reasons::PAUSED,
            "reconciliation is paused by spec.paused",
        ),
        obj.meta().generation,
        Timestamp::now(),
    );
    ctx.memo.write(api, obj, &status).await.map(|_| ())
}

/// The objects of a cache that live in the namespaces of `tenant`: what a change of the Tenant
/// affects.
pub fn in_tenant_namespaces<K>(store: &Store<K>, tenant: &Tenant) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .iter()
        .filter(|o| {
            o.namespace()
                .is_some_and(|ns| tenant.spec.namespaces.contains(&ns))
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// The outcome of a platform operation: `Ok(Some(resource id))` when it succeeded, `Ok(None)`
/// while it runs, and its error, converted to the controller's, when it failed.
pub fn operation_result<E: From<ProviderError>>(op: &Operation) -> Result<Option<&str>, E> {
    match &op.state {
        OperationState::Succeeded => Ok(Some(op.resource_id.as_str())),
        OperationState::Failed { error } => Err(error.clone().into()),
        OperationState::Pending | OperationState::Running => Ok(None),
    }
}

/// Polls `get` until the platform answers NotFound (`Ok(true)`), or until `ctx.timing.delete_wait`
/// has passed (`Ok(false)`: still there, look again later). Other errors are returned.
pub async fn wait_until_gone<T, F, Fut>(ctx: &Context, mut get: F) -> ProviderResult<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ProviderResult<T>>,
{
    let deadline = tokio::time::Instant::now() + ctx.timing.delete_wait;
    loop {
        match get().await {
            Err(ProviderError::NotFound { .. }) => return Ok(true),
            Err(e) => return Err(e),
            Ok(_) if tokio::time::Instant::now() >= deadline => return Ok(false),
            Ok(_) => tokio::time::sleep(ctx.timing.poll.min(Duration::from_millis(200))).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use suido_provider::OperationKind;

    fn op(state: OperationState) -> Operation {
        Operation {
            id: "op-1".into(),
            kind: OperationKind::CreateServer,
            state,
            resource_id: "srv-1".into(),
            client_token: None,
            created_at: Timestamp::UNIX_EPOCH,
            finished_at: None,
        }
    }

    #[test]
    fn operations_map_to_done_running_or_the_error() {
        let done = op(OperationState::Succeeded);
        assert_eq!(operation_result::<ProviderError>(&done), Ok(Some("srv-1")));
        let running = op(OperationState::Running);
        assert_eq!(operation_result::<ProviderError>(&running), Ok(None));
        let failed = op(OperationState::Failed {
            error: ProviderError::quota("max 10 servers"),
        });
        assert!(
            operation_result::<ProviderError>(&failed)
                .unwrap_err()
                .is_terminal()
        );
    }
}
