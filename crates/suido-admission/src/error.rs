//! Field errors and schema errors, worded exactly as kube-apiserver words them.
//!
//! The text follows `k8s.io/apimachinery/pkg/util/validation/field` (`Error.ErrorBody`,
//! `ErrorType.String`) and `apierrors.NewInvalid` for the 422 message. Bad values are
//! printed the way Go's `fmt` prints the unstructured value the apiserver holds:
//! strings quoted with `strconv.Quote`, numbers and booleans with `%v`, objects and
//! arrays with `%#v`.

use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// The kind of a field error: one `field.ErrorType` of the apiserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `FieldValueRequired`: a required value is missing.
    Required,
    /// `FieldValueNotSupported`: the value is not one of `allowed`.
    Unsupported {
        /// The supported values, unquoted, in schema order.
        allowed: Vec<String>,
    },
    /// `FieldValueInvalid`: the value is malformed or out of bounds.
    Invalid,
    /// `FieldValueForbidden`: the value is not permitted here.
    Forbidden,
    /// `FieldValueTooLong`: a string is longer than `maxLength`.
    TooLong,
    /// `FieldValueTooMany`: a list or map has too many entries.
    TooMany,
    /// `FieldValueDuplicate`: a value that must be unique is repeated.
    Duplicate,
    /// `FieldValueTypeInvalid`: the value does not have the schema's type or format.
    TypeInvalid,
    /// `FieldValueNotFound`: a referenced value does not exist.
    NotFound,
    /// `InternalError`: validation itself failed.
    Internal,
}

impl FieldErrorKind {
    /// The canonical text the apiserver prints for this kind (`ErrorType.String()`).
    pub fn label(&self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Unsupported { .. } => "Unsupported value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::Internal => "Internal error",
        }
    }

    /// The `StatusCause.reason` (the `field.ErrorType` string) of this kind.
    pub fn reason(&self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Unsupported { .. } => "FieldValueNotSupported",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::Internal => "InternalError",
        }
    }
}

/// One field-level validation error, as in the apiserver's `field.Error`.
///
/// `field` is the rendered path (`spec.disks[0].sizeGb`; `<nil>` for an error on no
/// path, as the apiserver prints a nil path). `bad_value` is `None` where the
/// apiserver omits the value (`field.OmitValueType`), and `Some(Value::Null)` where it
/// holds a nil value, which it prints as `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field path, e.g. `spec.listeners[1].port`.
    pub field: String,
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// Human-readable detail, may be empty.
    pub detail: String,
    /// The offending value, if the error carries one.
    pub bad_value: Option<Value>,
}

impl FieldError {
    /// `field.Required(path, detail)`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Required,
            detail: detail.into(),
            bad_value: Some(Value::String(String::new())),
        }
    }

    /// `field.Invalid(path, value, detail)`.
    pub fn invalid(
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Invalid,
            detail: detail.into(),
            bad_value: value,
        }
    }

    /// `field.TypeInvalid(path, value, detail)`.
    pub fn type_invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::TypeInvalid,
            detail: detail.into(),
            bad_value: Some(value),
        }
    }

    /// `field.Forbidden(path, detail)`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Forbidden,
            detail: detail.into(),
            bad_value: Some(Value::String(String::new())),
        }
    }

    /// `field.Duplicate(path, value)`.
    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Duplicate,
            detail: String::new(),
            bad_value: Some(value),
        }
    }

    /// `field.NotSupported(path, value, allowed)`.
    pub fn not_supported(field: impl Into<String>, value: Value, allowed: Vec<String>) -> Self {
        let detail = if allowed.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = allowed.iter().map(|a| go_quote(a)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Unsupported { allowed },
            detail,
            bad_value: Some(value),
        }
    }

    /// `field.TooLongMaxLength(path, value, max)`.
    pub fn too_long(field: impl Into<String>, value: Value, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("may not be longer than {max}")
        } else {
            "value is too long".to_string()
        };
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::TooLong,
            detail,
            bad_value: Some(value),
        }
    }

    /// `field.TooMany(path, actual, max)`.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {max} items")
        } else {
            "has too many items".to_string()
        };
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::TooMany,
            detail,
            bad_value: (actual >= 0).then(|| Value::from(actual)),
        }
    }

    /// The `StatusCause.reason` of this error, e.g. `FieldValueRequired`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message without the field path (`ErrorBody()`), as in `StatusCause.message`.
    pub fn error_body(&self) -> String {
        let mut s = match self.kind {
            FieldErrorKind::Required
            | FieldErrorKind::Forbidden
            | FieldErrorKind::TooLong
            | FieldErrorKind::Internal => self.kind.label().to_string(),
            _ if self.bad_value.is_none() => self.kind.label().to_string(),
            _ => format!(
                "{}: {}",
                self.kind.label(),
                go_bad_value(self.bad_value.as_ref())
            ),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.error_body())
    }
}

