//! CEL `x-kubernetes-validations`: compiling rules once, converting JSON to CEL values
//! the way the apiserver types them from the schema, and evaluating rules with
//! `self`/`oldSelf` as `apiextensions-apiserver/pkg/apiserver/schema/cel` does.
//!
//! Programs are compiled with the `cel` crate against one shared environment (the
//! standard library plus the strings, lists and math extensions). `cel::Program` and
//! `cel::Env` are `Send + Sync`, so compiled programs live in the validator and are
//! evaluated concurrently; each evaluation builds a cheap `Context` of its own.
//!
//! Values borrow from the JSON being validated (strings and map keys are not copied).
//! Object properties are visible under their CEL-escaped names (`__dash__`, `__dot__`,
//! ...), resource roots expose `apiVersion`, `kind` and `metadata.name`/`generateName`,
//! integers are `int`, numbers `double`, and strings of format `date-time`/`date`
//! become timestamps, `duration` becomes a duration and `byte` becomes bytes.

use crate::error::{FieldError, SchemaError};
use crate::schema::{Node, Type};
use crate::validate::{Seg, descend};
use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr, LiteralValue, operators};
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelNull,
    CelOptional, CelString, CelTimestamp, CelUInt,
};
use cel::common::value::Val;
use cel::{Context, Env, ExecutionError, Program};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The `reason` a failing rule reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Invalid,
    Forbidden,
    Required,
    Duplicate,
}

/// One compiled `x-kubernetes-validations` entry.
pub(crate) struct CompiledRule {
    rule: String,
    message: String,
    program: Program,
    message_expression: Option<Program>,
    reason: Reason,
    /// The normalized `fieldPath`, e.g. `spec.foo` or `labels[app]`.
    field_path: Option<String>,
    optional_old_self: bool,
    uses_old_self: bool,
    /// `Some(true)` for `self == oldSelf`, `Some(false)` for `self != oldSelf`: evaluated
    /// natively with the apiserver's list-type-aware equality (sets and map lists
    /// compare regardless of order).
    native_eq: Option<bool>,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("rule", &self.rule)
            .finish()
    }
}

impl CompiledRule {
    /// Whether the rule is `self == oldSelf`/`self != oldSelf`, evaluated without CEL.
    fn is_native(&self) -> bool {
        self.native_eq.is_some() && !self.optional_old_self
    }

    /// `ruleErrorString`: the trimmed message, or the trimmed rule.
    fn error_string(&self) -> &str {
        if self.message.is_empty() {
            self.rule.trim()
        } else {
            &self.message
        }
    }

    /// `ruleMessageOrDefault`.
    fn default_message(&self) -> String {
        if self.message.is_empty() {
            format!("failed rule: {}", self.rule.trim())
        } else {
            self.message.clone()
        }
    }
}

/// The environment every rule is compiled and evaluated against.
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Registering an extension fails only on a name clash with what is already
        // registered; the environment is still usable without it.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        let _ = env.add_extension(cel::extensions::math);
        let _ = crate::k8s_lib::register(&mut env);
        Arc::new(env)
    })
}

