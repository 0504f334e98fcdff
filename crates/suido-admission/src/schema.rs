//! The compiled form of a structural schema (`openAPIV3Schema` of one CRD version).
//!
//! Every node keeps what pruning, defaulting and validation need, with its regular
//! expressions and CEL programs compiled once. Nested value validations (`allOf`,
//! `anyOf`, `oneOf`, `not`) use the same node type.

use crate::cel::{self, CompiledRule};
use crate::error::SchemaError;
use regex::Regex;
use serde_json::{Map, Value};

/// The JSON type a schema node declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            _ => return None,
        })
    }
}

/// One schema node.
#[derive(Debug)]
pub(crate) struct Node {
    /// The declared `type`, `None` for int-or-string and untyped nodes.
    pub ty: Option<Type>,
    /// The `type` string as written (`""` when absent), shown as the CEL error value.
    pub type_name: String,
    pub nullable: bool,
    pub format: Option<String>,
    pub default: Option<Value>,
    pub enum_values: Option<Vec<Value>>,
    pub required: Vec<String>,
    pub properties: Vec<(String, Node)>,
    pub additional_properties: Option<Box<Node>>,
    pub items: Option<Box<Node>>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
    pub pattern: Option<(String, Regex)>,
    pub min_items: Option<i64>,
    pub max_items: Option<i64>,
    pub unique_items: bool,
    pub min_properties: Option<i64>,
    pub max_properties: Option<i64>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub preserve_unknown: bool,
    pub embedded_resource: bool,
    pub int_or_string: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub rules: Vec<CompiledRule>,
    /// The fields of this node's value its rules read, `None` for the whole value.
    pub cel_fields: Option<Vec<String>>,
    /// Whether this node or any node below it has CEL rules.
    pub has_cel: bool,
    /// Whether this node or any node below it is a `set` or `map` list.
    pub has_list_types: bool,
    /// Whether this node or any node below it is an embedded resource.
    pub has_embedded: bool,
}

impl Node {
    /// The schema of property `name`, if declared.
    pub fn property(&self, name: &str) -> Option<&Node> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| &self.properties[i].1)
    }

    /// The schema for the value under key `name` of an object: the property, or
    /// `additionalProperties`.
    pub fn field(&self, name: &str) -> Option<&Node> {
        self.property(name)
            .or(self.additional_properties.as_deref())
    }

    /// Whether the node's type list contains the given JSON type name.
    pub fn type_contains(&self, t: &str) -> bool {
        if self.int_or_string {
            return t == "integer" || t == "string";
        }
        self.type_name == t
    }

    /// The node's types as kube-openapi joins them in type errors.
    pub fn types_joined(&self) -> String {
        if self.int_or_string {
            "integer,string".to_string()
        } else {
            self.type_name.clone()
        }
    }

    /// Whether the node has any type constraint at all.
    pub fn has_type(&self) -> bool {
        self.int_or_string || !self.type_name.is_empty()
    }
}

