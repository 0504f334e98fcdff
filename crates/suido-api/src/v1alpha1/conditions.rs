//! Condition types and reasons used in the status of Suido kinds. They are part of the API:
//! tenants and tools (`kubectl wait --for=condition=Ready`) depend on them, so they are stable.

/// The resource exists on the platform and matches the spec.
pub const READY: &str = "Ready";
/// The last reconcile reached the platform without error.
pub const SYNCED: &str = "Synced";
/// A spec change needs the server stopped and waits for it (VirtualServer).
pub const RESTART_REQUIRED: &str = "RestartRequired";
/// The volume is attached to its server (BlockVolume), or the server has volumes (VirtualServer).
pub const ATTACHED: &str = "Attached";
/// The spec breaks a rule of the tenant that owns the namespace.
pub const TENANT_POLICY: &str = "TenantPolicy";
/// The objects this one refers to (servers, secrets, policies) resolve in its namespace.
pub const REFERENCES_RESOLVED: &str = "ReferencesResolved";
/// A Tenant's deletion waits for the objects in its namespaces (Tenant).
pub const DELETING: &str = "Deleting";
/// Work toward the spec is under way (kstatus: InProgress). Present only while true.
pub const RECONCILING: &str = "Reconciling";
/// Suido cannot go on until the spec or the platform changes (kstatus: Failed). Present only
/// while true.
pub const STALLED: &str = "Stalled";

/// Stable condition reasons.
pub mod reasons {
    /// The platform resource is up to date.
    pub const AVAILABLE: &str = "Available";
    /// The platform is still building or changing the resource.
    pub const PROVISIONING: &str = "Provisioning";
    /// The reconcile succeeded.
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    /// The reconcile failed with a transient error and will be retried.
    pub const RECONCILE_ERROR: &str = "ReconcileError";
    /// The spec cannot be carried out until the user changes it.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A vendor-only feature was asked for in an operator tenant.
    pub const VENDOR_ONLY: &str = "VendorOnlyFeature";
    /// The namespace belongs to no Tenant.
    pub const NO_TENANT: &str = "NoTenant";
    /// Reconciliation is paused by `spec.paused`.
    pub const PAUSED: &str = "Paused";
    /// Only observing (`managementPolicy: ObserveOnly`).
    pub const OBSERVE_ONLY: &str = "ObserveOnly";
    /// A change waits for the next maintenance window.
    pub const WAITING_FOR_MAINTENANCE: &str = "WaitingForMaintenanceWindow";
    /// A change waits for the tenant to stop the server.
    pub const WAITING_FOR_STOP: &str = "WaitingForStop";
    /// The server is powered off as asked.
    pub const STOPPED: &str = "Stopped";
    /// The volume is attached.
    pub const ATTACHED: &str = "Attached";
    /// The volume waits for its VirtualServer to be built before it is attached.
    pub const WAITING_FOR_SERVER: &str = "WaitingForServer";
    /// The volume is not attached to any server.
    pub const DETACHED: &str = "Detached";
    /// Deletion is refused by `spec.deletionProtection`.
    pub const DELETION_PROTECTED: &str = "DeletionProtected";
    /// The built platform resource is gone from the platform; a replacement is ordered.
    pub const LOST: &str = "Lost";
    /// `Reconciling`: the resource runs, but changes of the spec wait (for a window or a stop).
    pub const CHANGES_PENDING: &str = "ChangesPending";
    /// `spec.externalId` names no resource this tenant may adopt.
    pub const ADOPTION_REFUSED: &str = "AdoptionRefused";
    /// Another object already manages the resource `spec.externalId` names.
    pub const ALREADY_MANAGED: &str = "AlreadyManaged";
    /// `spec.externalId` was added, changed or removed after the resource was built or adopted.
    pub const EXTERNAL_ID_CHANGED: &str = "ExternalIdChanged";
    /// A reference names an object that does not exist in this namespace.
    pub const REFERENCE_NOT_FOUND: &str = "ReferenceNotFound";
    /// A reference points outside this object's namespace, which is not allowed.
    pub const CROSS_NAMESPACE_REFERENCE: &str = "CrossNamespaceReference";
    /// A referenced object exists but is not ready for use yet.
    pub const REFERENCE_NOT_READY: &str = "ReferenceNotReady";
    /// Every reference resolves.
    pub const RESOLVED: &str = "Resolved";
    /// A namespace is already owned by an earlier Tenant.
    pub const NAMESPACE_CONFLICT: &str = "NamespaceConflict";
    /// Managed objects remain in the Tenant's namespaces.
    pub const OBJECTS_REMAIN: &str = "ObjectsRemain";
    /// A one-shot operation (snapshot, restore) finished.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A one-shot operation (snapshot, restore) failed and is not retried.
    pub const FAILED: &str = "Failed";
    /// The platform is carrying a one-shot operation out.
    pub const IN_PROGRESS: &str = "InProgress";
    /// A maintenance window has not started.
    pub const SCHEDULED: &str = "Scheduled";
    /// A maintenance window is over.
    pub const COMPLETED: &str = "Completed";
}