/// Compiles one rule object found at schema path `path` on `node`.
pub(crate) fn compile_rule(
    rule: &Value,
    path: &str,
    node: &Node,
) -> Result<CompiledRule, SchemaError> {
    let obj = rule
        .as_object()
        .ok_or_else(|| SchemaError::new(path, "validation rule must be an object"))?;
    let source = match obj.get("rule") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(SchemaError::new(
                &format!("{path}.rule"),
                "Required value: rule is not specified",
            ));
        }
    };
    let string = |key: &str| -> Result<Option<String>, SchemaError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(SchemaError::with_rule(
                &format!("{path}.{key}"),
                &source,
                "must be a string",
            )),
        }
    };
    let message = string("message")?
        .map(|m| m.trim().to_string())
        .unwrap_or_default();
    if message.contains('\n') {
        return Err(SchemaError::with_rule(
            &format!("{path}.message"),
            &source,
            "message must not contain line breaks",
        ));
    }
    let program = env().compile(&source).map_err(|e| {
        SchemaError::with_rule(
            &format!("{path}.rule"),
            &source,
            format!("compilation failed: {e}"),
        )
    })?;
    let resource_root = node.embedded_resource || !path.contains(".properties");
    check_fields(program.expression(), node, resource_root).map_err(|e| {
        SchemaError::with_rule(
            &format!("{path}.rule"),
            &source,
            format!("compilation failed: {e}"),
        )
    })?;
    let uses_old_self = program.references().has_variable("oldSelf");
    let native_eq = self_old_self_equality(program.expression());

    let message_expression = match string("messageExpression")? {
        Some(src) if !src.trim().is_empty() => Some(env().compile(&src).map_err(|e| {
            SchemaError::with_rule(
                &format!("{path}.messageExpression"),
                &source,
                format!("messageExpression compilation failed: {e}"),
            )
        })?),
        Some(_) => {
            return Err(SchemaError::with_rule(
                &format!("{path}.messageExpression"),
                &source,
                "must be non-empty if specified",
            ));
        }
        None => None,
    };

    let reason = match string("reason")?.as_deref() {
        None | Some("FieldValueInvalid") => Reason::Invalid,
        Some("FieldValueForbidden") => Reason::Forbidden,
        Some("FieldValueRequired") => Reason::Required,
        Some("FieldValueDuplicate") => Reason::Duplicate,
        Some(other) => {
            return Err(SchemaError::with_rule(
                &format!("{path}.reason"),
                &source,
                format!(
                    "Unsupported value: {other:?}: supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
                ),
            ));
        }
    };

    let field_path = match string("fieldPath")? {
        Some(fp) if !fp.is_empty() => Some(normalize_field_path(&fp, node).map_err(|e| {
            SchemaError::with_rule(
                &format!("{path}.fieldPath"),
                &source,
                format!("Invalid value: {fp:?}: {e}"),
            )
        })?),
        _ => None,
    };

    let optional_old_self = obj
        .get("optionalOldSelf")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if optional_old_self && !uses_old_self {
        return Err(SchemaError::with_rule(
            &format!("{path}.optionalOldSelf"),
            &source,
            "may not be set if rule does not use oldSelf",
        ));
    }

    Ok(CompiledRule {
        rule: source,
        message,
        program,
        message_expression,
        reason,
        field_path,
        optional_old_self,
        uses_old_self,
        native_eq,
    })
}

/// What a sub-expression is known to be, for the field check.
enum Resolved<'n> {
    /// A value of this schema node.
    Node(&'n Node, bool),
    /// Something the check does not follow (a comprehension variable, a call result, ...).
    Unknown,
}

/// Rejects selections of fields the schema does not declare on `self`/`oldSelf`
/// (`undefined field 'x'`), as the apiserver's type checker does at CRD creation.
fn check_fields(e: &IdedExpr, node: &Node, resource_root: bool) -> Result<(), String> {
    resolve(e, node, resource_root).map(|_| ())
}

