//! CEL `x-kubernetes-validations`: create vs update, transition rules, correlation,
//! messages, reasons and the functions CRD authors commonly use.

use serde_json::{Value, json};
use std::sync::Arc;
use suido_admission::{FieldErrorKind, Validator};

fn validator(spec: Value) -> Validator {
    Validator::new(&json!({"type": "object", "properties": {"spec": spec}}))
        .expect("schema compiles")
}

fn obj(spec: Value) -> Value {
    json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer", "metadata": {"name": "web-1"}, "spec": spec})
}

fn texts(v: &Validator, new: Value, old: Option<Value>) -> Vec<String> {
    let old = old.map(obj);
    v.validate(&obj(new), old.as_ref())
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A spec with one rule on property `f` of type `ty`.
fn rule_on(ty: &str, rule: Value) -> Validator {
    validator(
        json!({"type": "object", "properties": {"f": {"type": ty, "x-kubernetes-validations": [rule]}}}),
    )
}

#[test]
fn immutable_field_only_checked_on_update() {
    let v = rule_on(
        "string",
        json!({"rule": "self == oldSelf", "message": "region is immutable"}),
    );
    assert!(texts(&v, json!({"f": "eu-1"}), None).is_empty());
    assert!(texts(&v, json!({"f": "eu-1"}), Some(json!({"f": "eu-1"}))).is_empty());
    assert_eq!(
        texts(&v, json!({"f": "eu-2"}), Some(json!({"f": "eu-1"}))),
        ["spec.f: Invalid value: \"eu-2\": region is immutable"]
    );
    // No old value at that path: the transition rule is not evaluated.
    assert!(texts(&v, json!({"f": "eu-2"}), Some(json!({}))).is_empty());
}

#[test]
fn grow_only_field() {
    let v = validator(
        json!({"type": "object", "properties": {"osDiskGb": {"type": "integer",
        "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "osDiskGb may only grow"}]}}}),
    );
    assert!(texts(&v, json!({"osDiskGb": 40}), Some(json!({"osDiskGb": 20}))).is_empty());
    assert_eq!(
        texts(&v, json!({"osDiskGb": 10}), Some(json!({"osDiskGb": 20}))),
        ["spec.osDiskGb: Invalid value: 10: osDiskGb may only grow"]
    );
}

#[test]
fn non_transition_rules_run_on_create_and_update() {
    let v = rule_on("integer", json!({"rule": "self % 2 == 0"}));
    let expected = ["spec.f: Invalid value: 3: failed rule: self % 2 == 0"];
    assert_eq!(texts(&v, json!({"f": 3}), None), expected);
    assert_eq!(texts(&v, json!({"f": 3}), Some(json!({"f": 4}))), expected);
}

#[test]
fn rules_on_absent_or_null_nodes_are_not_evaluated() {
    let v = rule_on("string", json!({"rule": "self.size() > 100"}));
    assert!(texts(&v, json!({}), None).is_empty());
    let v = validator(
        json!({"type": "object", "properties": {"f": {"type": "string", "nullable": true,
        "x-kubernetes-validations": [{"rule": "self.size() > 100"}]}}}),
    );
    assert!(texts(&v, json!({"f": null}), None).is_empty());
}

#[test]
fn map_list_items_correlate_by_key() {
    let v = validator(json!({"type": "object", "properties": {"listeners": {
    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
    "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "port": {"type": "integer", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "port is immutable"}]}
    }}}}}));
    let old = json!({"listeners": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]});
    // Reordered, same ports: items correlate by name, not by index.
    assert!(
        texts(
            &v,
            json!({"listeners": [{"name": "https", "port": 443}, {"name": "http", "port": 80}]}),
            Some(old.clone())
        )
        .is_empty()
    );
    // A new listener has no old value: not checked.
    assert!(
        texts(
            &v,
            json!({"listeners": [{"name": "http", "port": 80}, {"name": "admin", "port": 9000}]}),
            Some(old.clone())
        )
        .is_empty()
    );
    assert_eq!(
        texts(
            &v,
            json!({"listeners": [{"name": "https", "port": 8443}, {"name": "http", "port": 80}]}),
            Some(old)
        ),
        ["spec.listeners[0].port: Invalid value: 8443: port is immutable"]
    );
}

#[test]
fn atomic_lists_do_not_correlate_items() {
    let v = validator(
        json!({"type": "object", "properties": {"disks": {"type": "array", "items": {
        "type": "object", "properties": {"sizeGb": {"type": "integer",
            "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]}}}}}}),
    );
    assert!(
        texts(
            &v,
            json!({"disks": [{"sizeGb": 1}]}),
            Some(json!({"disks": [{"sizeGb": 100}]}))
        )
        .is_empty()
    );
}

#[test]
fn additional_properties_correlate_by_key() {
    let v = validator(
        json!({"type": "object", "properties": {"quotas": {"type": "object",
        "additionalProperties": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "quota may only grow"}]}}}}),
    );
    assert_eq!(
        texts(
            &v,
            json!({"quotas": {"cpu": 2, "mem": 8}}),
            Some(json!({"quotas": {"cpu": 4, "mem": 8}}))
        ),
        ["spec.quotas[cpu]: Invalid value: 2: quota may only grow"]
    );
}

#[test]
fn optional_old_self() {
    let v = rule_on(
        "integer",
        json!({"rule": "!oldSelf.hasValue() || self >= oldSelf.value()",
        "optionalOldSelf": true, "message": "may only grow"}),
    );
    assert!(texts(&v, json!({"f": 1}), None).is_empty());
    assert!(texts(&v, json!({"f": 5}), Some(json!({"f": 3}))).is_empty());
    assert_eq!(
        texts(&v, json!({"f": 2}), Some(json!({"f": 3}))),
        ["spec.f: Invalid value: 2: may only grow"]
    );
    let on_create = rule_on(
        "integer",
        json!({"rule": "oldSelf.hasValue()", "optionalOldSelf": true, "message": "update only"}),
    );
    assert_eq!(
        texts(&on_create, json!({"f": 2}), None),
        ["spec.f: Invalid value: 2: update only"]
    );
}

#[test]
fn object_level_rules_and_has() {
    let v = validator(json!({"type": "object",
    "x-kubernetes-validations": [
        {"rule": "has(self.tls) == has(self.certSecret)", "message": "tls and certSecret go together"},
        {"rule": "!has(self.maxReplicas) || self.maxReplicas >= self.minReplicas", "message": "maxReplicas must be >= minReplicas"}
    ],
    "properties": {
        "tls": {"type": "boolean"}, "certSecret": {"type": "string"},
        "minReplicas": {"type": "integer", "default": 1}, "maxReplicas": {"type": "integer"}
    }}));
    assert!(
        texts(
            &v,
            json!({"tls": true, "certSecret": "s", "minReplicas": 1, "maxReplicas": 2}),
            None
        )
        .is_empty()
    );
    assert_eq!(
        texts(
            &v,
            json!({"tls": true, "minReplicas": 3, "maxReplicas": 2}),
            None
        ),
        [
            "spec: Invalid value: tls and certSecret go together",
            "spec: Invalid value: maxReplicas must be >= minReplicas",
        ]
    );
}

#[test]
fn root_rule_and_metadata() {
    let v = Validator::new(&json!({"type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('web-')", "message": "name must start with web-"},
                                     {"rule": "self.kind == 'VirtualServer' && self.apiVersion.endsWith('v1alpha1')"}],
        "properties": {"spec": {"type": "object"}}})).expect("schema compiles");
    assert!(v.validate(&obj(json!({})), None).is_empty());
    let mut other = obj(json!({}));
    other["metadata"]["name"] = json!("db-1");
    let errs: Vec<String> = v
        .validate(&other, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errs, ["<nil>: Invalid value: name must start with web-"]);
}

#[test]
fn message_expression() {
    let v = rule_on(
        "integer",
        json!({"rule": "self <= 64", "messageExpression": "'f must be at most 64, got ' + string(self)"}),
    );
    assert_eq!(
        texts(&v, json!({"f": 65}), None),
        ["spec.f: Invalid value: 65: f must be at most 64, got 65"]
    );
    // A messageExpression that fails falls back to the message.
    let v = rule_on(
        "integer",
        json!({"rule": "self <= 64", "message": "too big", "messageExpression": "self.nope"}),
    );
    assert_eq!(
        texts(&v, json!({"f": 65}), None),
        ["spec.f: Invalid value: 65: too big"]
    );
}

#[test]
fn reasons_and_field_paths() {
    let v = validator(json!({"type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.mode != 'legacy'", "reason": "FieldValueForbidden", "message": "legacy mode is retired", "fieldPath": ".mode"},
            {"rule": "has(self.owner)", "reason": "FieldValueRequired", "message": "owner is required", "fieldPath": ".owner"},
            {"rule": "self.a != self.b", "reason": "FieldValueDuplicate", "fieldPath": ".b"}
        ],
        "properties": {"mode": {"type": "string"}, "owner": {"type": "string"}, "a": {"type": "string"}, "b": {"type": "string"}}}));
    let errs = v.validate(&obj(json!({"mode": "legacy", "a": "x", "b": "x"})), None);
    let t: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        t,
        [
            "spec.mode: Forbidden: legacy mode is retired",
            "spec.owner: Required value: owner is required",
            "spec.b: Duplicate value",
        ]
    );
    assert_eq!(errs[0].kind, FieldErrorKind::Forbidden);
    assert_eq!(errs[1].reason(), "FieldValueRequired");
    assert_eq!(errs[2].reason(), "FieldValueDuplicate");
}

#[test]
fn common_functions() {
    let properties = json!({
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "ratio": {"type": "number"},
        "opt": {"type": "object", "properties": {"x": {"type": "integer"}}}
    });
    let good = json!({"name": "Web-01", "tags": ["prod", "eu"], "ports": [80, 443],
        "labels": {"app": "web"}, "ratio": 1, "opt": {}});
    let rules = [
        "self.name.size() <= 10",
        "'prod' in self.tags",
        "self.ports.all(p, p > 0 && p < 65536)",
        "self.ports.exists(p, p == 443)",
        "self.ports.exists_one(p, p == 80)",
        "self.ports.filter(p, p > 100).size() == 1",
        "self.ports.map(p, p * 2)[0] == 160",
        "self.name.startsWith('Web') && self.name.endsWith('01') && self.name.contains('-')",
        "self.name.matches('^[A-Za-z]+-[0-9]+$')",
        "self.name.lowerAscii() == 'web-01'",
        "self.name.upperAscii().indexOf('B') == 2",
        "self.name + '/' + self.tags[0] == 'Web-01/prod'",
        "'app' in self.labels && self.labels['app'] == 'web'",
        "self.labels.all(k, k.size() < 64)",
        "self.ratio >= 0.5 && self.ratio == 1.0",
        "self.opt.?x.orValue(7) == 7",
        "has(self.opt) ? !has(self.opt.x) : false",
        "self.tags.size() == 2 ? true : false",
        "int(self.ratio) == 1",
        "self.name.split('-').size() == 2",
        "self.name.replace('-', '_') == 'Web_01'",
        "type(self.ports) == list",
        "self.ports.isSorted() && !['b', 'a'].isSorted()",
        "self.ports.sum() == 523 && [1.5, 2.5].sum() == 4.0 && [].sum() == 0",
        "self.ports.min() == 80 && self.ports.max() == 443 && self.tags.min() == 'eu'",
        "self.ports.indexOf(443) == 1 && self.ports.indexOf(1) == -1",
        "[1, 2, 1].lastIndexOf(1) == 2",
        "self.name.indexOf('-') == 3",
        "self.name.find('[0-9]+') == '01' && self.name.findAll('[A-Za-z]') == ['W', 'e', 'b']",
        "'a1b2c3'.findAll('[0-9]', 2) == ['1', '2'] && 'abc'.find('[0-9]') == ''",
        "isURL('https://suido.dev/x') && !isURL('suido dev')",
        "isIP('10.0.0.1') && isIP('fd00::1') && !isIP('10.0.0.256')",
        "isCIDR('10.0.0.0/8') && !isCIDR('10.0.0.0')",
        "isQuantity('1Gi') && isQuantity('500m') && isQuantity('1e3') && !isQuantity('1GB')",
    ];
    for rule in rules {
        let v = validator(json!({"type": "object", "properties": properties.clone(),
            "x-kubernetes-validations": [{"rule": rule}]}));
        assert!(
            texts(&v, good.clone(), None).is_empty(),
            "rule failed: {rule}"
        );
    }
    // And a failing one, to show the rules above really ran.
    let v = validator(json!({"type": "object", "properties": properties,
        "x-kubernetes-validations": [{"rule": "self.ports.sum() > 1000"}]}));
    assert_eq!(
        texts(&v, good, None),
        ["spec: Invalid value: failed rule: self.ports.sum() > 1000"]
    );
}

#[test]
fn escaped_property_names_timestamps_and_durations() {
    let v = validator(json!({"type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.x__dash__y == 1 && self.__namespace__ == 'ns'", "message": "escaping"},
        {"rule": "self.start < self.end", "message": "start must be before end"},
        {"rule": "self.timeout <= duration('1h') && self.timeout > duration('90s')", "message": "timeout between 90s and 1h"}
    ],
    "properties": {
        "x-y": {"type": "integer"}, "namespace": {"type": "string"},
        "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
        "timeout": {"type": "string", "format": "duration"}
    }}));
    let spec = |start: &str, timeout: &str| json!({"x-y": 1, "namespace": "ns", "start": start, "end": "2024-01-02T00:00:00Z", "timeout": timeout});
    assert!(texts(&v, spec("2024-01-01T00:00:00Z", "1h"), None).is_empty());
    assert_eq!(
        texts(&v, spec("2024-01-03T00:00:00Z", "2m"), None),
        ["spec: Invalid value: start must be before end"]
    );
    assert_eq!(
        texts(&v, spec("2024-01-01T00:00:00Z", "30s"), None),
        ["spec: Invalid value: timeout between 90s and 1h"]
    );
}

