//! The resources the server knows: the built-in kinds, stored without a
//! schema, and one entry per served version of every registered
//! CustomResourceDefinition.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::admission::SchemaCheck;

/// How object names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds, custom resources).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1035 label (services).
    Label1035,
    /// Anything usable as a path segment (RBAC kinds).
    PathSegment,
}

/// One printer column of a CRD version (`additionalPrinterColumns`).
#[derive(Debug, Clone)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: string, integer, number, boolean, date.
    pub type_: String,
    /// Optional OpenAPI format.
    pub format: Option<String>,
    /// Description shown by `kubectl explain`-style tools.
    pub description: String,
    /// Columns with priority > 0 appear only in `-o wide`.
    pub priority: i64,
    /// The JSONPath, relative to the object (`.spec.host`).
    pub json_path: String,
}

/// One served group/version/resource.
#[derive(Debug)]
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural name, used in paths.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Kind of lists.
    pub list_kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`vs`).
    pub short_names: Vec<String>,
    /// Categories (`all`, `suido`).
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (status writes are split).
    pub status_subresource: bool,
    /// Whether `metadata.generation` is maintained.
    pub tracks_generation: bool,
    /// Whether this comes from a CRD.
    pub custom: bool,
    /// Storage group: events of both APIs share one storage.
    pub storage_group: String,
    /// Storage resource.
    pub storage_resource: String,
    /// Printer columns, without the implicit Name and Age.
    pub printer_columns: Vec<PrinterColumn>,
    /// The openAPIV3Schema (CRDs) or None.
    pub schema: Option<Value>,
    /// The compiled admission for CRD versions with a schema.
    pub admission: Option<Arc<SchemaCheck>>,
    /// How names are checked.
    pub name_rule: NameRule,
    /// Whether this version is the preferred (storage) one of its group.
    pub preferred: bool,
}

