//! The exact strings the apiserver prints: field errors, the 422 message and its causes.

use serde_json::json;
use suido_admission::{
    FieldError, FieldErrorKind, StatusCause, Validator, invalid_message, status_causes,
};

fn spec_validator() -> Validator {
    Validator::new(&json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["os"], "properties": {
        "size": {"type": "string", "enum": ["1CPU-2GB", "1CPU-4GB"]},
        "os": {"type": "string"},
        "replicas": {"type": "integer", "minimum": 1},
        "osDiskGb": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "osDiskGb may only grow"}]}
    }}}}))
    .expect("schema compiles")
}

#[test]
fn the_three_brief_examples() {
    let v = spec_validator();
    let errs = v.validate(&json!({"spec": {"size": "3CPU-1GB", "replicas": 0}}), None);
    let t: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        t[0],
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
    );
    assert_eq!(
        t[1],
        "spec.size: Unsupported value: \"3CPU-1GB\": supported values: \"1CPU-2GB\", \"1CPU-4GB\""
    );
    assert_eq!(t[2], "spec.os: Required value");
}

#[test]
fn cel_error_shows_a_scalar_value() {
    let v = spec_validator();
    let old = json!({"spec": {"os": "RHEL", "osDiskGb": 80}});
    let errs = v.validate(&json!({"spec": {"os": "RHEL", "osDiskGb": 40}}), Some(&old));
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].to_string(),
        "spec.osDiskGb: Invalid value: 40: osDiskGb may only grow"
    );
    assert_eq!(errs[0].kind, FieldErrorKind::Invalid);
    assert_eq!(errs[0].bad_value, Some(json!(40)));
    assert_eq!(errs[0].detail, "osDiskGb may only grow");
    assert_eq!(errs[0].reason(), "FieldValueInvalid");
}

#[test]
fn invalid_message_single_and_aggregate() {
    let one = [FieldError::not_supported(
        "spec.size",
        json!("3CPU-1GB"),
        vec!["1CPU-2GB".into(), "1CPU-4GB".into()],
    )];
    assert_eq!(
        invalid_message("VirtualServer", "infra.suido.dev", "web-1", &one),
        "VirtualServer.infra.suido.dev \"web-1\" is invalid: spec.size: Unsupported value: \"3CPU-1GB\": supported values: \"1CPU-2GB\", \"1CPU-4GB\""
    );
    let two = [
        FieldError::required("spec.os", ""),
        FieldError::invalid(
            "spec.replicas",
            Some(json!(0)),
            "spec.replicas in body should be greater than or equal to 1",
        ),
    ];
    assert_eq!(
        invalid_message("VirtualServer", "infra.suido.dev", "web-1", &two),
        "VirtualServer.infra.suido.dev \"web-1\" is invalid: [spec.os: Required value, spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1]"
    );
    // Identical messages are reported once, as ToAggregate does.
    let dup = [
        FieldError::required("spec.os", ""),
        FieldError::required("spec.os", ""),
    ];
    assert_eq!(
        invalid_message("VirtualServer", "infra.suido.dev", "web-1", &dup),
        "VirtualServer.infra.suido.dev \"web-1\" is invalid: spec.os: Required value"
    );
    assert_eq!(invalid_message("Pod", "", "p", &[]), "Pod \"p\" is invalid");
}

#[test]
fn causes_carry_reason_body_and_field() {
    let errs = [
        FieldError::required("spec.os", ""),
        FieldError::not_supported("spec.size", json!("x"), vec!["a".into()]),
    ];
    assert_eq!(
        status_causes(&errs),
        [
            StatusCause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "spec.os".into()
            },
            StatusCause {
                reason: "FieldValueNotSupported".into(),
                message: "Unsupported value: \"x\": supported values: \"a\"".into(),
                field: "spec.size".into()
            },
        ]
    );
}

#[test]
fn reasons_for_every_kind() {
    let kinds = [
        (FieldErrorKind::Required, "FieldValueRequired"),
        (
            FieldErrorKind::Unsupported { allowed: vec![] },
            "FieldValueNotSupported",
        ),
        (FieldErrorKind::Invalid, "FieldValueInvalid"),
        (FieldErrorKind::Forbidden, "FieldValueForbidden"),
        (FieldErrorKind::TooLong, "FieldValueTooLong"),
        (FieldErrorKind::TooMany, "FieldValueTooMany"),
        (FieldErrorKind::Duplicate, "FieldValueDuplicate"),
        (FieldErrorKind::TypeInvalid, "FieldValueTypeInvalid"),
        (FieldErrorKind::NotFound, "FieldValueNotFound"),
        (FieldErrorKind::Internal, "InternalError"),
    ];
    for (kind, reason) in kinds {
        assert_eq!(kind.reason(), reason);
    }
}

#[test]
fn bad_values_print_like_go() {
    let e = FieldError::invalid("spec.ratio", Some(json!(1.5)), "x");
    assert_eq!(e.to_string(), "spec.ratio: Invalid value: 1.5: x");
    let e = FieldError::invalid("spec.big", Some(json!(1e6)), "x");
    assert_eq!(e.to_string(), "spec.big: Invalid value: 1e+06: x");
    let e = FieldError::invalid("spec.flag", Some(json!(true)), "x");
    assert_eq!(e.to_string(), "spec.flag: Invalid value: true: x");
    let e = FieldError::invalid("spec.s", Some(json!("a \"q\"\n")), "x");
    assert_eq!(
        e.to_string(),
        "spec.s: Invalid value: \"a \\\"q\\\"\\n\": x"
    );
    let e = FieldError::invalid("spec.o", Some(json!({"a": [1, "b"]})), "x");
    assert_eq!(e.to_string(), "spec.o: Invalid value: {\"a\":[1,\"b\"]}: x");
}
