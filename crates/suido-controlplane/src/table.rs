//! Server-side printing: `meta.k8s.io/v1` Table responses rendering the
//! printer columns through a JSONPath subset (`.a.b`, `.a[0].b`, `.a[*]`,
//! `.a['x.y']`, `.a[?(@.type=="Ready")].status`).

use serde_json::{Map, Value, json};

use crate::registry::{PrinterColumn, ResourceDef};
use crate::util::{human_duration, seconds_since};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter { path: Vec<String>, value: Value },
}

/// A parsed JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

fn parse_literal(s: &str) -> Option<Value> {
    let s = s.trim();
    if (s.starts_with('"') && s.ends_with('"') || s.starts_with('\'') && s.ends_with('\''))
        && s.len() >= 2
    {
        return Some(Value::String(s[1..s.len() - 1].to_string()));
    }
    serde_json::from_str(s).ok()
}

impl JsonPath {
    /// Parses an expression; `{...}` braces are optional.
    pub fn parse(expr: &str) -> Option<JsonPath> {
        let mut s = expr.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            s = inner.trim();
        }
        s = s.strip_prefix('$').unwrap_or(s);
        let chars: Vec<char> = s.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    let mut name = String::new();
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        if chars[i] == '\\' && i + 1 < chars.len() {
                            i += 1;
                        }
                        name.push(chars[i]);
                        i += 1;
                    }
                    if name == "*" {
                        steps.push(Step::All);
                    } else if !name.is_empty() {
                        steps.push(Step::Field(name));
                    }
                }
                '[' => {
                    let close = chars[i..].iter().position(|c| *c == ']')? + i;
                    // Filters may hold ']' inside quotes; find the ")]".
                    let (inner, next) = if chars.get(i + 1) == Some(&'?') {
                        let rest: String = chars[i..].iter().collect();
                        let end = rest.find(")]")?;
                        (rest[1..end + 1].to_string(), i + end + 2)
                    } else {
                        (chars[i + 1..close].iter().collect::<String>(), close + 1)
                    };
                    let inner = inner.trim();
                    if inner == "*" {
                        steps.push(Step::All);
                    } else if let Some(f) =
                        inner.strip_prefix("?(").and_then(|r| r.strip_suffix(')'))
                    {
                        let (lhs, rhs) = f.split_once("==")?;
                        let lhs = lhs.trim().strip_prefix('@')?;
                        let path = lhs
                            .split('.')
                            .filter(|p| !p.is_empty())
                            .map(str::to_string)
                            .collect();
                        steps.push(Step::Filter {
                            path,
                            value: parse_literal(rhs)?,
                        });
                    } else if let Ok(n) = inner.parse::<i64>() {
                        steps.push(Step::Index(n));
                    } else if let Some(Value::String(k)) = parse_literal(inner) {
                        steps.push(Step::Field(k));
                    } else {
                        return None;
                    }
                    i = next;
                }
                c if c.is_whitespace() => i += 1,
                _ => {
                    // A leading bare field name (`spec.x`).
                    let mut name = String::new();
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        name.push(chars[i]);
                        i += 1;
                    }
                    steps.push(Step::Field(name));
                }
            }
        }
        Some(JsonPath(steps))
    }

    /// All values the expression selects.
    pub fn eval<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut cur = vec![root];
        for step in &self.0 {
            let mut next = Vec::new();
            for v in cur {
                match step {
                    Step::Field(f) => {
                        if let Some(x) = v.get(f.as_str()) {
                            next.push(x);
                        }
                    }
                    Step::Index(n) => {
                        if let Some(a) = v.as_array() {
                            let idx = if *n < 0 { a.len() as i64 + n } else { *n };
                            if let Some(x) = usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                                next.push(x);
                            }
                        }
                    }
                    Step::All => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(o) => next.extend(o.values()),
                        _ => {}
                    },
                    Step::Filter { path, value } => {
                        if let Some(a) = v.as_array() {
                            for item in a {
                                let mut x = Some(item);
                                for p in path {
                                    x = x.and_then(|x| x.get(p.as_str()));
                                }
                                if x == Some(value) {
                                    next.push(item);
                                }
                            }
                        }
                    }
                }
            }
            cur = next;
        }
        cur
    }
}