fn resolve<'n>(e: &IdedExpr, node: &'n Node, root: bool) -> Result<Resolved<'n>, String> {
    let select = |parent: Resolved<'n>, field: &str| -> Result<Resolved<'n>, String> {
        let Resolved::Node(p, p_root) = parent else {
            return Ok(Resolved::Unknown);
        };
        if p_root && matches!(field, "apiVersion" | "kind" | "metadata") {
            return Ok(Resolved::Unknown);
        }
        if let Some(additional) = p.additional_properties.as_deref() {
            return Ok(Resolved::Node(additional, additional.embedded_resource));
        }
        if p.properties.is_empty() {
            return Ok(Resolved::Unknown);
        }
        match p
            .properties
            .iter()
            .find(|(k, _)| escape(k).as_deref() == Some(field))
        {
            Some((_, prop)) => Ok(Resolved::Node(prop, prop.embedded_resource)),
            None if p.preserve_unknown => Ok(Resolved::Unknown),
            None => Err(format!("undefined field '{field}'")),
        }
    };
    match &e.expr {
        Expr::Ident(n) if n == "self" || n == "oldSelf" => Ok(Resolved::Node(node, root)),
        Expr::Select(sel) => {
            let parent = resolve(&sel.operand, node, root)?;
            let field = select(parent, &sel.field)?;
            Ok(if sel.test { Resolved::Unknown } else { field })
        }
        Expr::Call(call) => {
            if let Some(t) = call.target.as_deref() {
                resolve(t, node, root)?;
            }
            let mut args = Vec::with_capacity(call.args.len());
            for a in &call.args {
                args.push(resolve(a, node, root)?);
            }
            if call.func_name == operators::OPT_SELECT
                && let (Some(parent), Some(arg)) = (args.into_iter().next(), call.args.get(1))
                && let Expr::Literal(LiteralValue::String(f)) = &arg.expr
            {
                select(parent, f.inner())?;
            }
            Ok(Resolved::Unknown)
        }
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                resolve(x, node, root)?;
            }
            Ok(Resolved::Unknown)
        }
        Expr::List(l) => {
            for x in &l.elements {
                resolve(x, node, root)?;
            }
            Ok(Resolved::Unknown)
        }
        Expr::Map(m) => {
            for x in &m.entries {
                if let EntryExpr::MapEntry(me) = &x.expr {
                    resolve(&me.key, node, root)?;
                    resolve(&me.value, node, root)?;
                }
            }
            Ok(Resolved::Unknown)
        }
        _ => Ok(Resolved::Unknown),
    }
}

/// Recognizes `self == oldSelf` (true) and `self != oldSelf` (false), either way round.
fn self_old_self_equality(e: &IdedExpr) -> Option<bool> {
    let Expr::Call(call) = &e.expr else {
        return None;
    };
    let want = match call.func_name.as_str() {
        operators::EQUALS => true,
        operators::NOT_EQUALS => false,
        _ => return None,
    };
    fn name(x: &IdedExpr) -> Option<&str> {
        match &x.expr {
            Expr::Ident(n) => Some(n.as_str()),
            _ => None,
        }
    }
    match (call.target.as_ref(), call.args.as_slice()) {
        (None, [a, b]) => match (name(a), name(b)) {
            (Some("self"), Some("oldSelf")) | (Some("oldSelf"), Some("self")) => Some(want),
            _ => None,
        },
        _ => None,
    }
}

/// Equality of two values of schema `node` as CEL on the apiserver sees it: numbers by
/// value, `set` lists and `map` lists regardless of order, other lists in order.
fn semantic_eq(a: &Value, b: &Value, node: Option<&Node>) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.get(k)
                        .is_some_and(|w| semantic_eq(v, w, node.and_then(|n| n.field(k))))
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return false;
            }
            let items = node.and_then(|n| n.items.as_deref());
            match node {
                Some(n) if matches!(n.list_type.as_deref(), Some("set") | Some("map")) => {
                    x.iter().all(|v| {
                        crate::validate::correlate_item(v, y, n)
                            .is_some_and(|w| semantic_eq(v, w, items))
                    })
                }
                _ => x.iter().zip(y).all(|(v, w)| semantic_eq(v, w, items)),
            }
        }
        _ => crate::validate::json_eq(a, b),
    }
}

/// Validates a rule's `fieldPath` (`.a.b`, `.a['b.c']`, `['x']`) against the schema
/// and renders it as a field path (`a.b`, `a[b.c]` for map keys).
fn normalize_field_path(fp: &str, node: &Node) -> Result<String, String> {
    let mut out = String::new();
    let mut schema = node;
    let mut rest = fp;
    let append = |name: &str, schema: &mut &Node, out: &mut String| -> Result<(), String> {
        if let Some(prop) = schema.property(name) {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(name);
            *schema = prop;
            Ok(())
        } else if let Some(additional) = schema.additional_properties.as_deref() {
            out.push_str(&format!("[{name}]"));
            *schema = additional;
            Ok(())
        } else {
            Err("does not refer to a valid field".to_string())
        }
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() {
                return Err("unexpected end of JSON path".to_string());
            }
            append(name, &mut schema, &mut out)?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or("expected ] but got end of path")?;
            let name = r[..end].replace("\\'", "'").replace("\\\\", "\\");
            append(&name, &mut schema, &mut out)?;
            rest = &r[end + 2..];
        } else {
            return Err(format!("expected [ or . but got: {rest}"));
        }
    }
    Ok(out)
}

