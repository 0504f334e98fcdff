//! The reconcile kit: small steps every controller shares, kept here so each controller module
//! holds only what is particular to its kind.

use std::future::Future;
use std::time::Duration;

use suido_provider::{Operation, OperationState, ProviderError, ProviderResult};

use crate::context::Context;

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
