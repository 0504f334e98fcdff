//! Structural schema validation, one test per kind of rule, with the apiserver's text.

use serde_json::{Value, json};
use suido_admission::{FieldErrorKind, Validator};

/// A resource schema whose `spec` is `spec`.
fn resource(spec: Value) -> Value {
    json!({"type": "object", "properties": {"spec": spec}})
}

fn errors(spec_schema: Value, spec: Value) -> Vec<String> {
    let v = Validator::new(&resource(spec_schema)).expect("schema compiles");
    let obj = json!({"apiVersion": "infra.suido.dev/v1", "kind": "X", "metadata": {"name": "a"}, "spec": spec});
    v.validate(&obj, None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn field(ty: &str, extra: Value) -> Value {
    let mut s = json!({"type": ty});
    if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"type": "object", "properties": {"f": s}})
}

#[test]
fn type_mismatch() {
    assert_eq!(
        errors(field("integer", json!({})), json!({"f": "3"})),
        ["spec.f: Invalid value: \"string\": spec.f in body must be of type integer: \"string\""]
    );
    assert_eq!(
        errors(field("string", json!({})), json!({"f": 3})),
        ["spec.f: Invalid value: \"integer\": spec.f in body must be of type string: \"integer\""]
    );
    assert_eq!(
        errors(field("object", json!({})), json!({"f": [1]})),
        ["spec.f: Invalid value: \"array\": spec.f in body must be of type object: \"array\""]
    );
    assert_eq!(
        errors(field("boolean", json!({})), json!({"f": "true"})),
        ["spec.f: Invalid value: \"string\": spec.f in body must be of type boolean: \"string\""]
    );
}

#[test]
fn type_error_kind_and_reason() {
    let v = Validator::new(&resource(field("integer", json!({})))).unwrap();
    let errs = v.validate(&json!({"spec": {"f": "x"}}), None);
    assert_eq!(errs[0].kind, FieldErrorKind::TypeInvalid);
    assert_eq!(errs[0].reason(), "FieldValueTypeInvalid");
    assert_eq!(errs[0].field, "spec.f");
}

#[test]
fn integer_accepts_whole_numbers_and_number_accepts_integers() {
    assert!(errors(field("integer", json!({})), json!({"f": 3.0})).is_empty());
    assert_eq!(
        errors(field("integer", json!({})), json!({"f": 3.5})),
        ["spec.f: Invalid value: \"number\": spec.f in body must be of type integer: \"number\""]
    );
    assert!(errors(field("number", json!({})), json!({"f": 3})).is_empty());
    assert!(errors(field("number", json!({})), json!({"f": 3.25})).is_empty());
}

#[test]
fn nullable() {
    assert_eq!(
        errors(field("string", json!({})), json!({"f": null})),
        ["spec.f: Invalid value: \"null\": spec.f in body must be of type string: \"null\""]
    );
    assert!(
        errors(
            field("string", json!({"nullable": true})),
            json!({"f": null})
        )
        .is_empty()
    );
}

#[test]
fn enum_values() {
    let schema = json!({"type": "object", "properties": {"size": {"type": "string", "enum": ["1CPU-2GB", "1CPU-4GB"]}}});
    assert_eq!(
        errors(schema.clone(), json!({"size": "3CPU-1GB"})),
        [
            "spec.size: Unsupported value: \"3CPU-1GB\": supported values: \"1CPU-2GB\", \"1CPU-4GB\""
        ]
    );
    assert!(errors(schema, json!({"size": "1CPU-4GB"})).is_empty());
    assert_eq!(
        errors(field("integer", json!({"enum": [1, 3]})), json!({"f": 2})),
        ["spec.f: Unsupported value: 2: supported values: \"1\", \"3\""]
    );
    let v = Validator::new(&resource(field("integer", json!({"enum": [1, 3]})))).unwrap();
    let errs = v.validate(&json!({"spec": {"f": 2}}), None);
    assert_eq!(
        errs[0].kind,
        FieldErrorKind::Unsupported {
            allowed: vec!["1".into(), "3".into()]
        }
    );
    assert_eq!(errs[0].reason(), "FieldValueNotSupported");
}