#[test]
fn evaluation_errors() {
    let v = validator(
        json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.a == 1"}],
        "properties": {"a": {"type": "integer"}}}),
    );
    assert_eq!(
        texts(&v, json!({}), None),
        ["spec: Invalid value: \"object\": no such key: a evaluating rule: self.a == 1"]
    );
}

#[test]
fn blocking_schema_errors_skip_cel() {
    let v = validator(json!({"type": "object", "required": ["os"], "properties": {
        "os": {"type": "string"},
        "size": {"type": "integer", "x-kubernetes-validations": [{"rule": "self > 100"}]}}}));
    assert_eq!(
        texts(&v, json!({"size": 1}), None),
        [
            "spec.os: Required value",
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ]
    );
    // A non-blocking schema error (minimum is FieldValueInvalid) lets CEL run.
    let v = validator(json!({"type": "object", "properties": {
        "size": {"type": "integer", "minimum": 5, "x-kubernetes-validations": [{"rule": "self > 100"}]}}}));
    assert_eq!(
        texts(&v, json!({"size": 1}), None),
        [
            "spec.size: Invalid value: 1: spec.size in body should be greater than or equal to 5",
            "spec.size: Invalid value: 1: failed rule: self > 100",
        ]
    );
}

#[test]
fn uncompilable_rules_are_schema_errors() {
    let bad = |rule: Value| {
        Validator::new(
            &json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}}, "x-kubernetes-validations": [rule]}}}),
        )
        .expect_err("schema must be rejected")
    };
    let e = bad(json!({"rule": "self.a =="}));
    assert_eq!(
        e.path,
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    );
    assert_eq!(e.rule.as_deref(), Some("self.a =="));
    assert!(e.to_string().contains("compilation failed"), "{e}");
    assert!(
        bad(json!({"rule": "true", "reason": "Nope"}))
            .to_string()
            .contains("reason")
    );
    assert!(
        bad(json!({"rule": "true", "fieldPath": ".missing"}))
            .to_string()
            .contains("does not refer to a valid field")
    );
    assert!(
        bad(json!({"rule": "true", "optionalOldSelf": true}))
            .to_string()
            .contains("oldSelf")
    );
    assert!(
        bad(json!({"message": "no rule"}))
            .to_string()
            .contains("rule")
    );
    assert!(
        bad(json!({"rule": "true", "messageExpression": "'a' +"}))
            .to_string()
            .contains("messageExpression")
    );
}