/// The fields of `self`/`oldSelf` the rules of one node read (`self.x`, `has(self.x)`,
/// `self.?x`), as CEL names, or `None` when some rule uses the whole value (`self ==
/// oldSelf`, `self.all(...)`, `size(self)`). Only these fields need converting.
pub(crate) fn referenced_fields(rules: &[CompiledRule]) -> Option<Vec<String>> {
    let mut out = std::collections::BTreeSet::new();
    for rule in rules {
        let program = (!rule.is_native()).then_some(&rule.program);
        let programs = program.into_iter().chain(rule.message_expression.as_ref());
        for p in programs {
            if !collect_fields(p.expression(), &mut out) {
                return None;
            }
        }
    }
    Some(out.into_iter().collect())
}

fn is_self(e: &IdedExpr) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == "self" || n == "oldSelf")
}

/// Adds the fields selected on `self`/`oldSelf` in `e` to `out`; false if `self` or
/// `oldSelf` is used other than to select a field.
fn collect_fields(e: &IdedExpr, out: &mut std::collections::BTreeSet<String>) -> bool {
    match &e.expr {
        Expr::Ident(_) => !is_self(e),
        Expr::Select(sel) => {
            if is_self(&sel.operand) {
                out.insert(sel.field.clone());
                true
            } else {
                collect_fields(&sel.operand, out)
            }
        }
        Expr::Call(call) => {
            if call.func_name == operators::OPT_SELECT
                && call.args.len() == 2
                && is_self(&call.args[0])
                && let Expr::Literal(LiteralValue::String(f)) = &call.args[1].expr
            {
                out.insert(f.inner().to_string());
                return true;
            }
            call.target
                .as_deref()
                .is_none_or(|t| collect_fields(t, out))
                && call.args.iter().all(|a| collect_fields(a, out))
        }
        Expr::Comprehension(c) => [
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ]
        .into_iter()
        .all(|x| collect_fields(x, out)),
        Expr::List(l) => l.elements.iter().all(|x| collect_fields(x, out)),
        Expr::Map(m) => m.entries.iter().all(|x| entry_fields(&x.expr, out)),
        Expr::Struct(st) => st.entries.iter().all(|x| entry_fields(&x.expr, out)),
        Expr::Literal(_) | Expr::Unspecified => true,
    }
}

fn entry_fields(e: &EntryExpr, out: &mut std::collections::BTreeSet<String>) -> bool {
    match e {
        EntryExpr::MapEntry(m) => collect_fields(&m.key, out) && collect_fields(&m.value, out),
        EntryExpr::StructField(f) => collect_fields(&f.value, out),
    }
}

const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The CEL name of an object property (`cel.Escape`), `None` if it cannot be accessed.
fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
    {
        return None;
    }
    if !name.contains(['_', '.', '-', '/']) {
        return Some(name.to_string());
    }
    let mut out = String::with_capacity(name.len() + 8);
    let mut i = 0;
    let bytes = name.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'_' if bytes.get(i + 1) == Some(&b'_') => {
                out.push_str("__underscores__");
                i += 2;
                continue;
            }
            b'.' => out.push_str("__dot__"),
            b'-' => out.push_str("__dash__"),
            b'/' => out.push_str("__slash__"),
            b => out.push(b as char),
        }
        i += 1;
    }
    Some(out)
}

/// Converts `v` (typed by `node`) to a CEL value borrowing from `v`.
fn to_val<'v>(v: &'v Value, node: Option<&Node>, resource_root: bool) -> Box<dyn Val + 'v> {
    to_val_only(v, node, resource_root, None)
}

