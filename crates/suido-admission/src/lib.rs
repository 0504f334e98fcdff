//! Admission of custom resources exactly as kube-apiserver does it for CRDs.
//!
//! A [`Validator`] is compiled once from the `openAPIV3Schema` of one CRD version and
//! then admits objects: it prunes unknown fields, applies defaults, validates the
//! object against the structural schema (types, bounds, formats, enums, list types,
//! ...) and evaluates the CEL `x-kubernetes-validations` rules, transition rules
//! included. Errors are [`FieldError`]s whose `Display` is the apiserver's text, and
//! [`invalid_message`] words the whole 422 message.
//!
//! ```
//! use serde_json::json;
//! use suido_admission::Validator;
//!
//! let schema = json!({
//!     "type": "object",
//!     "properties": {"spec": {"type": "object", "required": ["os"], "properties": {
//!         "os": {"type": "string"},
//!         "replicas": {"type": "integer", "minimum": 1, "default": 1}
//!     }}}
//! });
//! let validator = Validator::new(&schema).unwrap();
//! let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "spec": {"replicas": 0}});
//! let errors = validator.admit(&mut obj, None).unwrap_err();
//! let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
//! assert_eq!(text, [
//!     "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
//!     "spec.os: Required value",
//! ]);
//! ```
//!
//! # Unknown fields
//!
//! The apiserver prunes unknown fields and, depending on the request's
//! `fieldValidation` (`kubectl apply` asks for `Strict`), warns about them or refuses the
//! request with a 400. [`Validator::prune_reporting`] and [`Validator::unknown_fields`]
//! return their paths and [`strict_decoding_message`] words the strict error.
//!
//! # CEL
//!
//! Rules are compiled once with the `cel` crate (`Program` is `Send + Sync`, so nothing
//! is re-parsed per call) against the standard library with the strings, lists and math
//! extensions, plus the Kubernetes list, regex and validity functions (`isSorted`,
//! `sum`, `min`, `max`, list `indexOf`/`lastIndexOf`, `find`, `findAll`, `isURL`,
//! `isIP`, `isCIDR`, `isQuantity`). Rules selecting fields the schema does not declare
//! are refused at compile time, as the apiserver's type checker refuses them.
//!
//! # Not modelled
//!
//! CEL cost estimation and runtime cost budgets; full CEL type checking (a rule with a
//! type error fails when evaluated, not when compiled); the Kubernetes `quantity`,
//! `url`, `ip`, `cidr` and `format` object libraries (only their `is*` predicates);
//! the structural-schema checks the apiserver runs on a CRD beyond what compiling needs
//! (e.g. it rejects `uniqueItems: true`, which is enforced here instead); ObjectMeta
//! validation, left to the control plane. Errors come in a deterministic order (by
//! field name) where the apiserver's follows Go map iteration.

mod cel;
mod error;
mod formats;
mod k8s_lib;
mod mutate;
mod schema;
mod validate;

pub use error::{
    FieldError, FieldErrorKind, SchemaError, StatusCause, invalid_message, status_causes,
};

use serde_json::Value;

/// The detail of the error the apiserver adds instead of running CEL rules when the
/// object already has errors that make the rules meaningless.
const CEL_SKIPPED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// The text of the 400 `BadRequest` the apiserver returns for unknown fields under
/// `fieldValidation=Strict`, e.g. `strict decoding error: unknown field "spec.x"`;
/// with `Warn` each `unknown field "spec.x"` is a warning instead.
pub fn strict_decoding_message(unknown_fields: &[String]) -> String {
    let fields: Vec<String> = unknown_fields
        .iter()
        .map(|f| format!("unknown field {}", error::go_quote(f)))
        .collect();
    format!("strict decoding error: {}", fields.join(", "))
}

/// A compiled structural schema with its compiled CEL programs.
///
/// `Send + Sync`: compile once, share it in an `Arc`, validate from many threads.
#[derive(Debug)]
pub struct Validator {
    root: schema::Node,
}

impl Validator {
    /// Compile a structural schema (the CRD version's openAPIV3Schema). Fails on invalid
    /// schema or uncompilable CEL.
    pub fn new(schema: &Value) -> Result<Validator, SchemaError> {
        let root = schema::compile(schema, "openAPIV3Schema")?;
        Ok(Validator { root })
    }