impl std::error::Error for FieldError {}

/// One entry of `Status.details.causes` in a 422 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCause {
    /// `reason`, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// `message`: the error without its field path.
    pub message: String,
    /// `field`: the field path.
    pub field: String,
}

/// The `causes` of the 422 `Status` the apiserver returns for `errors`, one per error.
pub fn status_causes(errors: &[FieldError]) -> Vec<StatusCause> {
    errors
        .iter()
        .map(|e| StatusCause {
            reason: e.reason().to_string(),
            message: e.error_body(),
            field: e.field.clone(),
        })
        .collect()
}

/// `Kind.group "name" is invalid: ...` as the apiserver words a 422 (`apierrors.NewInvalid`).
///
/// Identical messages are reported once; several errors are joined as `[a, b]`, as
/// `utilerrors.Aggregate` prints them. With an empty group the kind stands alone.
pub fn invalid_message(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut seen = HashSet::new();
    let msgs: Vec<String> = errors
        .iter()
        .map(ToString::to_string)
        .filter(|m| seen.insert(m.clone()))
        .collect();
    let name = go_quote(name);
    match msgs.len() {
        0 => format!("{qualified} {name} is invalid"),
        1 => format!("{qualified} {name} is invalid: {}", msgs[0]),
        _ => format!("{qualified} {name} is invalid: [{}]", msgs.join(", ")),
    }
}

/// A problem with the schema itself, found when compiling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Where in the schema, e.g. `openAPIV3Schema.properties.spec.x-kubernetes-validations[0]`.
    pub path: String,
    /// The CEL rule involved, if any.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl SchemaError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        SchemaError {
            path: path.to_string(),
            rule: None,
            message: message.into(),
        }
    }

    pub(crate) fn with_rule(path: &str, rule: &str, message: impl Into<String>) -> Self {
        SchemaError {
            path: path.to_string(),
            rule: Some(rule.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(rule) = &self.rule {
            write!(f, " (rule: {rule})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaError {}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits,
/// exponent form when the decimal exponent is below -4 or at least 6.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, e.g. "1.5e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// A JSON number as the apiserver's unstructured value prints with `%v`.
pub(crate) fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        go_float(n.as_f64().unwrap_or(0.0))
    }
}

/// The bad value as `ErrorBody` prints it.
fn go_bad_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => go_quote(s),
        Some(Value::Number(n)) => go_number(n),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => go_json(other),
    }
}

/// Go's `json.Marshal` of an unstructured value, as kube-apiserver (1.34 and later) prints a
/// complex bad value: keys sorted, `<`, `>` and `&` escaped.
fn go_json(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_json).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        go_json(&Value::String((*k).clone())),
                        go_json(&map[k.as_str()])
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_float_matches_strconv_shortest() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(123456789.0), "1.23456789e+08");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.25), "-2.25");
    }

    #[test]
    fn go_quote_escapes_like_strconv() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("é"), "\"é\"");
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
    }

    #[test]
    fn complex_bad_values_print_as_go_json() {
        assert_eq!(
            go_json(&json!({"port": 80, "name": "a<b"})),
            "{\"name\":\"a\\u003cb\",\"port\":80}"
        );
        assert_eq!(go_json(&json!([1, "x", null])), "[1,\"x\",null]");
    }

    #[test]
    fn error_bodies() {
        let e = FieldError::required("spec.os", "");
        assert_eq!(e.to_string(), "spec.os: Required value");
        let e = FieldError::too_many("spec.disks", 5, 3);
        assert_eq!(
            e.to_string(),
            "spec.disks: Too many: 5: must have at most 3 items"
        );
        let e = FieldError::too_long("spec.name", json!("abcdef"), 3);
        assert_eq!(
            e.to_string(),
            "spec.name: Too long: may not be longer than 3"
        );
        let e = FieldError::invalid("<nil>", Some(Value::Null), "boom");
        assert_eq!(e.to_string(), "<nil>: Invalid value: null: boom");
        let e = FieldError::invalid("spec.scope", None, "boom");
        assert_eq!(e.to_string(), "spec.scope: Invalid value: boom");
        let e = FieldError::invalid("<nil>", Some(Value::Null), "boom");
        assert_eq!(e.to_string(), "<nil>: Invalid value: null: boom");
        let e = FieldError::duplicate("spec.l[1]", json!({"name": "a"}));
        assert_eq!(
            e.to_string(),
            "spec.l[1]: Duplicate value: {\"name\":\"a\"}"
        );
        let e = FieldError::forbidden("spec.x", "nope");
        assert_eq!(e.to_string(), "spec.x: Forbidden: nope");
        assert_eq!(e.reason(), "FieldValueForbidden");
    }
}