/// Like [`to_val`]; when `only` is given, an object keeps only those (CEL-named) fields.
fn to_val_only<'v>(
    v: &'v Value,
    node: Option<&Node>,
    resource_root: bool,
    only: Option<&[String]>,
) -> Box<dyn Val + 'v> {
    let wanted =
        |name: &str| only.is_none_or(|o| o.binary_search_by(|f| f.as_str().cmp(name)).is_ok());
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => {
            let want_double = node.is_some_and(|n| n.ty == Some(Type::Number));
            if want_double {
                Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0)))
            } else if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if node.is_some_and(|n| n.ty == Some(Type::Integer)) && f.fract() == 0.0 {
                    Box::new(CelInt::from(f as i64))
                } else {
                    Box::new(CelDouble::from(f))
                }
            }
        }
        Value::String(s) => string_val(s, node),
        Value::Array(items) => {
            let item_schema = node.and_then(|n| n.items.as_deref());
            let embedded = item_schema.is_some_and(|s| s.embedded_resource);
            Box::new(CelList::from(
                items
                    .iter()
                    .map(|i| to_val(i, item_schema, embedded))
                    .collect::<Vec<_>>(),
            ))
        }
        Value::Object(map) => {
            let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> =
                HashMap::with_capacity(map.len());
            match node {
                Some(n) if n.additional_properties.is_some() => {
                    let sub = n.additional_properties.as_deref();
                    let embedded = sub.is_some_and(|s| s.embedded_resource);
                    for (k, val) in map {
                        if wanted(k) {
                            out.insert(CelMapKey::from(k.as_str()), to_val(val, sub, embedded));
                        }
                    }
                }
                Some(n) if !n.properties.is_empty() || resource_root => {
                    for (k, val) in map {
                        if resource_root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                        {
                            if !wanted(k) {
                                continue;
                            }
                            let converted = if k == "metadata" {
                                object_meta(val)
                            } else {
                                to_val(val, None, false)
                            };
                            out.insert(CelMapKey::from(k.as_str()), converted);
                            continue;
                        }
                        let Some(prop) = n.property(k) else { continue };
                        let Some(name) = escape(k) else { continue };
                        if !wanted(&name) {
                            continue;
                        }
                        let key = if name == *k {
                            CelMapKey::from(k.as_str())
                        } else {
                            CelMapKey::from(name)
                        };
                        out.insert(key, to_val(val, Some(prop), prop.embedded_resource));
                    }
                }
                _ => {
                    for (k, val) in map {
                        if wanted(k) {
                            out.insert(CelMapKey::from(k.as_str()), to_val(val, None, false));
                        }
                    }
                }
            }
            Box::new(CelMap::from(out))
        }
    }
}

/// `metadata` of a resource root: only `name` and `generateName` are visible.
fn object_meta(v: &Value) -> Box<dyn Val + '_> {
    let mut out: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = HashMap::new();
    if let Value::Object(map) = v {
        for key in ["name", "generateName"] {
            if let Some(Value::String(s)) = map.get(key) {
                out.insert(CelMapKey::from(key), Box::new(CelString::from(s.as_str())));
            }
        }
    }
    Box::new(CelMap::from(out))
}

fn string_val<'v>(s: &'v str, node: Option<&Node>) -> Box<dyn Val + 'v> {
    let format = node.and_then(|n| {
        if n.ty == Some(Type::String) {
            n.format.as_deref()
        } else {
            None
        }
    });
    match format {
        Some("date-time") | Some("datetime") => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                return Box::new(CelTimestamp::from(t));
            }
        }
        Some("date") => {
            if let Some(t) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
            {
                return Box::new(CelTimestamp::from(t.and_utc().fixed_offset()));
            }
        }
        Some("duration") => {
            if let Some(d) = crate::formats::parse_duration(s) {
                return Box::new(CelDuration::from(d));
            }
        }
        Some("byte") => {
            if let Some(bytes) = decode_base64(s) {
                return Box::new(CelBytes::from(bytes));
            }
        }
        _ => {}
    }
    Box::new(CelString::from(s))
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn display(path: &str) -> &str {
    if path.is_empty() { "<nil>" } else { path }
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Where a node sits relative to the stored object on update.
#[derive(Clone, Copy)]
pub(crate) struct Old<'o> {
    /// The old value bound to `oldSelf`: correlated through properties, map keys and
    /// `map`-type list keys only.
    pub value: Option<&'o Value>,
    /// Whether errors of non-transition rules here are ratcheted (dropped): the node, or
    /// its nearest correlatable ancestor, equals its old value.
    pub ratchet: bool,
}

