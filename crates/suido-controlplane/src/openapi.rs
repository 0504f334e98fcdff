//! OpenAPI v3: the root index and one document per group/version, built
//! from the CRD schemas (built-in kinds get an open schema). kubectl needs
//! the GVK extension on schemas (`explain`) and on the PATCH operation with
//! a `fieldValidation` parameter (`apply` with server-side validation).

use serde_json::{Map, Value, json};

use crate::registry::{Registry, ResourceDef};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The key of a group/version in the root index (`api/v1`, `apis/g/v`).
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Stable 64-bit FNV-1a, hex; used as the `?hash=` of each document.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016X}")
}

fn all_gvs(reg: &Registry) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for d in &reg.defs {
        let gv = (d.group.clone(), d.version.clone());
        if !out.contains(&gv) {
            out.push(gv);
        }
    }
    out
}

/// `/openapi/v3`.
pub fn root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, v) in all_gvs(reg) {
        let doc = document(reg, &g, &v).unwrap_or(Value::Null);
        let hash = fnv(doc.to_string().as_bytes());
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// The schema name of a kind (`dev.suido.infra.v1alpha1.VirtualServer`).
pub fn schema_name(d: &ResourceDef) -> String {
    if !d.custom {
        let pkg = match d.group.as_str() {
            "" => "core".to_string(),
            g => g.split('.').next().unwrap_or(g).to_string(),
        };
        return format!("io.k8s.api.{pkg}.{}.{}", d.version, d.kind);
    }
    let mut parts: Vec<&str> = d.group.split('.').collect();
    parts.reverse();
    format!("{}.{}.{}", parts.join("."), d.version, d.kind)
}

fn gvk(d: &ResourceDef) -> Value {
    json!({"group": d.group, "version": d.version, "kind": d.kind})
}

fn kind_schema(d: &ResourceDef) -> Value {
    let mut s = match &d.schema {
        Some(s) if s.is_object() => s.clone(),
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    if let Some(o) = s.as_object_mut() {
        let props = o
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(props) = props {
            props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
            props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
            props.insert("metadata".into(), json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "default": {}, "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}));
        }
        o.entry("type").or_insert_with(|| json!("object"));
        o.insert("x-kubernetes-group-version-kind".into(), json!([gvk(d)]));
    }
    s
}

fn object_meta() -> Value {
    let s = |d: &str| json!({"type": "string", "default": "", "description": d});
    let m = |d: &str| json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": d});
    json!({
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        "properties": {
            "name": s("Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated."),
            "generateName": s("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            "namespace": s("Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the \"default\" namespace, but \"default\" is the canonical representation."),
            "uid": s("UID is the unique in time and space value for this object. It is typically generated by the server on successful creation of a resource and is not allowed to change on PUT operations."),
            "resourceVersion": s("An opaque value that represents the internal version of this object that can be used by clients to determine when objects have changed."),
            "generation": {"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."},
            "creationTimestamp": {"type": "string", "format": "date-time", "description": "CreationTimestamp is a timestamp representing the server time when this object was created."},
            "deletionTimestamp": {"type": "string", "format": "date-time", "description": "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64", "description": "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system."},
            "labels": m("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "annotations": m("Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata."),
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set", "description": "Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list."},
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "description": "List of objects depended by this object."},
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."},
        }
    })
}

fn op(d: &ResourceDef, action: &str, params: &[&str], body: bool) -> Value {
    let name = schema_name(d);
    let mut o = json!({
        "description": format!("{action} {}", d.kind),
        "operationId": format!("{action}{}{}", d.version, d.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(d),
        "parameters": params.iter().map(|p| json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}})).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}}},
    });
    if body {
        let ct: &[&str] = if action == "patch" {
            &[
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
            ]
        } else {
            &["*/*"]
        };
        let mut content = Map::new();
        for c in ct {
            content.insert(
                c.to_string(),
                json!({"schema": {"$ref": format!("#/components/schemas/{name}")}}),
            );
        }
        o["requestBody"] = json!({"content": content, "required": true});
    }
    o
}

/// The document of one group/version, or None when it is not served.
pub fn document(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = reg.resources_of(group, version);
    if defs.is_empty() {
        return None;
    }
    let mut schemas = Map::new();
    schemas.insert(OBJECT_META.into(), object_meta());
    let mut paths = Map::new();
    let prefix = format!("/{}", gv_path(group, version));
    let write = ["dryRun", "fieldManager", "fieldValidation"];
    let patch = ["dryRun", "fieldManager", "fieldValidation", "force"];
    for d in &defs {
        schemas.insert(schema_name(d), kind_schema(d));
        let base = if d.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", d.plural)
        } else {
            format!("{prefix}/{}", d.plural)
        };
        paths.insert(
            base.clone(),
            json!({
                "get": op(d, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch"], false),
                "post": op(d, "post", &write, true),
                "delete": op(d, "deletecollection", &["labelSelector", "fieldSelector", "dryRun"], false),
            }),
        );
        let item = json!({
            "get": op(d, "get", &[], false),
            "put": op(d, "put", &write, true),
            "patch": op(d, "patch", &patch, true),
            "delete": op(d, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"], false),
        });
        paths.insert(format!("{base}/{{name}}"), item.clone());
        if d.status_subresource {
            paths.insert(format!("{base}/{{name}}/status"), item);
        }
        if d.namespaced {
            paths.insert(
                format!("{prefix}/{}", d.plural),
                json!({"get": op(d, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch"], false)}),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
