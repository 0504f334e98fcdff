//! Why a reconcile of a managed object failed: one error type for every kind, so the metric
//! label, the terminal/transient split, the condition reason and the requeue are decided once.

use kube::runtime::finalizer;
use suido_api::v1alpha1::conditions::reasons;
use suido_provider::ProviderError;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The namespace belongs to no Tenant.
    #[error("namespace {0} belongs to no Tenant; create a Tenant that lists it in spec.namespaces")]
    NoTenant(String),
    /// A vendor-only feature in an operator tenant.
    #[error("{0}")]
    TenantPolicy(String),
    /// The spec cannot be carried out as it is.
    #[error("{0}")]
    InvalidSpec(String),
    /// `spec.externalId` names no resource this tenant may adopt (absent, or another tenant's:
    /// the message is the same, so it tells nothing about other tenants).
    #[error("{0}")]
    AdoptionRefused(String),
    /// Another object already manages the resource `spec.externalId` names.
    #[error("{0}")]
    AlreadyManaged(String),
    /// `spec.externalId` was added, changed or removed after the resource was built or adopted.
    #[error("{0}")]
    ExternalIdChanged(String),
    /// An adopted resource is gone from the platform; Suido does not rebuild what it adopted.
    #[error("{0}")]
    AdoptedLost(String),
    /// A reference does not resolve in the object's namespace.
    #[error("{message}")]
    Reference {
        /// The condition reason (`ReferenceNotFound`, `CrossNamespaceReference`).
        reason: &'static str,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A delete gate holds the object (deletion protection, still attached): terminal, but the
    /// object keeps its phase.
    #[error("{message}")]
    Blocked {
        /// The condition reason.
        reason: &'static str,
        /// Why, and what to do.
        message: String,
    },
    /// The platform refused the request for good (invalid or over quota).
    #[error("the platform refused the request: {0}")]
    ProviderTerminal(ProviderError),
    /// A transient platform failure.
    #[error("platform error: {0}")]
    Provider(ProviderError),
    /// A Kubernetes API failure.
    #[error("kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// A platform operation is still running; look again soon.
    #[error("waiting for the platform: {0}")]
    Pending(String),
    /// Adding or removing the finalizer failed, or the reconcile inside it did.
    #[error("{0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        if e.is_terminal() {
            Error::ProviderTerminal(e)
        } else {
            Error::Provider(e)
        }
    }
}

impl Error {
    /// The error inside a finalizer error, or itself.
    pub fn inner(&self) -> &Error {
        match self {
            Error::Finalizer(e) => match e.as_ref() {
                finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner) => {
                    inner.inner()
                }
                _ => self,
            },
            other => other,
        }
    }

    /// Stable label for the `reconcile_errors` metric.
    pub fn metric_label(&self) -> &'static str {
        match self.inner() {
            Error::NoTenant(_) => "no_tenant",
            Error::TenantPolicy(_) => "tenant_policy",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::AdoptionRefused(_) => "adoption_refused",
            Error::AlreadyManaged(_) => "already_managed",
            Error::ExternalIdChanged(_) => "external_id_changed",
            Error::AdoptedLost(_) => "adopted_lost",
            Error::Reference { .. } => "reference",
            Error::Blocked { .. } => "blocked",
            Error::ProviderTerminal(_) => "provider_terminal",
            Error::Provider(_) => "provider_transient",
            Error::Kube(_) => "kube",
            Error::Pending(_) => "pending",
            Error::Finalizer(_) => "finalizer",
        }
    }

    /// Whether the error waits for the user (or the platform operator) rather than for time.
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self.inner(),
            Error::Provider(_) | Error::Kube(_) | Error::Pending(_) | Error::Finalizer(_)
        )
    }

    /// Whether the error is about the namespace's tenant (shown in `TenantPolicy` too).
    pub fn is_tenant_rule(&self) -> bool {
        matches!(self.inner(), Error::NoTenant(_) | Error::TenantPolicy(_))
    }

    /// The condition reason that shows this error.
    pub fn reason(&self) -> &'static str {
        match self.inner() {
            Error::NoTenant(_) => reasons::NO_TENANT,
            Error::TenantPolicy(_) => reasons::VENDOR_ONLY,
            Error::InvalidSpec(_) | Error::ProviderTerminal(_) => reasons::INVALID_SPEC,
            Error::AdoptionRefused(_) => reasons::ADOPTION_REFUSED,
            Error::AlreadyManaged(_) => reasons::ALREADY_MANAGED,
            Error::ExternalIdChanged(_) => reasons::EXTERNAL_ID_CHANGED,
            Error::AdoptedLost(_) => reasons::LOST,
            Error::Reference { reason, .. } | Error::Blocked { reason, .. } => reason,
            _ => reasons::RECONCILE_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_split_into_terminal_and_transient_with_stable_labels() {
        let transient = Error::from(ProviderError::transient("503"));
        assert!(!transient.is_terminal());
        assert_eq!(transient.metric_label(), "provider_transient");
        assert_eq!(transient.reason(), reasons::RECONCILE_ERROR);
        let terminal = Error::from(ProviderError::quota("max 5 servers"));
        assert!(terminal.is_terminal());
        assert_eq!(terminal.reason(), reasons::INVALID_SPEC);
        let wrapped = Error::Finalizer(Box::new(finalizer::Error::ApplyFailed(
            Error::TenantPolicy("vendor-only".into()),
        )));
        assert!(wrapped.is_terminal() && wrapped.is_tenant_rule());
        assert_eq!(wrapped.metric_label(), "tenant_policy");
        assert!(!Error::Pending("op".into()).is_terminal());
        let blocked = Error::Blocked {
            reason: reasons::DELETION_PROTECTED,
            message: "protected".into(),
        };
        assert_eq!(blocked.reason(), reasons::DELETION_PROTECTED);
    }
}
