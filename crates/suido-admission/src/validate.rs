//! Structural (OpenAPI v3) validation, list-type invariants and embedded-resource
//! checks, reporting errors as the apiserver does.
//!
//! The schema walk mirrors kube-openapi's `SchemaValidator`: each node runs its type,
//! `allOf`/`anyOf`/`oneOf`/`not`, string, format, number, array, enum and object
//! checks, each check applying according to the kind of the data, and errors are
//! converted to field errors as `kubeOpenAPIResultToFieldErrors` converts them. Paths
//! inside the detail text use kube-openapi's spelling (`spec.map.key`, `spec.list[0]`).

use crate::error::{FieldError, go_float, go_quote};
use crate::formats;
use crate::schema::Node;
use serde_json::{Map, Value};

/// The JSON type name of a value, as kube-openapi infers it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The field of an error raised at kube-openapi path `name`.
fn err_field(name: &str) -> String {
    let trimmed = name.strip_prefix('.').unwrap_or(name);
    if trimmed.is_empty() {
        "<nil>".to_string()
    } else {
        trimmed.to_string()
    }
}

/// One step down a path.
#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    /// A property: `.name`, or `name` at the root.
    Field(&'a str),
    /// A list item: `[i]`.
    Index(usize),
    /// A map key as kube-openapi spells it: `.key`.
    DotKey(&'a str),
    /// A map key as field paths spell it: `[key]` (`<nil>[key]` at the root).
    Key(&'a str),
}

/// Runs `f` with `seg` appended to `path`, then restores `path`: paths are built in one
/// buffer and only copied out when an error is reported.
pub(crate) fn descend<R>(path: &mut String, seg: Seg<'_>, f: impl FnOnce(&mut String) -> R) -> R {
    let len = path.len();
    match seg {
        Seg::Field(name) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
        }
        Seg::Index(i) => {
            path.push('[');
            path.push_str(&i.to_string());
            path.push(']');
        }
        Seg::DotKey(k) => {
            path.push('.');
            path.push_str(k);
        }
        Seg::Key(k) => {
            if path.is_empty() {
                path.push_str("<nil>");
            }
            path.push('[');
            path.push_str(k);
            path.push(']');
        }
    }
    let r = f(path);
    path.truncate(len);
    r
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Whether a float holds a whole number (`swag.IsFloat64AJSONInteger`).
fn is_whole(f: f64) -> bool {
    f.is_finite() && (f - f.round()).abs() < 1e-9 * f.abs().max(1.0)
}

/// JSON equality where numbers compare by value (1 == 1.0), as Go's DeepEqual on
/// unstructured data after conversion does for the apiserver's checks.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Validates `v` against `node`; `path` is the kube-openapi path of `v`.
///
/// `old` is the correlated value of the stored object on update. As with the apiserver's
/// validation ratcheting, a value equal to its old value reports no errors: what was
/// stored before is not refused again.
pub(crate) fn validate_node(
    v: &Value,
    old: Option<&Value>,
    node: &Node,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    if old.is_some_and(|o| json_eq(o, v)) {
        return;
    }
    if v.is_null() {
        if node.has_type() && !node.nullable {
            errs.push(type_error(path, &node.types_joined(), "null"));
        }
        check_enum(v, node, path, errs);
        return;
    }
    check_type(v, node, path, errs);
    check_combinators(v, node, path, errs);
    match v {
        Value::String(s) => {
            check_string(s, node, path, errs);
            if let Some(format) = &node.format
                && formats::check(format, s) == Some(false)
            {
                errs.push(type_error(path, format, s));
            }
        }
        Value::Number(n) => check_number(n, node, path, errs),
        Value::Array(items) => check_array(items, old, node, path, errs),
        _ => {}
    }
    check_enum(v, node, path, errs);
    if let Value::Object(map) = v {
        check_object(map, old.and_then(Value::as_object), node, path, errs);
    }
}

/// `errors.InvalidType` converted to `field.TypeInvalid`.
fn type_error(path: &str, type_name: &str, value: &str) -> FieldError {
    FieldError::type_invalid(
        err_field(path),
        Value::String(value.to_string()),
        format!(
            "{path} in body must be of type {type_name}: {}",
            go_quote(value)
        ),
    )
}

fn check_type(v: &Value, node: &Node, path: &str, errs: &mut Vec<FieldError>) {
    if !node.has_type() && node.format.is_none() {
        return;
    }
    let sch_type = json_type(v);
    let data_format = match sch_type {
        "integer" => "int64",
        "number" => "float64",
        _ => "",
    };
    let is_float_int =
        sch_type == "number" && v.as_f64().is_some_and(is_whole) && node.type_contains("integer");
    let is_int_float = sch_type == "integer" && node.type_contains("number");
    let string_or_slice = matches!(v, Value::String(_) | Value::Array(_));
    if let Some(format) = &node.format {
        let compatible =
            node.type_contains(sch_type) || data_format == format || is_float_int || is_int_float;
        if !string_or_slice && !compatible {
            errs.push(type_error(path, format, data_format));
            return;
        }
        if !(node.type_contains("number") || node.type_contains("integer")) && string_or_slice {
            return;
        }
    }
    if !(node.type_contains(sch_type) || is_float_int || is_int_float) {
        errs.push(type_error(path, &node.types_joined(), sch_type));
    }
}

/// A kube-openapi error that is not a `*errors.Validation`: reported on no field.
fn generic_error(detail: String) -> FieldError {
    FieldError::invalid("<nil>", Some(Value::String(String::new())), detail)
}

fn check_combinators(v: &Value, node: &Node, path: &mut String, errs: &mut Vec<FieldError>) {
    fn run_alt(v: &Value, alt: &Node, path: &mut String) -> Vec<FieldError> {
        let mut e = Vec::new();
        validate_node(v, None, alt, path, &mut e);
        e
    }
    let quoted = go_quote(path);
    let mut run = |alt: &Node| run_alt(v, alt, path);
    if !node.any_of.is_empty() {
        let mut best: Option<Vec<FieldError>> = None;
        let mut ok = false;
        for alt in &node.any_of {
            let e = run(alt);
            if e.is_empty() {
                ok = true;
                break;
            }
            if best.as_ref().is_none_or(|b| e.len() < b.len()) {
                best = Some(e);
            }
        }
        if !ok {
            errs.push(generic_error(format!(
                "{} must validate at least one schema (anyOf)",
                quoted
            )));
            errs.extend(best.unwrap_or_default());
        }
    }
    if !node.one_of.is_empty() {
        let mut best: Option<Vec<FieldError>> = None;
        let mut valid = 0;
        for alt in &node.one_of {
            let e = run(alt);
            if e.is_empty() {
                valid += 1;
            } else if valid == 0 && best.as_ref().is_none_or(|b| e.len() < b.len()) {
                best = Some(e);
            }
        }
        if valid != 1 {
            let extra = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            errs.push(generic_error(format!(
                "{} must validate one and only one schema (oneOf). {extra}",
                quoted
            )));
            if valid == 0 {
                errs.extend(best.unwrap_or_default());
            }
        }
    }
    if !node.all_of.is_empty() {
        let mut valid = 0;
        let mut collected = Vec::new();
        for alt in &node.all_of {
            let e = run(alt);
            if e.is_empty() {
                valid += 1;
            }
            collected.extend(e);
        }
        errs.extend(collected);
        if valid != node.all_of.len() {
            let extra = if valid == 0 { ". None validated" } else { "" };
            errs.push(generic_error(format!(
                "{} must validate all the schemas (allOf){extra}",
                quoted
            )));
        }
    }
    if let Some(not) = &node.not
        && run(not).is_empty()
    {
        errs.push(generic_error(format!(
            "{} must not validate the schema (not)",
            quoted
        )));
    }
}

fn check_string(s: &str, node: &Node, path: &str, errs: &mut Vec<FieldError>) {
    let len = s.chars().count() as i64;
    let value = || Value::String(s.to_string());
    if let Some(max) = node.max_length
        && len > max
    {
        errs.push(FieldError::too_long(err_field(path), value(), max));
        return;
    }
    if let Some(min) = node.min_length
        && len < min
    {
        errs.push(FieldError::invalid(
            err_field(path),
            Some(value()),
            format!("{path} in body should be at least {min} chars long"),
        ));
        return;
    }
    if let Some((pattern, re)) = &node.pattern
        && !re.is_match(s)
    {
        errs.push(FieldError::invalid(
            err_field(path),
            Some(value()),
            format!("{path} in body should match '{pattern}'"),
        ));
    }
}

fn check_number(n: &serde_json::Number, node: &Node, path: &str, errs: &mut Vec<FieldError>) {
    let value = Value::Number(n.clone());
    let int = n.as_i64();
    let f = n.as_f64().unwrap_or(0.0);
    let invalid =
        |detail: String| FieldError::invalid(err_field(path), Some(value.clone()), detail);

    if let Some(factor) = node.multiple_of {
        let failed = match int {
            // Go converts the factor to int64 for integer data.
            Some(i) if factor >= 1.0 => {
                let fi = factor as i64;
                (fi != 0 && i % fi != 0).then(|| fi.to_string())
            }
            _ => {
                let mult = if factor < 1.0 {
                    (1.0 / factor) * f
                } else {
                    f / factor
                };
                (!is_whole(mult)).then(|| go_float(factor))
            }
        };
        if let Some(shown) = failed {
            errs.push(invalid(format!(
                "{path} in body should be a multiple of {shown}"
            )));
        }
    }
    if let Some(max) = node.maximum {
        let excl = node.exclusive_maximum;
        let failed = match int {
            Some(i) => {
                let m = max as i64;
                ((!excl && i > m) || (excl && i >= m)).then(|| m.to_string())
            }
            None => ((!excl && f > max) || (excl && f >= max)).then(|| go_float(max)),
        };
        if let Some(shown) = failed {
            let op = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(invalid(format!("{path} in body should be {op} {shown}")));
        }
    }
    if let Some(min) = node.minimum {
        let excl = node.exclusive_minimum;
        let failed = match int {
            Some(i) => {
                let m = min as i64;
                ((!excl && i < m) || (excl && i <= m)).then(|| m.to_string())
            }
            None => ((!excl && f < min) || (excl && f <= min)).then(|| go_float(min)),
        };
        if let Some(shown) = failed {
            let op = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(invalid(format!("{path} in body should be {op} {shown}")));
        }
    }
}

fn check_array(
    items: &[Value],
    old: Option<&Value>,
    node: &Node,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    if let Some(item_schema) = node.items.as_deref() {
        let old_items = old.and_then(Value::as_array);
        for (i, item) in items.iter().enumerate() {
            let old_item = old_items.and_then(|o| correlate_item(item, o, node));
            descend(path, Seg::Index(i), |p| {
                validate_node(item, old_item, item_schema, p, errs)
            });
        }
    }
    let size = items.len() as i64;
    if let Some(min) = node.min_items
        && size < min
    {
        errs.push(FieldError::invalid(
            err_field(path),
            Some(Value::from(size)),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = node.max_items
        && size > max
    {
        errs.push(FieldError::too_many(err_field(path), size, max));
    }
    if node.unique_items {
        let dup = items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].iter().any(|b| json_eq(a, b)));
        if dup {
            errs.push(FieldError::invalid(
                err_field(path),
                Some(Value::String(String::new())),
                format!("{path} in body shouldn't contain duplicates"),
            ));
        }
    }
}

fn check_enum(v: &Value, node: &Node, path: &str, errs: &mut Vec<FieldError>) {
    let Some(values) = &node.enum_values else {
        return;
    };
    if values.is_empty() || values.iter().any(|e| json_eq(e, v)) {
        return;
    }
    let allowed = values
        .iter()
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    errs.push(FieldError::not_supported(
        err_field(path),
        v.clone(),
        allowed,
    ));
}

fn check_object(
    map: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    node: &Node,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    let n = map.len() as i64;
    if let Some(min) = node.min_properties
        && n < min
    {
        errs.push(FieldError::invalid(
            err_field(path),
            Some(Value::from(n)),
            format!("{path} in body should have at least {min} properties"),
        ));
        return;
    }
    if let Some(max) = node.max_properties
        && n > max
    {
        errs.push(FieldError::too_many(err_field(path), n, max));
        return;
    }
    if let Some(additional) = node.additional_properties.as_deref() {
        for (k, v) in map {
            if node.property(k).is_none() {
                let old_v = old.and_then(|o| o.get(k));
                descend(path, Seg::DotKey(k), |p| {
                    validate_node(v, old_v, additional, p, errs)
                });
            }
        }
    }
    for (k, v) in map {
        if let Some(prop) = node.property(k) {
            let old_v = old.and_then(|o| o.get(k));
            descend(path, Seg::Field(k), |p| {
                validate_node(v, old_v, prop, p, errs)
            });
        }
    }
    for k in &node.required {
        if !map.contains_key(k) {
            errs.push(FieldError::required(err_field(&format!("{path}.{k}")), ""));
        }
    }
}

/// `x-kubernetes-list-type` set and map uniqueness (`listtype.ValidateListSetsAndMaps`).
/// `path` uses field-path spelling (`spec.map[key]`).
pub(crate) fn validate_list_types(
    v: &Value,
    node: &Node,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    if !node.has_list_types {
        return;
    }
    match v {
        Value::Object(map) => {
            if let Some(additional) = node.additional_properties.as_deref() {
                for (k, sub) in map {
                    descend(path, Seg::Key(k), |p| {
                        validate_list_types(sub, additional, p, errs)
                    });
                }
            }
            for (k, sub) in map {
                if let Some(prop) = node.property(k) {
                    descend(path, Seg::Field(k), |p| {
                        validate_list_types(sub, prop, p, errs)
                    });
                }
            }
        }
        Value::Array(items) => {
            match node.list_type.as_deref() {
                Some("set") => {
                    for i in first_repeats(items.iter().collect()) {
                        errs.push(FieldError::duplicate(
                            format!("{}[{i}]", display(path)),
                            items[i].clone(),
                        ));
                    }
                }
                Some("map") => validate_list_map(items, node, path, errs),
                _ => {}
            }
            if let Some(item_schema) = node.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    descend(path, Seg::Index(i), |p| {
                        validate_list_types(item, item_schema, p, errs)
                    });
                }
            }
        }
        _ => {}
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "<nil>" } else { path }
}

/// Indices of the second appearance of each repeated value (later repeats are not reported).
fn first_repeats(values: Vec<&Value>) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let earlier = values[..i].iter().filter(|w| json_eq(v, w)).count();
        if earlier == 1 {
            out.push(i);
        }
    }
    out
}