#[test]
fn required() {
    let schema = json!({"type": "object", "required": ["os", "size"], "properties": {
        "os": {"type": "string"}, "size": {"type": "string"}}});
    assert_eq!(
        errors(schema.clone(), json!({"size": "s"})),
        ["spec.os: Required value"]
    );
    assert_eq!(
        errors(schema, json!({})),
        ["spec.os: Required value", "spec.size: Required value"]
    );
    let root =
        json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
    let v = Validator::new(&root).unwrap();
    let errs: Vec<String> = v
        .validate(&json!({"kind": "X"}), None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errs, ["spec: Required value"]);
}

#[test]
fn minimum_and_maximum() {
    let s = field("integer", json!({"minimum": 1, "maximum": 5}));
    assert_eq!(
        errors(s.clone(), json!({"f": 0})),
        ["spec.f: Invalid value: 0: spec.f in body should be greater than or equal to 1"]
    );
    assert_eq!(
        errors(s.clone(), json!({"f": 6})),
        ["spec.f: Invalid value: 6: spec.f in body should be less than or equal to 5"]
    );
    assert!(errors(s, json!({"f": 5})).is_empty());
    let s = field(
        "number",
        json!({"minimum": 0.5, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true}),
    );
    assert_eq!(
        errors(s.clone(), json!({"f": 0.5})),
        ["spec.f: Invalid value: 0.5: spec.f in body should be greater than 0.5"]
    );
    assert_eq!(
        errors(s, json!({"f": 2.5})),
        ["spec.f: Invalid value: 2.5: spec.f in body should be less than 2.5"]
    );
}

#[test]
fn multiple_of() {
    let s = field("integer", json!({"multipleOf": 5}));
    assert_eq!(
        errors(s.clone(), json!({"f": 12})),
        ["spec.f: Invalid value: 12: spec.f in body should be a multiple of 5"]
    );
    assert!(errors(s, json!({"f": 15})).is_empty());
    let s = field("number", json!({"multipleOf": 0.5}));
    assert!(errors(s.clone(), json!({"f": 1.5})).is_empty());
    assert_eq!(
        errors(s, json!({"f": 1.3})),
        ["spec.f: Invalid value: 1.3: spec.f in body should be a multiple of 0.5"]
    );
}

#[test]
fn string_lengths() {
    let s = field("string", json!({"minLength": 3, "maxLength": 5}));
    assert_eq!(
        errors(s.clone(), json!({"f": "ab"})),
        ["spec.f: Invalid value: \"ab\": spec.f in body should be at least 3 chars long"]
    );
    assert_eq!(
        errors(s.clone(), json!({"f": "abcdef"})),
        ["spec.f: Too long: may not be longer than 5"]
    );
    // Lengths count characters, not bytes.
    assert!(errors(s, json!({"f": "ééé"})).is_empty());
    let v = Validator::new(&resource(field("string", json!({"maxLength": 1})))).unwrap();
    let e = &v.validate(&json!({"spec": {"f": "ab"}}), None)[0];
    assert_eq!(e.kind, FieldErrorKind::TooLong);
    assert_eq!(e.reason(), "FieldValueTooLong");
}

#[test]
fn pattern() {
    let s = field("string", json!({"pattern": "^[a-z][a-z0-9-]*$"}));
    assert_eq!(
        errors(s.clone(), json!({"f": "Web_1"})),
        ["spec.f: Invalid value: \"Web_1\": spec.f in body should match '^[a-z][a-z0-9-]*$'"]
    );
    assert!(errors(s, json!({"f": "web-1"})).is_empty());
}