/// The rendered cell of one column for one object.
pub fn cell(col: &PrinterColumn, obj: &Value) -> Value {
    let Some(path) = JsonPath::parse(&col.json_path) else {
        return Value::Null;
    };
    let Some(v) = path.eval(obj).into_iter().next() else {
        return Value::Null;
    };
    match (col.type_.as_str(), v) {
        ("date", Value::String(s)) => match seconds_since(s) {
            Some(secs) => Value::String(human_duration(secs)),
            None => Value::String("<invalid>".into()),
        },
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        ("number", Value::Number(_)) => v.clone(),
        ("boolean", Value::Bool(_)) => v.clone(),
        ("string", Value::String(_)) => v.clone(),
        (_, Value::String(_) | Value::Number(_) | Value::Bool(_)) => v.clone(),
        (_, Value::Null) => Value::Null,
        (_, other) => Value::String(other.to_string()),
    }
}

fn age_column() -> PrinterColumn {
    PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: None,
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }
}

/// The columns of a resource, Name excluded.
pub fn columns(rd: &ResourceDef) -> Vec<PrinterColumn> {
    let mut cols = rd.printer_columns.clone();
    // CRDs without columns and the built-ins get an Age column, as on a
    // real server; a CRD listing its own columns shows only those.
    if !rd.custom || cols.is_empty() {
        cols.push(age_column());
    }
    cols
}

/// Column definitions, Name first.
pub fn column_definitions(rd: &ResourceDef) -> Value {
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    for c in columns(rd) {
        defs.push(json!({
            "name": c.name,
            "type": c.type_,
            "format": c.format.clone().unwrap_or_default(),
            "description": c.description,
            "priority": c.priority,
        }));
    }
    Value::Array(defs)
}

/// What a Table row carries as `object`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

/// The metadata-only form of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// One row.
pub fn row(rd: &ResourceDef, obj: &Value, include: IncludeObject) -> Value {
    let mut cells = vec![obj["metadata"]["name"].clone()];
    for c in columns(rd) {
        cells.push(cell(&c, obj));
    }
    let mut r = Map::new();
    r.insert("cells".into(), Value::Array(cells));
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            r.insert("object".into(), partial_metadata(obj));
        }
        IncludeObject::Object => {
            r.insert("object".into(), obj.clone());
        }
    }
    Value::Object(r)
}

/// A whole Table.
pub fn table<T: std::borrow::Borrow<Value>>(
    rd: &ResourceDef,
    objs: &[T],
    with_definitions: bool,
    list_meta: Value,
    include: IncludeObject,
) -> Value {
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "rows": objs.iter().map(|o| row(rd, o.borrow(), include)).collect::<Vec<_>>(),
    });
    if with_definitions {
        t["columnDefinitions"] = column_definitions(rd);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_subset() {
        let obj = json!({"spec": {"host": "h", "ports": [{"p": 1}, {"p": 2}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "x"}},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let ev = |p: &str| {
            JsonPath::parse(p)
                .unwrap()
                .eval(&obj)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(ev(".spec.host"), vec![json!("h")]);
        assert_eq!(ev("{.spec.ports[1].p}"), vec![json!(2)]);
        assert_eq!(ev(".spec.ports[*].p"), vec![json!(1), json!(2)]);
        assert_eq!(
            ev(r#".status.conditions[?(@.type=="Ready")].status"#),
            vec![json!("True")]
        );
        assert_eq!(
            ev(".status.conditions[?(@.type=='Synced')].status"),
            vec![json!("False")]
        );
        assert_eq!(
            ev(r".metadata.labels.app\.kubernetes\.io/name"),
            vec![json!("x")]
        );
        assert_eq!(
            ev(".metadata.labels['app.kubernetes.io/name']"),
            vec![json!("x")]
        );
        assert!(ev(".spec.missing").is_empty());
    }

    #[test]
    fn cells_by_type() {
        let col = |t: &str, p: &str| PrinterColumn {
            name: "c".into(),
            type_: t.into(),
            format: None,
            description: String::new(),
            priority: 0,
            json_path: p.into(),
        };
        let obj = json!({"a": 5, "t": "2000-01-01T00:00:00Z", "o": {"x": 1}});
        assert_eq!(cell(&col("integer", ".a"), &obj), json!(5));
        assert_eq!(cell(&col("string", ".missing"), &obj), Value::Null);
        assert_eq!(cell(&col("string", ".o"), &obj), json!("{\"x\":1}"));
        let age = cell(&col("date", ".t"), &obj);
        assert!(age.as_str().unwrap().ends_with('y'), "{age}");
    }
}