fn validate_list_map(items: &[Value], node: &Node, path: &str, errs: &mut Vec<FieldError>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            errs.push(FieldError::invalid(
                format!("{}[{i}]", display(path)),
                Some(x.clone()),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            if let Value::Object(obj) = x {
                for k in &node.list_map_keys {
                    if let Some(kv) = obj.get(k) {
                        key.insert(k.clone(), kv.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in first_repeats(keys.iter().collect()) {
        errs.push(FieldError::duplicate(
            format!("{}[{i}]", display(path)),
            keys[i].clone(),
        ));
    }
}

/// `x-kubernetes-embedded-resource` objects must carry `apiVersion` and `kind`.
pub(crate) fn validate_embedded(
    v: &Value,
    node: &Node,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    if !node.has_embedded {
        return;
    }
    match v {
        Value::Object(map) => {
            if node.embedded_resource && !path.is_empty() {
                for key in ["apiVersion", "kind"] {
                    let empty = match map.get(key) {
                        None | Some(Value::Null) => true,
                        Some(Value::String(s)) => s.is_empty(),
                        Some(_) => false,
                    };
                    if empty {
                        errs.push(FieldError::required(child(path, key), "must not be empty"));
                    }
                }
            }
            for (k, sub) in map {
                if let Some(prop) = node.property(k) {
                    descend(path, Seg::Field(k), |p| {
                        validate_embedded(sub, prop, p, errs)
                    });
                } else if let Some(additional) = node.additional_properties.as_deref() {
                    descend(path, Seg::Key(k), |p| {
                        validate_embedded(sub, additional, p, errs)
                    });
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    descend(path, Seg::Index(i), |p| {
                        validate_embedded(item, item_schema, p, errs)
                    });
                }
            }
        }
        _ => {}
    }
}

/// The old item a new list item correlates with: by key fields in a `map` list, by
/// value in a `set` list; items of atomic lists do not correlate.
pub(crate) fn correlate_item<'o>(item: &Value, old: &'o [Value], node: &Node) -> Option<&'o Value> {
    match node.list_type.as_deref() {
        Some("map") => {
            let Value::Object(item) = item else {
                return None;
            };
            old.iter().find(|o| {
                let Value::Object(o) = o else { return false };
                node.list_map_keys
                    .iter()
                    .all(|k| match (item.get(k), o.get(k)) {
                        (Some(a), Some(b)) => json_eq(a, b),
                        (None, None) => true,
                        _ => false,
                    })
            })
        }
        Some("set") => old.iter().find(|o| json_eq(o, item)),
        _ => None,
    }
}