#[test]
fn formats() {
    assert_eq!(
        errors(
            field("string", json!({"format": "email"})),
            json!({"f": "nope"})
        ),
        ["spec.f: Invalid value: \"nope\": spec.f in body must be of type email: \"nope\""]
    );
    assert_eq!(
        errors(
            field("string", json!({"format": "date-time"})),
            json!({"f": "2024-13-01"})
        ),
        [
            "spec.f: Invalid value: \"2024-13-01\": spec.f in body must be of type date-time: \"2024-13-01\""
        ]
    );
    assert!(
        errors(
            field("string", json!({"format": "date-time"})),
            json!({"f": "2024-01-02T03:04:05Z"})
        )
        .is_empty()
    );
    assert!(
        errors(
            field("string", json!({"format": "ipv4"})),
            json!({"f": "10.1.2.3"})
        )
        .is_empty()
    );
    assert_eq!(
        errors(
            field("string", json!({"format": "ipv6"})),
            json!({"f": "10.1.2.3"})
        )
        .len(),
        1
    );
    assert_eq!(
        errors(
            field("string", json!({"format": "cidr"})),
            json!({"f": "10.1.2.3"})
        )
        .len(),
        1
    );
    assert_eq!(
        errors(
            field("string", json!({"format": "hostname"})),
            json!({"f": "a_b"})
        )
        .len(),
        1
    );
    assert_eq!(
        errors(
            field("string", json!({"format": "byte"})),
            json!({"f": "!!"})
        )
        .len(),
        1
    );
    assert_eq!(
        errors(
            field("string", json!({"format": "date"})),
            json!({"f": "2024-02-30"})
        )
        .len(),
        1
    );
    assert!(
        errors(
            field("string", json!({"format": "uri"})),
            json!({"f": "https://suido.dev"})
        )
        .is_empty()
    );
    // Unknown formats are ignored, as are the numeric ones on integers.
    assert!(
        errors(
            field("string", json!({"format": "k8s-fancy"})),
            json!({"f": "anything"})
        )
        .is_empty()
    );
    assert!(
        errors(
            field("integer", json!({"format": "int32"})),
            json!({"f": 5_000_000_000_i64})
        )
        .is_empty()
    );
}

#[test]
fn array_bounds_and_uniqueness() {
    let s = json!({"type": "object", "properties": {"l": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": true, "items": {"type": "string"}}}});
    assert_eq!(
        errors(s.clone(), json!({"l": []})),
        ["spec.l: Invalid value: 0: spec.l in body should have at least 1 items"]
    );
    assert_eq!(
        errors(s.clone(), json!({"l": ["a", "b", "c"]})),
        ["spec.l: Too many: 3: must have at most 2 items"]
    );
    assert_eq!(
        errors(s.clone(), json!({"l": ["a", "a"]})),
        ["spec.l: Invalid value: \"\": spec.l in body shouldn't contain duplicates"]
    );
    assert_eq!(
        errors(s, json!({"l": ["a", 1]})),
        [
            "spec.l[1]: Invalid value: \"integer\": spec.l[1] in body must be of type string: \"integer\""
        ]
    );
}

#[test]
fn nested_paths() {
    let s = json!({"type": "object", "properties": {"disks": {"type": "array", "items": {
        "type": "object", "properties": {"sizeGb": {"type": "integer", "minimum": 10}}}}}});
    assert_eq!(
        errors(s, json!({"disks": [{"sizeGb": 20}, {"sizeGb": 5}]})),
        [
            "spec.disks[1].sizeGb: Invalid value: 5: spec.disks[1].sizeGb in body should be greater than or equal to 10"
        ]
    );
}

#[test]
fn object_property_counts() {
    let s = json!({"type": "object", "properties": {"m": {"type": "object", "minProperties": 1, "maxProperties": 2,
        "additionalProperties": {"type": "string"}}}});
    assert_eq!(
        errors(s.clone(), json!({"m": {}})),
        ["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"]
    );
    assert_eq!(
        errors(s.clone(), json!({"m": {"a": "1", "b": "2", "c": "3"}})),
        ["spec.m: Too many: 3: must have at most 2 items"]
    );
    assert_eq!(
        errors(s, json!({"m": {"a": 1}})),
        [
            "spec.m.a: Invalid value: \"integer\": spec.m.a in body must be of type string: \"integer\""
        ]
    );
}

#[test]
fn int_or_string() {
    let s = json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}});
    assert!(errors(s.clone(), json!({"port": 80})).is_empty());
    assert!(errors(s.clone(), json!({"port": "http"})).is_empty());
    let errs = errors(s, json!({"port": true}));
    assert_eq!(
        errs[0],
        "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""
    );
}