impl<'o> Old<'o> {
    /// The root of an update (or of a create, with no old object).
    pub(crate) fn root(v: &Value, old: Option<&'o Value>) -> Self {
        Old {
            value: old,
            ratchet: old.is_some_and(|o| crate::validate::json_eq(o, v)),
        }
    }

    /// A child correlated with `old` (for both `oldSelf` and ratcheting).
    fn correlated(self, v: &Value, old: Option<&'o Value>) -> Self {
        Old {
            value: old,
            ratchet: match old {
                Some(o) => crate::validate::json_eq(o, v),
                None => self.ratchet,
            },
        }
    }
}

/// Evaluates every rule below `node` for `v`, appending errors. `path` is the field
/// path of `v`, empty at the root.
pub(crate) fn validate(
    v: &Value,
    old: Old<'_>,
    node: &Node,
    path: &mut String,
    resource_root: bool,
    errs: &mut Vec<FieldError>,
) {
    if !node.has_cel || v.is_null() {
        return;
    }
    let old = Old {
        value: old.value.filter(|o| !o.is_null()),
        ratchet: old.ratchet,
    };
    if !node.rules.is_empty() {
        eval_rules(v, old, node, path, resource_root, errs);
    }
    match v {
        Value::Array(items) => {
            let Some(item_schema) = node.items.as_deref() else {
                return;
            };
            if !item_schema.has_cel {
                return;
            }
            let old_items = old.value.and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let correlated =
                    old_items.and_then(|o| crate::validate::correlate_item(item, o, node));
                let mut child_old = old.correlated(item, correlated);
                if node.list_type.as_deref() != Some("map") {
                    // Only map-type lists bind oldSelf for their items.
                    child_old.value = None;
                }
                descend(path, Seg::Index(i), |p| {
                    validate(
                        item,
                        child_old,
                        item_schema,
                        p,
                        item_schema.embedded_resource,
                        errs,
                    )
                });
            }
        }
        Value::Object(map) => {
            let old_map = old.value.and_then(Value::as_object);
            if let Some(additional) = node.additional_properties.as_deref()
                && additional.has_cel
            {
                for (k, sub) in map {
                    let child_old = old.correlated(sub, old_map.and_then(|o| o.get(k)));
                    descend(path, Seg::Key(k), |p| {
                        validate(
                            sub,
                            child_old,
                            additional,
                            p,
                            additional.embedded_resource,
                            errs,
                        )
                    });
                }
            }
            for (k, sub) in map {
                if let Some(prop) = node.property(k) {
                    if resource_root && k == "metadata" {
                        continue;
                    }
                    let child_old = old.correlated(sub, old_map.and_then(|o| o.get(k)));
                    descend(path, Seg::Field(k), |p| {
                        validate(sub, child_old, prop, p, prop.embedded_resource, errs)
                    });
                }
            }
        }
        _ => {}
    }
}