#[test]
fn shared_across_threads() {
    let v = Arc::new(rule_on(
        "integer",
        json!({"rule": "self >= oldSelf", "message": "may only grow"}),
    ));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let v = Arc::clone(&v);
            std::thread::spawn(move || {
                (0..200)
                    .filter(|i| {
                        !v.validate(&obj(json!({"f": i + t})), Some(&obj(json!({"f": 100}))))
                            .is_empty()
                    })
                    .count()
            })
        })
        .collect();
    let failures: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(failures, [100, 99, 98, 97]);
}

#[test]
fn immutable_sets_and_map_lists_ignore_order() {
    let v = validator(json!({"type": "object", "properties": {
        "packages": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "packages are immutable"}]},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}},
            "x-kubernetes-validations": [{"rule": "oldSelf == self", "message": "ports are immutable"}]},
        "order": {"type": "array", "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "order is immutable"}]}
    }}));
    let old = json!({"packages": ["SQLServer", "OracleSE"], "ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}], "order": ["x", "y"]});
    assert!(texts(&v, json!({"packages": ["OracleSE", "SQLServer"], "ports": [{"name": "b", "port": 2}, {"name": "a", "port": 1}], "order": ["x", "y"]}), Some(old.clone())).is_empty());
    assert_eq!(
        texts(
            &v,
            json!({"packages": ["OracleSE"], "ports": [{"name": "b", "port": 3}, {"name": "a", "port": 1}], "order": ["y", "x"]}),
            Some(old)
        ),
        [
            "spec.order: Invalid value: order is immutable",
            "spec.packages: Invalid value: packages are immutable",
            "spec.ports: Invalid value: ports are immutable",
        ]
    );
}

#[test]
fn rules_selecting_undeclared_fields_do_not_compile() {
    let compile = |rule: &str| {
        Validator::new(
            &json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {
                "size": {"type": "string"},
                "disks": {"type": "array", "items": {"type": "object", "properties": {"sizeGb": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            },
            "x-kubernetes-validations": [{"rule": rule}]}}}),
        )
    };
    let e = compile("self.sise == 'S'").expect_err("typo is refused");
    assert!(e.to_string().contains("undefined field 'sise'"), "{e}");
    assert!(compile("has(self.nope)").is_err());
    assert!(compile("self.?nope.orValue('') == ''").is_err());
    assert!(compile("self.size == 'S' && self.disks.all(d, d.sizeGb > 0)").is_ok());
    assert!(compile("self.labels.anything == 'x' && has(self.free.whatever)").is_ok());
}