impl ResourceDef {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The verbs served.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// The table of resources.
#[derive(Debug, Default)]
pub struct Registry {
    /// Every served resource, built-ins first.
    pub defs: Vec<Arc<ResourceDef>>,
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    plural: &str,
    kind: &str,
    namespaced: bool,
    short: &[&str],
    status: bool,
    name_rule: NameRule,
    columns: &[(&str, &str, &str, i64)],
) -> ResourceDef {
    ResourceDef {
        group: group.into(),
        version: version.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: if matches!(plural, "services" | "deployments") {
            vec!["all".into()]
        } else {
            Vec::new()
        },
        status_subresource: status,
        tracks_generation: status && plural != "namespaces",
        custom: false,
        storage_group: group.into(),
        storage_resource: plural.into(),
        printer_columns: columns
            .iter()
            .map(|(name, type_, path, priority)| PrinterColumn {
                name: name.to_string(),
                type_: type_.to_string(),
                format: None,
                description: String::new(),
                priority: *priority,
                json_path: path.to_string(),
            })
            .collect(),
        schema: None,
        admission: None,
        name_rule,
        preferred: true,
    }
}

/// The group of CustomResourceDefinitions.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
/// The resource of CustomResourceDefinitions.
pub const CRD_RESOURCE: &str = "customresourcedefinitions";

fn builtins() -> Vec<ResourceDef> {
    use NameRule::*;
    let mut v = vec![
        builtin(
            "",
            "v1",
            "namespaces",
            "Namespace",
            false,
            &["ns"],
            true,
            Label,
            &[("Status", "string", ".status.phase", 0)],
        ),
        builtin(
            "",
            "v1",
            "configmaps",
            "ConfigMap",
            true,
            &["cm"],
            false,
            Subdomain,
            &[],
        ),
        builtin(
            "",
            "v1",
            "secrets",
            "Secret",
            true,
            &[],
            false,
            Subdomain,
            &[("Type", "string", ".type", 0)],
        ),
        builtin(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            true,
            &["sa"],
            false,
            Subdomain,
            &[],
        ),
        builtin(
            "",
            "v1",
            "services",
            "Service",
            true,
            &["svc"],
            true,
            Label1035,
            &[
                ("Type", "string", ".spec.type", 0),
                ("Cluster-IP", "string", ".spec.clusterIP", 0),
                ("Selector", "string", ".spec.selector", 1),
            ],
        ),
        builtin(
            "",
            "v1",
            "events",
            "Event",
            true,
            &["ev"],
            false,
            Subdomain,
            &[
                ("Type", "string", ".type", 0),
                ("Reason", "string", ".reason", 0),
                ("Object", "string", ".involvedObject.name", 0),
                ("Message", "string", ".message", 0),
            ],
        ),
        builtin(
            "apps",
            "v1",
            "deployments",
            "Deployment",
            true,
            &["deploy"],
            true,
            Subdomain,
            &[
                ("Replicas", "integer", ".spec.replicas", 0),
                ("Available", "integer", ".status.availableReplicas", 0),
            ],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "roles",
            "Role",
            true,
            &[],
            false,
            PathSegment,
            &[],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "RoleBinding",
            true,
            &[],
            false,
            PathSegment,
            &[("Role", "string", ".roleRef.name", 0)],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "ClusterRole",
            false,
            &[],
            false,
            PathSegment,
            &[],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            false,
            &[],
            false,
            PathSegment,
            &[("Role", "string", ".roleRef.name", 0)],
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            true,
            &[],
            false,
            Subdomain,
            &[("Holder", "string", ".spec.holderIdentity", 0)],
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            true,
            &["ev"],
            false,
            Subdomain,
            &[
                ("Type", "string", ".type", 0),
                ("Reason", "string", ".reason", 0),
                ("Note", "string", ".note", 0),
            ],
        ),
        builtin(
            CRD_GROUP,
            "v1",
            CRD_RESOURCE,
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
            true,
            Subdomain,
            &[],
        ),
    ];
    for d in &mut v {
        if d.group == "events.k8s.io" {
            d.storage_group = String::new();
        }
    }
    v
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses the served versions of a CRD into resource definitions.
/// Returns an error message when a required field is missing or a schema
/// does not compile.
pub fn defs_from_crd(crd: &Value) -> Result<Vec<ResourceDef>, Vec<(String, String)>> {
    let mut errs = Vec::new();
    let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
    let group = str_of(&spec, &["group"]).unwrap_or_default().to_string();
    let plural = str_of(&spec, &["names", "plural"])
        .unwrap_or_default()
        .to_string();
    let kind = str_of(&spec, &["names", "kind"])
        .unwrap_or_default()
        .to_string();
    if group.is_empty() {
        errs.push(("spec.group".into(), "Required value".into()));
    }
    if plural.is_empty() {
        errs.push(("spec.names.plural".into(), "Required value".into()));
    }
    if kind.is_empty() {
        errs.push(("spec.names.kind".into(), "Required value".into()));
    }
    let singular = str_of(&spec, &["names", "singular"])
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let list_kind = str_of(&spec, &["names", "listKind"])
        .map(str::to_string)
        .unwrap_or_else(|| format!("{kind}List"));
    let scope = str_of(&spec, &["scope"]).unwrap_or("Namespaced");
    if scope != "Namespaced" && scope != "Cluster" {
        errs.push((
            "spec.scope".into(),
            format!(
                "Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""
            ),
        ));
    }
    let versions = spec
        .get("versions")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(("spec.versions".into(), "Required value".into()));
    }
    let storage_count = versions
        .iter()
        .filter(|v| v.get("storage").and_then(|s| s.as_bool()) == Some(true))
        .count();
    if !versions.is_empty() && storage_count != 1 {
        errs.push((
            "spec.versions".into(),
            "Invalid value: must have exactly one version marked as storage version".into(),
        ));
    }
    let mut defs = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let name = v.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        if name.is_empty() {
            errs.push((format!("spec.versions[{i}].name"), "Required value".into()));
            continue;
        }
        if v.get("served").and_then(|s| s.as_bool()) == Some(false) {
            continue;
        }
        let schema = v
            .get("schema")
            .and_then(|s| s.get("openAPIV3Schema"))
            .cloned();
        let admission = match &schema {
            Some(s) => match SchemaCheck::new(s) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    errs.push((
                        format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        format!("Invalid value: {e}"),
                    ));
                    None
                }
            },
            None => None,
        };
        let printer_columns = v
            .get("additionalPrinterColumns")
            .and_then(|c| c.as_array())
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: str_of(c, &["name"]).unwrap_or_default().to_string(),
                        type_: str_of(c, &["type"]).unwrap_or("string").to_string(),
                        format: str_of(c, &["format"]).map(str::to_string),
                        description: str_of(c, &["description"]).unwrap_or_default().to_string(),
                        priority: c.get("priority").and_then(|p| p.as_i64()).unwrap_or(0),
                        json_path: str_of(c, &["jsonPath"]).unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        defs.push(ResourceDef {
            group: group.clone(),
            version: name.to_string(),
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced: scope != "Cluster",
            short_names: strings(spec.get("names").and_then(|n| n.get("shortNames"))),
            categories: strings(spec.get("names").and_then(|n| n.get("categories"))),
            status_subresource: v
                .get("subresources")
                .and_then(|s| s.get("status"))
                .is_some(),
            tracks_generation: true,
            custom: true,
            storage_group: group.clone(),
            storage_resource: plural.clone(),
            printer_columns,
            schema,
            admission,
            name_rule: NameRule::Subdomain,
            preferred: v.get("storage").and_then(|s| s.as_bool()) == Some(true),
        });
    }
    if errs.is_empty() { Ok(defs) } else { Err(errs) }
}