fn eval_rules(
    v: &Value,
    old_at: Old<'_>,
    node: &Node,
    path: &str,
    resource_root: bool,
    errs: &mut Vec<FieldError>,
) {
    let old = old_at.value;
    let only = node.cel_fields.as_deref();
    let needs_old = node.rules.iter().any(|r| r.uses_old_self);
    let needs_optional = node.rules.iter().any(|r| r.optional_old_self);
    // Rules evaluated natively need no CEL values at all.
    let needs_ctx = node
        .rules
        .iter()
        .any(|r| !r.is_native() || r.message_expression.is_some());

    let mut ctx = Context::with_env(Arc::clone(env()));
    if needs_ctx {
        ctx.add_variable_as_val("self", to_val_only(v, Some(node), resource_root, only));
        if needs_old && let Some(o) = old {
            ctx.add_variable_as_val("oldSelf", to_val_only(o, Some(node), resource_root, only));
        }
    }
    let optional_ctx = needs_optional.then(|| {
        let mut c = Context::with_env(Arc::clone(env()));
        c.add_variable_as_val("self", to_val_only(v, Some(node), resource_root, only));
        let opt = match old {
            Some(o) => CelOptional::of(to_val_only(o, Some(node), resource_root, only)),
            None => CelOptional::none(),
        };
        c.add_variable_as_val("oldSelf", Box::new(opt));
        c
    });

    let type_value = || Some(Value::String(node.type_name.clone()));
    for rule in &node.rules {
        if rule.uses_old_self && old.is_none() && !rule.optional_old_self {
            // Transition rules only run when there is an old value to compare with.
            continue;
        }
        let rule_ctx = match (&optional_ctx, rule.optional_old_self) {
            (Some(c), true) => c,
            _ => &ctx,
        };
        let result = match (rule.native_eq, old) {
            (Some(want), Some(o)) if rule.is_native() => {
                Ok(cel::Value::Bool(semantic_eq(v, o, Some(node)) == want))
            }
            _ => rule.program.execute(rule_ctx),
        };
        let passed = match result {
            Ok(cel::Value::Bool(b)) => b,
            Ok(other) => {
                errs.push(FieldError::invalid(
                    display(path),
                    type_value(),
                    format!(
                        "rule evaluated to {:?}, not a bool, evaluating rule: {}",
                        other.type_of().to_string(),
                        rule.error_string()
                    ),
                ));
                continue;
            }
            Err(e) => {
                errs.push(FieldError::invalid(
                    display(path),
                    type_value(),
                    eval_error_detail(&e, rule),
                ));
                continue;
            }
        };
        if passed {
            continue;
        }
        let field = match &rule.field_path {
            Some(fp) if fp.starts_with('[') => format!("{}{fp}", display(path)),
            Some(fp) => child(path, fp),
            None => display(path).to_string(),
        };
        let detail = rule
            .message_expression
            .as_ref()
            .and_then(|m| match m.execute(&ctx) {
                Ok(cel::Value::String(s)) => {
                    let t = s.trim();
                    (!t.is_empty() && !t.contains('\n')).then(|| t.to_string())
                }
                _ => None,
            })
            .unwrap_or_else(|| rule.default_message());
        if !rule.uses_old_self && old_at.ratchet {
            // Ratcheting: an unchanged value that failed before is not refused now.
            continue;
        }
        // As kube-apiserver 1.34 and later: a failed rule names a scalar's value, and
        // omits a map's or a list's.
        let bad_value =
            (node.type_name != "object" && node.type_name != "array").then(|| v.clone());
        errs.push(match rule.reason {
            Reason::Invalid => FieldError::invalid(field, bad_value, detail),
            Reason::Forbidden => FieldError::forbidden(field, detail),
            Reason::Required => FieldError::required(field, detail),
            Reason::Duplicate => FieldError {
                bad_value,
                ..FieldError::duplicate(field, Value::Null)
            },
        });
    }
}

/// The detail of a rule whose evaluation failed, worded as the apiserver words cel-go's
/// errors.
fn eval_error_detail(e: &ExecutionError, rule: &CompiledRule) -> String {
    let rule_str = rule.error_string();
    let err = match e {
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnsupportedBinaryOperator(..) => {
            return format!(
                "'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {rule_str}"
            );
        }
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::DivisionByZero(_) => "division by zero".to_string(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".to_string(),
        ExecutionError::Overflow(..) => "integer overflow".to_string(),
        ExecutionError::IndexOutOfBounds(i) => format!("index out of bounds: {}", cel_scalar(i)),
        other => other.to_string(),
    };
    format!("{err} evaluating rule: {rule_str}")
}

fn cel_scalar(v: &cel::Value) -> String {
    match v {
        cel::Value::Int(i) => i.to_string(),
        cel::Value::UInt(u) => u.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaping_follows_the_apiserver() {
        assert_eq!(escape("replicas").as_deref(), Some("replicas"));
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(escape("x-y").as_deref(), Some("x__dash__y"));
        assert_eq!(escape("a.b/c").as_deref(), Some("a__dot__b__slash__c"));
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("a b"), None);
    }
}
