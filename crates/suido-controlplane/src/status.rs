//! API errors and their `Status` objects, shaped like kube-apiserver's so
//! that kubectl prints them and kube-rs branches on `code` and `reason`.

use serde_json::{Value, json};

use crate::store::StoreError;

/// An error answered as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Optional `details` object.
    pub details: Option<Value>,
    /// `Warning` headers found before the error (unknown fields, say), which
    /// kube-apiserver still sends with it.
    pub warnings: Vec<String>,
}

/// One entry of `details.causes`.
#[derive(Debug, Clone)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: String,
    /// The message of this cause.
    pub message: String,
    /// The field path, such as `spec.port`.
    pub field: String,
}

/// `group` and `resource` of an error subject, written `resource.group`.
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            warnings: Vec::new(),
        }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": group, "kind": kind}));
        self
    }

    /// 404 for a missing object.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(resource, group)),
        )
        .with_details(group, resource, name)
    }

    /// 404 for an unknown path. kube-apiserver answers these with a plain-text
    /// `404 page not found`, not a `Status` (see [`ApiError::is_plain_not_found`]).
    pub fn path_not_found(path: &str) -> Self {
        let _ = path;
        Self::new(404, "", "404 page not found")
    }

    /// Whether this is the plain-text 404 of an unknown path.
    pub fn is_plain_not_found(&self) -> bool {
        self.code == 404 && self.reason.is_empty()
    }

    /// An error kube-apiserver reports with no reason (a bare `errors.New` from deep inside,
    /// such as a server-side apply patch that its schema cannot type).
    pub fn unclassified(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "", message)
    }

    /// 409 for a create of an existing object.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(resource, group)),
        )
        .with_details(group, resource, name)
    }

    /// 409 for a stale resourceVersion or a failed precondition.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(resource, group)
            ),
        )
        .with_details(group, resource, name)
    }

    /// 409 with a custom message (server-side apply conflicts).
    pub fn conflict_message(
        group: &str,
        resource: &str,
        name: &str,
        message: String,
        causes: &[Cause],
    ) -> Self {
        let mut e = Self::new(409, "Conflict", message).with_details(group, resource, name);
        if let Some(d) = e.details.as_mut() {
            d["causes"] = causes_json(causes);
        }
        e
    }

    /// 422 with field causes.
    pub fn invalid(group: &str, kind: &str, name: &str, message: String, causes: &[Cause]) -> Self {
        let mut e = Self::new(422, "Invalid", message).with_details(group, kind, name);
        if let Some(d) = e.details.as_mut() {
            d["causes"] = causes_json(causes);
        }
        e
    }

    /// 422 for a single field problem, built like the apiserver's message.
    pub fn invalid_field(
        group: &str,
        kind: &str,
        name: &str,
        field: &str,
        reason: &str,
        detail: &str,
    ) -> Self {
        let cause_msg = format!("{reason}: {detail}");
        let full = format!("{field}: {cause_msg}");
        let subject = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let message = format!("{subject} \"{name}\" is invalid: {full}");
        let reason_code = match reason {
            "Required value" => "FieldValueRequired",
            "Forbidden" => "FieldValueForbidden",
            "Unsupported value" => "FieldValueNotSupported",
            _ => "FieldValueInvalid",
        };
        Self::invalid(
            group,
            kind,
            name,
            message,
            &[Cause {
                reason: reason_code.to_string(),
                message: cause_msg,
                field: field.to_string(),
            }],
        )
    }

    /// 422 with a plain message (JSON patch failures).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 405.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 406.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 410 Expired (sent inside a watch stream).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415, naming the media types the endpoint accepts, as kube-apiserver does.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 504 for a read at a resourceVersion the server has not reached. kube-apiserver
    /// waits up to 3 s for it first; the local store has every write already, so it
    /// answers at once.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        let mut e = Self::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {requested}, current: {current}"),
        );
        e.details = Some(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1
        }));
        e
    }

    /// 415 without the list of media types.
    pub fn unsupported_media_type_bare() -> Self {
        Self::new(415, "UnsupportedMediaType", "415: Unsupported Media Type")
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            s["reason"] = json!(self.reason);
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

fn causes_json(causes: &[Cause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect(),
    )
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        ApiError::internal(e.to_string())
    }
}

/// A `Status` of success, as returned by an immediate delete.
pub fn success(group: &str, resource: &str, name: &str, uid: Option<&str>) -> Value {
    let mut details = json!({"name": name, "group": group, "kind": resource});
    if let Some(uid) = uid {
        details["uid"] = Value::String(uid.to_string());
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