/// Compiles a schema tree; `path` names the node in errors.
pub(crate) fn compile(schema: &Value, path: &str) -> Result<Node, SchemaError> {
    let obj = schema
        .as_object()
        .ok_or_else(|| SchemaError::new(path, "schema must be an object"))?;
    if obj.contains_key("$ref") {
        return Err(SchemaError::new(
            path,
            "$ref is not allowed in a structural schema",
        ));
    }
    let type_name = match obj.get("type") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(SchemaError::new(path, "type must be a string")),
    };
    let ty = if type_name.is_empty() {
        None
    } else {
        Some(Type::parse(&type_name).ok_or_else(|| {
            SchemaError::new(
                &format!("{path}.type"),
                format!(
                    "Unsupported value: {type_name:?}: supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""
                ),
            )
        })?)
    };

    let mut properties = Vec::new();
    if let Some(props) = obj.get("properties") {
        let props = props
            .as_object()
            .ok_or_else(|| SchemaError::new(&format!("{path}.properties"), "must be an object"))?;
        for (name, sub) in props {
            properties.push((
                name.clone(),
                compile(sub, &format!("{path}.properties[{name}]"))?,
            ));
        }
        properties.sort_by(|a, b| a.0.cmp(&b.0));
    }

    let additional_properties = match obj.get("additionalProperties") {
        Some(v @ Value::Object(_)) => Some(Box::new(compile(
            v,
            &format!("{path}.additionalProperties"),
        )?)),
        Some(Value::Bool(_)) | None | Some(Value::Null) => None,
        Some(_) => {
            return Err(SchemaError::new(
                &format!("{path}.additionalProperties"),
                "must be a schema or a boolean",
            ));
        }
    };
    if additional_properties.is_some() && !properties.is_empty() {
        return Err(SchemaError::new(
            &format!("{path}.additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }

    let items = match obj.get("items") {
        Some(v @ Value::Object(_)) => Some(Box::new(compile(v, &format!("{path}.items"))?)),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(SchemaError::new(
                &format!("{path}.items"),
                "items must be a schema object and not an array",
            ));
        }
    };

    let pattern = match obj.get("pattern") {
        Some(Value::String(p)) => {
            let re = Regex::new(p).map_err(|e| {
                SchemaError::new(
                    &format!("{path}.pattern"),
                    format!("must be a valid regular expression: {e}"),
                )
            })?;
            Some((p.clone(), re))
        }
        None => None,
        Some(_) => {
            return Err(SchemaError::new(
                &format!("{path}.pattern"),
                "must be a string",
            ));
        }
    };

    let nested = |key: &str| -> Result<Vec<Node>, SchemaError> {
        match obj.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, s)| compile(s, &format!("{path}.{key}[{i}]")))
                .collect(),
            Some(_) => Err(SchemaError::new(
                &format!("{path}.{key}"),
                "must be an array",
            )),
        }
    };
    let all_of = nested("allOf")?;
    let any_of = nested("anyOf")?;
    let one_of = nested("oneOf")?;
    let not = match obj.get("not") {
        Some(v) => Some(Box::new(compile(v, &format!("{path}.not"))?)),
        None => None,
    };

    let list_type = str_field(obj, "x-kubernetes-list-type", path)?;
    if let Some(lt) = &list_type
        && !matches!(lt.as_str(), "atomic" | "set" | "map")
    {
        return Err(SchemaError::new(
            &format!("{path}.x-kubernetes-list-type"),
            format!("Unsupported value: {lt:?}: supported values: \"atomic\", \"map\", \"set\""),
        ));
    }
    let list_map_keys: Vec<String> = match obj.get("x-kubernetes-list-map-keys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| {
                k.as_str().map(str::to_string).ok_or_else(|| {
                    SchemaError::new(
                        &format!("{path}.x-kubernetes-list-map-keys"),
                        "must be strings",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
        Some(_) => {
            return Err(SchemaError::new(
                &format!("{path}.x-kubernetes-list-map-keys"),
                "must be an array of strings",
            ));
        }
    };
    if list_type.as_deref() == Some("map") && list_map_keys.is_empty() {
        return Err(SchemaError::new(
            &format!("{path}.x-kubernetes-list-map-keys"),
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }

    let mut node = Node {
        ty,
        type_name,
        nullable: bool_field(obj, "nullable"),
        format: str_field(obj, "format", path)?,
        default: obj.get("default").cloned(),
        enum_values: match obj.get("enum") {
            Some(Value::Array(v)) => Some(v.clone()),
            None => None,
            Some(_) => {
                return Err(SchemaError::new(
                    &format!("{path}.enum"),
                    "must be an array",
                ));
            }
        },
        required: match obj.get("required") {
            Some(Value::Array(v)) => v
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        },
        properties,
        additional_properties,
        items,
        minimum: num_field(obj, "minimum"),
        maximum: num_field(obj, "maximum"),
        exclusive_minimum: bool_field(obj, "exclusiveMinimum"),
        exclusive_maximum: bool_field(obj, "exclusiveMaximum"),
        multiple_of: num_field(obj, "multipleOf"),
        min_length: int_field(obj, "minLength"),
        max_length: int_field(obj, "maxLength"),
        pattern,
        min_items: int_field(obj, "minItems"),
        max_items: int_field(obj, "maxItems"),
        unique_items: bool_field(obj, "uniqueItems"),
        min_properties: int_field(obj, "minProperties"),
        max_properties: int_field(obj, "maxProperties"),
        all_of,
        any_of,
        one_of,
        not,
        preserve_unknown: bool_field(obj, "x-kubernetes-preserve-unknown-fields"),
        embedded_resource: bool_field(obj, "x-kubernetes-embedded-resource"),
        int_or_string: bool_field(obj, "x-kubernetes-int-or-string"),
        list_type,
        list_map_keys,
        rules: Vec::new(),
        cel_fields: None,
        has_cel: false,
        has_list_types: false,
        has_embedded: false,
    };
    if let Some(m) = node.multiple_of
        && m <= 0.0
    {
        return Err(SchemaError::new(
            &format!("{path}.multipleOf"),
            "must be greater than zero",
        ));
    }

    if let Some(rules) = obj.get("x-kubernetes-validations") {
        let rules = rules.as_array().ok_or_else(|| {
            SchemaError::new(
                &format!("{path}.x-kubernetes-validations"),
                "must be an array",
            )
        })?;
        for (i, rule) in rules.iter().enumerate() {
            let rule_path = format!("{path}.x-kubernetes-validations[{i}]");
            let compiled = cel::compile_rule(rule, &rule_path, &node)?;
            node.rules.push(compiled);
        }
    }
    node.cel_fields = cel::referenced_fields(&node.rules);
    node.has_cel = !node.rules.is_empty()
        || node.properties.iter().any(|(_, p)| p.has_cel)
        || node.items.as_ref().is_some_and(|i| i.has_cel)
        || node
            .additional_properties
            .as_ref()
            .is_some_and(|a| a.has_cel);
    let children = || {
        node.properties
            .iter()
            .map(|(_, p)| p)
            .chain(node.items.as_deref())
            .chain(node.additional_properties.as_deref())
    };
    let has_list_types = matches!(node.list_type.as_deref(), Some("set") | Some("map"))
        || children().any(|c| c.has_list_types);
    let has_embedded = node.embedded_resource || children().any(|c| c.has_embedded);
    node.has_list_types = has_list_types;
    node.has_embedded = has_embedded;
    check_default(&node, path)?;
    Ok(node)
}

fn bool_field(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn num_field(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

fn int_field(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    obj.get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

fn str_field(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SchemaError::new(
            &format!("{path}.{key}"),
            "must be a string",
        )),
    }
}

/// The apiserver refuses a CRD whose `default` does not validate against its own schema
/// (after pruning and defaulting the default itself).
fn check_default(node: &Node, path: &str) -> Result<(), SchemaError> {
    let Some(default) = &node.default else {
        return Ok(());
    };
    let mut value = default.clone();
    let mut pruned = Vec::new();
    crate::mutate::prune(
        &mut value,
        node,
        node.embedded_resource,
        &mut String::new(),
        &mut pruned,
    );
    if let Some(field) = pruned.first() {
        return Err(SchemaError::new(
            &format!("{path}.default"),
            format!("must not have unknown fields: {field}"),
        ));
    }
    crate::mutate::apply_defaults(&mut value, node);
    let mut errs = Vec::new();
    crate::validate::validate_node(&value, None, node, &mut String::new(), &mut errs);
    match errs.first() {
        None => Ok(()),
        Some(e) => Err(SchemaError::new(
            &format!("{path}.default"),
            format!("Invalid value: {e}"),
        )),
    }
}