impl Registry {
    /// Builds the registry from the built-ins and the stored CRDs.
    pub fn build(crds: &[Arc<Value>]) -> Registry {
        let mut defs: Vec<Arc<ResourceDef>> = builtins().into_iter().map(Arc::new).collect();
        for crd in crds {
            match defs_from_crd(crd) {
                Ok(ds) => {
                    for d in ds {
                        let clash = defs.iter().any(|e| {
                            e.group == d.group && e.version == d.version && e.plural == d.plural
                        });
                        if !clash {
                            defs.push(Arc::new(d));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(crd = %crd["metadata"]["name"], errors = ?e, "stored CRD is not servable");
                }
            }
        }
        Registry { defs }
    }

    /// Finds a resource by group, version and plural name.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
            .cloned()
    }

    /// The storage (preferred) definition of a group/resource, used to
    /// render objects of a storage resource.
    pub fn storage_def(&self, group: &str, resource: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .filter(|d| d.storage_group == group && d.storage_resource == resource)
            .max_by_key(|d| d.preferred && d.group == group)
            .cloned()
    }

    /// The groups with their versions, preferred version first, in
    /// registration order (core excluded).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in self.defs.iter().filter(|d| !d.group.is_empty()) {
            let entry = match out.iter_mut().position(|(g, _)| *g == d.group) {
                Some(i) => &mut out[i],
                None => {
                    out.push((d.group.clone(), Vec::new()));
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            if !entry.1.contains(&d.version) {
                if d.preferred {
                    entry.1.insert(0, d.version.clone());
                } else {
                    entry.1.push(d.version.clone());
                }
            }
        }
        out
    }

    /// The resources of one group/version.
    pub fn resources_of(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        self.defs
            .iter()
            .filter(|d| d.group == group && d.version == version)
            .cloned()
            .collect()
    }
}

/// The status a stored CRD gets: names accepted and established.
pub fn crd_status(crd: &Value, now: &str) -> Value {
    let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
    let stored: Vec<Value> = spec
        .get("versions")
        .and_then(|v| v.as_array())
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(|s| s.as_bool()) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut names = spec.get("names").cloned().unwrap_or(json!({}));
    if let Some(n) = names.as_object_mut() {
        let kind = n
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        n.entry("singular")
            .or_insert_with(|| Value::String(kind.to_lowercase()));
        n.entry("listKind")
            .or_insert_with(|| Value::String(format!("{kind}List")));
    }
    let cond = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": msg});
    json!({
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    })
}
