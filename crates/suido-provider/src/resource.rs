//! What the resources of the service families (load balancers, WAF, IDS/IPS, SMTP relays,
//! backup jobs, snapshots) have in common: their lifecycle state.

use serde::{Deserialize, Serialize};

/// Lifecycle state of a load balancer, WAF, IDS/IPS, SMTP relay, backup job or snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceState {
    /// Being built; the create operation is running.
    Creating,
    /// Built, and its spec is in force.
    Available,
    /// A new spec is being applied; the old one is in force until the update ends.
    Updating,
    /// Being deleted.
    Deleting,
    /// Broken; needs the platform's attention.
    Error,
}

impl ResourceState {
    /// Whether the resource is built and not being changed.
    pub fn is_available(self) -> bool {
        self == ResourceState::Available
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_use_their_names_on_the_wire() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_value(ResourceState::Updating)?,
            serde_json::json!("Updating")
        );
        assert!(ResourceState::Available.is_available());
        assert!(!ResourceState::Creating.is_available());
        Ok(())
    }
}
