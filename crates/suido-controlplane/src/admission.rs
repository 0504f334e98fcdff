//! Admission of custom resources: pruning, defaulting and validation
//! (structural schema and CEL rules) against the CRD version's schema,
//! through `suido-admission`, plus the unknown-field report that
//! `fieldValidation` needs.

use serde_json::Value;
use suido_admission::{FieldError, Validator};

use crate::status::Cause;

/// The compiled schema of one CRD version.
#[derive(Debug)]
pub struct SchemaCheck {
    validator: Validator,
}

/// The outcome of a failed admission.
#[derive(Debug)]
pub struct Rejection {
    /// The full apiserver-style message.
    pub message: String,
    /// One cause per field error.
    pub causes: Vec<Cause>,
}

/// Paths present in `before` and missing from `after` (`spec.a`,
/// `spec.l[0].x`): what pruning removed.
fn removed_paths(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match a.get(k) {
                    None => out.push(p),
                    Some(av) => removed_paths(bv, av, &p, out),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a.iter()).enumerate() {
                removed_paths(bv, av, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn cause(e: &FieldError) -> Cause {
    let text = e.to_string();
    let prefix = format!("{}: ", e.field);
    Cause {
        reason: e.reason().to_string(),
        message: text.strip_prefix(&prefix).unwrap_or(&text).to_string(),
        field: e.field.clone(),
    }
}

impl SchemaCheck {
    /// Compiles a schema; the error says what is wrong with it.
    pub fn new(schema: &Value) -> Result<SchemaCheck, String> {
        Validator::new(schema)
            .map(|validator| SchemaCheck { validator })
            .map_err(|e| e.to_string())
    }

    /// The fields pruning would remove, without changing `obj`.
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        let mut pruned = obj.clone();
        self.validator.prune(&mut pruned);
        let mut unknown = Vec::new();
        removed_paths(obj, &pruned, "", &mut unknown);
        unknown
    }

    /// Applies the schema defaults only.
    pub fn defaults(&self, obj: &mut Value) {
        self.validator.apply_defaults(obj);
    }

    /// Prunes, defaults and validates `obj` (with `old` for transition
    /// rules and ratcheting). Unknown fields are reported separately by
    /// [`SchemaCheck::unknown_fields`].
    pub fn admit(
        &self,
        kind: &str,
        group: &str,
        name: &str,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), Rejection> {
        self.admit_after(kind, group, name, obj, old, Vec::new())
    }

    /// [`SchemaCheck::admit`] after the metadata errors `prior`, which
    /// come first (and a blocking one skips the CEL rules).
    pub fn admit_after(
        &self,
        kind: &str,
        group: &str,
        name: &str,
        obj: &mut Value,
        old: Option<&Value>,
        prior: Vec<FieldError>,
    ) -> Result<(), Rejection> {
        self.validator
            .admit_after(obj, old, prior)
            .map_err(|errors| Rejection {
                message: suido_admission::invalid_message(kind, group, name, &errors),
                causes: errors.iter().map(cause).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_defaults_validates_and_reports_unknown_fields() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "required": ["host"],
            "properties": {"host": {"type": "string"}, "port": {"type": "integer", "default": 80, "maximum": 100}}}}});
        let check = SchemaCheck::new(&schema).unwrap();
        let mut obj = json!({"apiVersion": "g/v1", "kind": "W", "metadata": {"name": "x"},
            "spec": {"host": "h", "extra": 1}});
        assert_eq!(check.unknown_fields(&obj), vec!["spec.extra".to_string()]);
        check.admit("W", "g", "x", &mut obj, None).unwrap();
        assert_eq!(obj["spec"], json!({"host": "h", "port": 80}));
        let mut bad = json!({"metadata": {"name": "x"}, "spec": {"port": 101}});
        let rej = check.admit("W", "g", "x", &mut bad, None).unwrap_err();
        assert!(
            rej.message.starts_with("W.g \"x\" is invalid"),
            "{}",
            rej.message
        );
        assert!(rej.causes.iter().any(|c| c.field == "spec.port"));
        assert!(
            rej.causes
                .iter()
                .any(|c| c.field == "spec.host" && c.reason == "FieldValueRequired")
        );
        assert!(SchemaCheck::new(&json!({"type": 5})).is_err());
    }
}
