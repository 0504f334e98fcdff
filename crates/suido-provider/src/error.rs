//! Classified provider errors: what a controller should do about a failed call.

use serde::{Deserialize, Serialize};

/// Result of a provider call.
pub type ProviderResult<T> = Result<T, ProviderError>;

/// Why a request can never succeed as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TerminalKind {
    /// The request is malformed or asks for something the platform does not offer.
    InvalidRequest,
    /// The request would exceed a quota (servers, vCPUs, volume GB, or a count of a family).
    QuotaExceeded,
    /// A resource the request depends on is not in the state the platform requires (a snapshot
    /// needs its server `Stopped`). The platform does nothing about it by itself: the request
    /// only succeeds once the caller (or the tenant) has changed that state.
    FailedPrecondition,
}

impl TerminalKind {
    /// Stable snake_case name, used in labels and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalKind::InvalidRequest => "invalid_request",
            TerminalKind::QuotaExceeded => "quota_exceeded",
            TerminalKind::FailedPrecondition => "failed_precondition",
        }
    }
}

impl std::fmt::Display for TerminalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed provider call, classified so that callers can decide between retrying, giving up,
/// treating the resource as gone, or re-reading the current state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "camelCase")]
pub enum ProviderError {
    /// A temporary failure (5xx, timeout, connection error, host unavailable): retry later with
    /// the same client token. The request may or may not have been carried out.
    #[error("transient error: {message}")]
    Transient {
        /// What went wrong.
        message: String,
    },
    /// The request can never succeed as it is; retrying the same request is pointless until
    /// the caller changed something (the request, a quota, or the state of a resource it
    /// depends on, for [`TerminalKind::FailedPrecondition`]).
    #[error("{kind}: {message}")]
    Terminal {
        /// Why.
        kind: TerminalKind,
        /// What went wrong, naming the field and the allowed values where there are some.
        message: String,
    },
    /// The resource (or operation) does not exist.
    #[error("not found: {message}")]
    NotFound {
        /// What was not found.
        message: String,
    },
    /// The resource's current state does not allow the request (busy with another operation,
    /// must be stopped first, token reused for a different request, ...). Re-read the resource
    /// and decide again.
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicts.
        message: String,
    },
}

impl ProviderError {
    /// A [`ProviderError::Transient`] error.
    pub fn transient(message: impl Into<String>) -> Self {
        ProviderError::Transient {
            message: message.into(),
        }
    }

    /// A terminal invalid-request error.
    pub fn invalid(message: impl Into<String>) -> Self {
        ProviderError::Terminal {
            kind: TerminalKind::InvalidRequest,
            message: message.into(),
        }
    }

    /// A terminal quota-exceeded error.
    pub fn quota(message: impl Into<String>) -> Self {
        ProviderError::Terminal {
            kind: TerminalKind::QuotaExceeded,
            message: message.into(),
        }
    }

    /// A terminal failed-precondition error: the message names the resource, the state it is
    /// in and the state it must be in.
    pub fn precondition(message: impl Into<String>) -> Self {
        ProviderError::Terminal {
            kind: TerminalKind::FailedPrecondition,
            message: message.into(),
        }
    }

    /// A [`ProviderError::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        ProviderError::NotFound {
            message: message.into(),
        }
    }

    /// A [`ProviderError::Conflict`] error.
    pub fn conflict(message: impl Into<String>) -> Self {
        ProviderError::Conflict {
            message: message.into(),
        }
    }

    /// Whether retrying the same request later may succeed. Only transient errors are;
    /// a conflict needs the caller to re-read the state first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Transient { .. })
    }

    /// Whether the request can never succeed as it is (including a failed precondition, which
    /// waits for the caller to change the state of a resource).
    pub fn is_terminal(&self) -> bool {
        matches!(self, ProviderError::Terminal { .. })
    }

    /// Stable label for metrics: `transient`, `invalid_request`, `quota_exceeded`,
    /// `failed_precondition`, `not_found` or `conflict`.
    pub fn label(&self) -> &'static str {
        match self {
            ProviderError::Transient { .. } => "transient",
            ProviderError::Terminal { kind, .. } => kind.as_str(),
            ProviderError::NotFound { .. } => "not_found",
            ProviderError::Conflict { .. } => "conflict",
        }
    }

    /// The message without the class prefix.
    pub fn message(&self) -> &str {
        match self {
            ProviderError::Transient { message }
            | ProviderError::Terminal { message, .. }
            | ProviderError::NotFound { message }
            | ProviderError::Conflict { message } => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_and_labels() {
        let cases = [
            (ProviderError::transient("503"), true, false, "transient"),
            (
                ProviderError::invalid("bad size"),
                false,
                true,
                "invalid_request",
            ),
            (
                ProviderError::quota("too many"),
                false,
                true,
                "quota_exceeded",
            ),
            (
                ProviderError::precondition("server srv-1 must be Stopped; it is Running"),
                false,
                true,
                "failed_precondition",
            ),
            (ProviderError::not_found("srv-1"), false, false, "not_found"),
            (ProviderError::conflict("busy"), false, false, "conflict"),
        ];
        for (err, retryable, terminal, label) in cases {
            assert_eq!(err.is_retryable(), retryable, "{err}");
            assert_eq!(err.is_terminal(), terminal, "{err}");
            assert_eq!(err.label(), label);
        }
    }

    #[test]
    fn display_names_the_class_and_keeps_the_message() {
        let err = ProviderError::quota("max 2 servers for tenant a");
        assert_eq!(
            err.to_string(),
            "quota_exceeded: max 2 servers for tenant a"
        );
        assert_eq!(err.message(), "max 2 servers for tenant a");
        assert_eq!(
            ProviderError::transient("timed out").to_string(),
            "transient error: timed out"
        );
    }

    #[test]
    fn serde_round_trip_is_tagged_by_class() -> Result<(), serde_json::Error> {
        let err = ProviderError::invalid("size: not on the menu");
        let json = serde_json::to_value(&err)?;
        assert_eq!(
            json,
            serde_json::json!({"class": "terminal", "kind": "InvalidRequest", "message": "size: not on the menu"})
        );
        let back: ProviderError = serde_json::from_value(json)?;
        assert_eq!(back, err);
        let nf: ProviderError = serde_json::from_str(r#"{"class":"notFound","message":"srv-9"}"#)?;
        assert_eq!(nf, ProviderError::not_found("srv-9"));
        Ok(())
    }
}