    /// Remove fields not declared in the schema (keeping `apiVersion`, `kind` and
    /// `metadata` at the root, and everything under `x-kubernetes-preserve-unknown-fields`).
    pub fn prune(&self, obj: &mut Value) {
        mutate::prune(obj, &self.root, true, &mut String::new(), &mut Vec::new());
    }

    /// Like [`Validator::prune`], returning the paths of the removed fields
    /// (`spec.attachTo.namespace`, `spec.disks[0].extra`), which the apiserver reports as
    /// unknown fields: warnings by default, errors with `fieldValidation=Strict` (what
    /// `kubectl apply` asks for); see [`strict_decoding_message`].
    pub fn prune_reporting(&self, obj: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        mutate::prune(obj, &self.root, true, &mut String::new(), &mut pruned);
        pruned
    }

    /// The paths of the fields [`Validator::prune`] would remove, without removing them.
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        self.prune_reporting(&mut obj.clone())
    }

    /// Apply schema defaults to absent fields, and to nulls of non-nullable fields;
    /// nulls of non-nullable fields without a default are removed, as the apiserver does.
    pub fn apply_defaults(&self, obj: &mut Value) {
        mutate::prune_nulls(obj, Some(&self.root));
        mutate::apply_defaults(obj, &self.root);
    }

    /// Schema + CEL validation; `old` is the stored object on update (None on create).
    ///
    /// Errors come in the apiserver's order: schema errors, embedded-resource and
    /// list-type errors, then CEL rule errors. On update, validation ratchets as the
    /// apiserver's does (CRDValidationRatcheting): a value equal to its correlated old
    /// value (through properties, map keys, and `map`/`set` list items) reports no schema
    /// errors, and non-transition rules failing on it are dropped. As the apiserver does, CEL rules are not
    /// evaluated when there is a type, required, enum, too-long or too-many error; a
    /// single `<nil>` error says so instead.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        self.validate_after(obj, old, Vec::new())
    }

    /// [`Validator::validate`] after the errors `prior` checks found (the object metadata's,
    /// which the apiserver validates first): they come first, and a blocking one among them
    /// (a required name) skips the CEL rules as a schema error does.
    pub fn validate_after(
        &self,
        obj: &Value,
        old: Option<&Value>,
        prior: Vec<FieldError>,
    ) -> Vec<FieldError> {
        let mut errs = prior;
        let mut path = String::with_capacity(64);
        validate::validate_node(obj, old, &self.root, &mut path, &mut errs);
        validate::validate_embedded(obj, &self.root, &mut path, &mut errs);
        validate::validate_list_types(obj, &self.root, &mut path, &mut errs);
        if self.root.has_cel {
            let blocking = errs.iter().any(|e| {
                matches!(
                    e.kind,
                    FieldErrorKind::Unsupported { .. }
                        | FieldErrorKind::Required
                        | FieldErrorKind::TooLong
                        | FieldErrorKind::TooMany
                        | FieldErrorKind::TypeInvalid
                )
            });
            if blocking {
                errs.push(FieldError::invalid("<nil>", Some(Value::Null), CEL_SKIPPED));
            } else {
                cel::validate(
                    obj,
                    cel::Old::root(obj, old),
                    &self.root,
                    &mut path,
                    true,
                    &mut errs,
                );
            }
        }
        errs
    }

    /// The apiserver's order: prune, default, validate. Err holds every field error.
    pub fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
        self.admit_after(obj, old, Vec::new())
    }

    /// [`Validator::admit`] after the errors `prior` checks found (see
    /// [`Validator::validate_after`]).
    pub fn admit_after(
        &self,
        obj: &mut Value,
        old: Option<&Value>,
        prior: Vec<FieldError>,
    ) -> Result<(), Vec<FieldError>> {
        self.prune(obj);
        self.apply_defaults(obj);
        let errs = self.validate_after(obj, old, prior);
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

#[cfg(test)]
mod send_sync {
    #[test]
    fn validator_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Validator>();
    }
}