#[test]
fn any_of_one_of_all_of_not() {
    let any = json!({"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}},
        "anyOf": [{"required": ["x"]}, {"required": ["y"]}]});
    assert!(errors(any.clone(), json!({"x": "1"})).is_empty());
    let errs = errors(any, json!({}));
    assert_eq!(
        errs[0],
        "<nil>: Invalid value: \"\": \"spec\" must validate at least one schema (anyOf)"
    );
    assert_eq!(errs[1], "spec.x: Required value");

    let one = json!({"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}},
        "oneOf": [{"required": ["x"]}, {"required": ["y"]}]});
    assert!(errors(one.clone(), json!({"x": "1"})).is_empty());
    assert_eq!(
        errors(one, json!({"x": "1", "y": "2"})),
        [
            "<nil>: Invalid value: \"\": \"spec\" must validate one and only one schema (oneOf). Found 2 valid alternatives"
        ]
    );

    let all = json!({"type": "object", "properties": {"n": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]}}});
    assert!(errors(all.clone(), json!({"n": 2})).is_empty());
    assert_eq!(
        errors(all, json!({"n": 5})),
        [
            "spec.n: Invalid value: 5: spec.n in body should be less than or equal to 3",
            "<nil>: Invalid value: \"\": \"spec.n\" must validate all the schemas (allOf)"
        ]
    );

    let not = json!({"type": "object", "properties": {"s": {"type": "string", "not": {"enum": ["root"]}}}});
    assert!(errors(not.clone(), json!({"s": "web"})).is_empty());
    assert_eq!(
        errors(not, json!({"s": "root"})),
        ["<nil>: Invalid value: \"\": \"spec.s\" must not validate the schema (not)"]
    );
}

#[test]
fn list_type_set_and_map() {
    let s = json!({"type": "object", "properties": {
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
        "multi": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}}
    }});
    assert_eq!(
        errors(s.clone(), json!({"tags": ["a", "b", "a", "a"]})),
        ["spec.tags[2]: Duplicate value: \"a\""]
    );
    assert_eq!(
        errors(
            s.clone(),
            json!({"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}]})
        ),
        ["spec.ports[1]: Duplicate value: {\"name\":\"http\"}"]
    );
    assert_eq!(
        errors(
            s.clone(),
            json!({"multi": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}]})
        ),
        ["spec.multi[2]: Duplicate value: {\"port\":80,\"protocol\":\"TCP\"}"]
    );
    assert!(
        errors(
            s,
            json!({"tags": ["a", "b"], "ports": [{"name": "a"}, {"name": "b"}]})
        )
        .is_empty()
    );
}

#[test]
fn embedded_resource_needs_kind_and_api_version() {
    let s = json!({"type": "object", "properties": {"template": {"type": "object",
        "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}});
    assert_eq!(
        errors(s.clone(), json!({"template": {"kind": "Pod"}})),
        ["spec.template.apiVersion: Required value: must not be empty"]
    );
    assert!(errors(s, json!({"template": {"kind": "Pod", "apiVersion": "v1"}})).is_empty());
}

#[test]
fn several_errors_are_all_reported() {
    let s = json!({"type": "object", "required": ["os"], "properties": {
        "os": {"type": "string"}, "replicas": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "maxLength": 3}}});
    assert_eq!(
        errors(s, json!({"replicas": 0, "name": "abcd"})),
        [
            "spec.name: Too long: may not be longer than 3",
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
            "spec.os: Required value",
        ]
    );
}

#[test]
fn invalid_defaults_are_schema_errors() {
    let bad = Validator::new(&resource(field(
        "integer",
        json!({"minimum": 1, "default": 0}),
    )))
    .expect_err("refused");
    assert_eq!(
        bad.path,
        "openAPIV3Schema.properties[spec].properties[f].default"
    );
    assert!(bad.message.contains("greater than or equal to 1"), "{bad}");
    assert!(
        Validator::new(&resource(field(
            "string",
            json!({"enum": ["a"], "default": "b"})
        )))
        .is_err()
    );
    assert!(Validator::new(&resource(field("string", json!({"default": 3})))).is_err());
    // A default object is defaulted before it is checked, and must carry no unknown fields.
    let nested = json!({"type": "object", "properties": {"o": {"type": "object", "default": {}, "required": ["x"],
        "properties": {"x": {"type": "integer", "default": 1}}}}});
    assert!(Validator::new(&resource(nested)).is_ok());
    let unknown = json!({"type": "object", "properties": {"o": {"type": "object", "default": {"y": 1},
        "properties": {"x": {"type": "integer"}}}}});
    assert!(Validator::new(&resource(unknown)).is_err());
}
