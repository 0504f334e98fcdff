//! The request handlers: routing of Kubernetes API paths, discovery and
//! OpenAPI, list and get (JSON, Table, PartialObjectMetadata), and the
//! write pipeline shared by create, update, patch, apply and delete.
//!
//! Handlers are synchronous: they run on a blocking thread because every
//! write ends in an fsync. Watches are described here ([`WatchSpec`]) and
//! streamed by the server module.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::discovery;
use crate::events;
use crate::openapi;
use crate::patch;
use crate::registry::{self, CRD_GROUP, CRD_RESOURCE, Registry, ResourceDef};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::ssa;
use crate::status::{self, ApiError};
use crate::store::{ObjKey, Objects, Store, Write};
use crate::table::{self, IncludeObject};
use crate::util;

/// Shared server state.
pub struct State {
    /// The object store.
    pub store: Store,
    registry: RwLock<Arc<Registry>>,
    /// The address clients use (for `/api`).
    pub address: String,
    /// How often idle watches get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Largest accepted request body.
    pub max_body: usize,
    /// Bumped to make every open watch end with 410 Expired.
    pub expire: tokio::sync::watch::Sender<u64>,
    /// Number of list requests served (for tests of relisting clients).
    pub lists_served: std::sync::atomic::AtomicU64,
    /// Serializes registry rebuilds so that the last one reads the latest CRDs.
    rebuild: std::sync::Mutex<()>,
}

impl State {
    /// Builds the state and the registry from the stored CRDs.
    pub fn new(
        store: Store,
        address: String,
        bookmark_interval: Duration,
        max_body: usize,
    ) -> State {
        let s = State {
            store,
            registry: RwLock::new(Arc::new(Registry::default())),
            address,
            bookmark_interval,
            max_body,
            expire: tokio::sync::watch::channel(0).0,
            lists_served: std::sync::atomic::AtomicU64::new(0),
            rebuild: std::sync::Mutex::new(()),
        };
        s.rebuild_registry();
        s
    }

    /// The current registry.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rebuilds the registry after a CRD change.
    pub fn rebuild_registry(&self) {
        let _guard = self.rebuild.lock().unwrap_or_else(|e| e.into_inner());
        let (_, crds) = self.store.list(CRD_GROUP, CRD_RESOURCE, None);
        let crds: Vec<Arc<Value>> = crds.into_iter().map(|(_, v)| v).collect();
        let reg = Arc::new(Registry::build(&crds));
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = reg;
    }

    /// Creates the namespaces every cluster has, if missing.
    pub fn ensure_default_namespaces(&self) -> Result<(), ApiError> {
        let reg = self.registry();
        let Some(rd) = reg.find("", "v1", "namespaces") else {
            return Ok(());
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            if self
                .store
                .get(&ObjKey::new("", "namespaces", "", ns))
                .is_none()
            {
                let body =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                create(self, &rd, None, body, &WriteOpts::default())?;
            }
        }
        Ok(())
    }
}

/// A request, already read.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: http::Method,
    /// Path without the query.
    pub path: String,
    /// Query pairs in order.
    pub query: Vec<(String, String)>,
    /// Content-Type, without parameters, lower-cased.
    pub content_type: Option<String>,
    /// Accept header.
    pub accept: String,
    /// Body bytes.
    pub body: bytes::Bytes,
}

impl Request {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true" | "1" | "True" | ""))
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
    /// `Warning` headers.
    pub warnings: Vec<String>,
}

impl Response {
    fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: "application/json".into(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            warnings: Vec::new(),
        }
    }

    /// The response of an error.
    pub fn error(e: &ApiError) -> Response {
        if e.is_plain_not_found() {
            return Response {
                status: 404,
                content_type: "text/plain; charset=utf-8".into(),
                body: b"404 page not found\n".to_vec(),
                warnings: Vec::new(),
            };
        }
        let mut r = Response::json(e.code, &e.to_status());
        r.warnings = e.warnings.clone();
        r
    }
}

/// What a handler produced.
pub enum Outcome {
    /// A complete response.
    Response(Response),
    /// A watch to stream.
    Watch(WatchSpec),
}

/// How objects are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The object itself.
    Object,
    /// A Table (`as=Table`).
    Table(IncludeObject),
    /// PartialObjectMetadata.
    Metadata,
}

/// A watch request, resolved.
pub struct WatchSpec {
    /// The resource watched.
    pub rd: Arc<ResourceDef>,
    /// Namespace, or all.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Resume point; None means "send the current state first".
    pub since: Option<u64>,
    /// Whether to end the initial state with an `initial-events-end` bookmark.
    pub send_initial_events: bool,
    /// Whether bookmarks were asked for.
    pub bookmarks: bool,
    /// When to end the stream.
    pub timeout: Duration,
    /// Rendering.
    pub format: Format,
}

fn format_of(accept: &str, list: bool) -> Result<Format, ApiError> {
    let a = accept.replace(' ', "");
    for part in a.split(',') {
        if part.contains("as=Table") && part.contains("g=meta.k8s.io") {
            return Ok(Format::Table(IncludeObject::Metadata));
        }
        if part.contains("as=PartialObjectMetadata") {
            return Ok(Format::Metadata);
        }
        let media = part.split(';').next().unwrap_or_default();
        if matches!(
            media,
            "" | "application/json" | "*/*" | "application/*" | "application/yaml"
        ) && !part.contains("as=")
        {
            return Ok(Format::Object);
        }
    }
    let _ = list;
    Err(ApiError::not_acceptable(format!(
        "only the following media types are accepted: application/json, application/yaml (got {accept:?})"
    )))
}

fn include_object(req: &Request, f: Format) -> Format {
    match (f, req.q("includeObject")) {
        (Format::Table(_), Some("None")) => Format::Table(IncludeObject::None),
        (Format::Table(_), Some("Object")) => Format::Table(IncludeObject::Object),
        _ => f,
    }
}

/// Handles one request.
pub fn handle(state: &State, req: &Request) -> Outcome {
    match route(state, req) {
        Ok(o) => o,
        Err(e) => Outcome::Response(Response::error(&e)),
    }
}

fn only_get(req: &Request) -> Result<(), ApiError> {
    if req.method == http::Method::GET || req.method == http::Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            req.method
        )))
    }
}

fn ok(v: &Value) -> Result<Outcome, ApiError> {
    Ok(Outcome::Response(Response::json(200, v)))
}

fn route(state: &State, req: &Request) -> Result<Outcome, ApiError> {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let reg = state.registry();
    let aggregated = discovery::wants_aggregated(&req.accept);
    match segs.as_slice() {
        ["version"] => {
            only_get(req)?;
            ok(&discovery::version())
        }
        ["healthz" | "readyz" | "livez"] => {
            only_get(req)?;
            Ok(Outcome::Response(Response {
                status: 200,
                content_type: "text/plain".into(),
                body: b"ok".to_vec(),
                warnings: Vec::new(),
            }))
        }
        ["api"] | ["apis"] => {
            only_get(req)?;
            let core = segs[0] == "api";
            if aggregated {
                let mut r = Response::json(200, &discovery::aggregated(&reg, core));
                r.content_type = discovery::AGGREGATED_CONTENT_TYPE.into();
                Ok(Outcome::Response(r))
            } else if core {
                ok(&discovery::api_versions(&state.address))
            } else {
                ok(&discovery::api_group_list(&reg))
            }
        }
        ["openapi", "v3"] => {
            only_get(req)?;
            ok(&openapi::root(&reg))
        }
        ["openapi", "v3", "api", v] => {
            only_get(req)?;
            openapi::document(&reg, "", v)
                .map(|d| Outcome::Response(Response::json(200, &d)))
                .ok_or_else(|| ApiError::path_not_found(&req.path))
        }
        ["openapi", "v3", "apis", g, v] => {
            only_get(req)?;
            openapi::document(&reg, g, v)
                .map(|d| Outcome::Response(Response::json(200, &d)))
                .ok_or_else(|| ApiError::path_not_found(&req.path))
        }
        ["api", "v1"] => {
            only_get(req)?;
            discovery::api_resource_list(&reg, "", "v1")
                .map(|d| Outcome::Response(Response::json(200, &d)))
                .ok_or_else(|| ApiError::path_not_found(&req.path))
        }
        ["apis", g] => {
            only_get(req)?;
            discovery::api_group(&reg, g)
                .map(|d| Outcome::Response(Response::json(200, &d)))
                .ok_or_else(|| ApiError::path_not_found(&req.path))
        }
        ["apis", g, v] => {
            only_get(req)?;
            discovery::api_resource_list(&reg, g, v)
                .map(|d| Outcome::Response(Response::json(200, &d)))
                .ok_or_else(|| ApiError::path_not_found(&req.path))
        }
        ["api", "v1", rest @ ..] => resource(state, &reg, req, "", "v1", rest),
        ["apis", g, v, rest @ ..] => resource(state, &reg, req, g, v, rest),
        _ => Err(ApiError::path_not_found(&req.path)),
    }
}

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub manager: Option<String>,
    /// `fieldValidation`: Strict, Warn or Ignore.
    pub validation: Validation,
    /// `force` (server-side apply).
    pub force: bool,
}

/// `fieldValidation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validation {
    /// Unknown fields are an error.
    Strict,
    /// Unknown fields give a warning (the default).
    #[default]
    Warn,
    /// Unknown fields are dropped silently.
    Ignore,
}

fn write_opts(req: &Request) -> Result<WriteOpts, ApiError> {
    let validation = match req.q("fieldValidation") {
        None | Some("") | Some("Warn") => Validation::Warn,
        Some("Strict") => Validation::Strict,
        Some("Ignore") => Validation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}"
            )));
        }
    };
    let dry_run = match req.q("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            )));
        }
    };
    let force = match req.q("force") {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid force value {other:?}"
            )));
        }
    };
    Ok(WriteOpts {
        dry_run,
        manager: req
            .q("fieldManager")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        validation,
        force,
    })
}

fn resource(
    state: &State,
    reg: &Registry,
    req: &Request,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Outcome, ApiError> {
    let (ns, rest) = if rest.len() >= 3
        && rest[0] == "namespaces"
        && !matches!(rest[2], "status" | "finalize")
    {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return Err(ApiError::path_not_found(&req.path)),
    };
    let rd = reg
        .find(group, version, plural)
        .ok_or_else(|| ApiError::path_not_found(&req.path))?;
    if !rd.namespaced && ns.is_some() {
        return Err(ApiError::path_not_found(&req.path));
    }
    if rd.namespaced && ns.is_none() && (name.is_some() || req.method != http::Method::GET) {
        return Err(ApiError::path_not_found(&req.path));
    }
    let status_sub = match sub {
        None => false,
        Some("status") if rd.status_subresource => true,
        Some(_) => return Err(ApiError::path_not_found(&req.path)),
    };
    use http::Method;
    match (&req.method, name) {
        (&Method::GET, None) | (&Method::HEAD, None) => {
            if req.flag("watch") {
                watch_spec(&rd, ns, req).map(Outcome::Watch)
            } else {
                list(state, &rd, ns, req).map(Outcome::Response)
            }
        }
        (&Method::GET, Some(n)) | (&Method::HEAD, Some(n)) => {
            get(state, &rd, ns, n, req).map(Outcome::Response)
        }
        (&Method::POST, None) => {
            let opts = write_opts(req)?;
            let body = decode_body(req, &rd)?;
            let (obj, warnings) = create(state, &rd, ns, body, &opts)?;
            let mut r = Response::json(201, &obj);
            r.warnings = warnings;
            Ok(Outcome::Response(r))
        }
        (&Method::PUT, Some(n)) => {
            let opts = write_opts(req)?;
            let body = decode_body(req, &rd)?;
            update(state, &rd, ns, n, status_sub, body, &opts).map(Outcome::Response)
        }
        (&Method::PATCH, Some(n)) => {
            let opts = write_opts(req)?;
            patch_object(state, &rd, ns, n, status_sub, req, &opts).map(Outcome::Response)
        }
        (&Method::DELETE, Some(n)) if !status_sub => {
            delete(state, &rd, ns, n, req).map(Outcome::Response)
        }
        (&Method::DELETE, None) => delete_collection(state, &rd, ns, req).map(Outcome::Response),
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            req.method
        ))),
    }
}

fn decode_value(bytes: &[u8], yaml: bool) -> Result<Value, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if yaml {
        let v: Value = serde_yaml::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("error converting YAML to JSON: yaml: {e}"))
        })?;
        Ok(v)
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
        })
    }
}

/// The media types a create or update accepts.
fn body_media_types(rd: &ResourceDef) -> &'static [&'static str] {
    // kube-apiserver names protobuf for custom resources too, though it cannot decode it.
    let _ = rd;
    &[
        "application/json",
        "application/yaml",
        crate::proto::CONTENT_TYPE,
    ]
}

/// The media types a patch accepts.
fn patch_media_types(rd: &ResourceDef) -> &'static [&'static str] {
    if rd.custom {
        &[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ]
    } else {
        &[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ]
    }
}

fn decode_body(req: &Request, rd: &ResourceDef) -> Result<Value, ApiError> {
    let yaml = match req.content_type.as_deref() {
        None | Some("application/json") | Some("*/*") => false,
        Some("application/yaml") | Some("application/x-yaml") | Some("text/yaml") => true,
        Some(crate::proto::CONTENT_TYPE) => {
            return crate::proto::decode(&req.body).map_err(|e| {
                if e.starts_with("protobuf is not supported") {
                    ApiError::unsupported_media_type(body_media_types(rd))
                } else {
                    ApiError::bad_request(format!(
                        "the body of the request could not be decoded: {e}"
                    ))
                }
            });
        }
        Some(_) => return Err(ApiError::unsupported_media_type(body_media_types(rd))),
    };
    let v = decode_value(&req.body, yaml)?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(v)
}

// ---------------------------------------------------------------- views

fn to_view(rd: &ResourceDef, stored: &Value) -> Value {
    if rd.group == "events.k8s.io" {
        return events::to_events_v1(stored);
    }
    let mut v = stored.clone();
    if rd.custom
        && let Some(o) = v.as_object_mut()
    {
        o.insert("apiVersion".into(), Value::String(rd.api_version()));
    }
    v
}

/// Like [`to_view`], without a copy when the stored form is the view.
fn view_cow<'a>(rd: &ResourceDef, stored: &'a Value) -> std::borrow::Cow<'a, Value> {
    let same = rd.group != "events.k8s.io"
        && (!rd.custom
            || stored.get("apiVersion").and_then(|v| v.as_str()) == Some(&rd.api_version()));
    if same {
        std::borrow::Cow::Borrowed(stored)
    } else {
        std::borrow::Cow::Owned(to_view(rd, stored))
    }
}

fn from_view(rd: &ResourceDef, view: Value) -> Value {
    if rd.group == "events.k8s.io" {
        return events::to_core(&view);
    }
    view
}

fn check_type(rd: &ResourceDef, obj: &mut Value) -> Result<(), ApiError> {
    let o = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body of the request must be a JSON object"))?;
    let want_av = rd.api_version();
    match o.get("apiVersion").and_then(|v| v.as_str()) {
        None | Some("") => {
            o.insert("apiVersion".into(), Value::String(want_av));
        }
        Some(av) if av == want_av => {}
        Some(av) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({want_av})"
            )));
        }
    }
    match o.get("kind").and_then(|v| v.as_str()) {
        None | Some("") => {
            o.insert("kind".into(), Value::String(rd.kind.clone()));
        }
        Some(k) if k == rd.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rd.kind
            )));
        }
    }
    match o.get("metadata") {
        None | Some(Value::Null) => {
            o.insert("metadata".into(), json!({}));
        }
        Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "metadata: expected an object in the body of the request",
            ));
        }
    }
    Ok(())
}

fn meta(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    obj.get("metadata")
        .and_then(|m| m.as_object())
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// Starts a graceful deletion: the deletion timestamp, a grace period of 0, and (as
/// kube-apiserver does, so that controllers see a new generation) the generation bumped.
fn mark_deleting(m: &mut Map<String, Value>, now: &str) {
    m.insert("deletionTimestamp".into(), json!(now));
    m.insert("deletionGracePeriodSeconds".into(), json!(0));
    if let Some(g) = m.get("generation").and_then(Value::as_i64)
        && g > 0
    {
        m.insert("generation".into(), json!(g + 1));
    }
}

fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    obj.get_mut("metadata").and_then(|m| m.as_object_mut())
}

fn meta_str<'a>(obj: &'a Value, k: &str) -> Option<&'a str> {
    meta(obj).get(k).and_then(|v| v.as_str())
}

fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .get("finalizers")
        .and_then(|f| f.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn key_of(rd: &ResourceDef, ns: Option<&str>, name: &str) -> ObjKey {
    ObjKey::new(
        &rd.storage_group,
        &rd.storage_resource,
        if rd.namespaced { ns.unwrap_or("") } else { "" },
        name,
    )
}

fn render_one(rd: &ResourceDef, stored: &Value, format: Format) -> Value {
    let view = to_view(rd, stored);
    match format {
        Format::Object => view,
        Format::Metadata => table::partial_metadata(&view),
        Format::Table(inc) => table::table(
            rd,
            &[view],
            true,
            json!({"resourceVersion": stored["metadata"]["resourceVersion"]}),
            inc,
        ),
    }
}

fn table_content_type(format: Format) -> &'static str {
    match format {
        Format::Table(_) => "application/json;as=Table;v=v1;g=meta.k8s.io",
        Format::Metadata => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        Format::Object => "application/json",
    }
}

// ---------------------------------------------------------------- reads

fn get(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let format = include_object(req, format_of(&req.accept, false)?);
    let obj = state
        .store
        .get(&key_of(rd, ns, name))
        .ok_or_else(|| ApiError::not_found(&rd.group, &rd.plural, name))?;
    let mut r = Response::json(200, &render_one(rd, &obj, format));
    r.content_type = table_content_type(format).into();
    Ok(r)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

fn selectors(rd: &ResourceDef, req: &Request) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(req.q("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(req.q("fieldSelector").unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    // A custom resource without selectable fields selects by name and namespace only.
    if rd.custom
        && let Some(other) = fields
            .paths()
            .find(|p| *p != "metadata.name" && *p != "metadata.namespace")
    {
        return Err(ApiError::bad_request(format!(
            "field label not supported: {other}"
        )));
    }
    Ok((labels, fields))
}

fn check_rv_params(req: &Request, streaming: bool) -> Result<Option<u64>, ApiError> {
    let rv = req.q("resourceVersion").filter(|s| !s.is_empty());
    if let Some(m) = req.q("resourceVersionMatch").filter(|s| !s.is_empty()) {
        if rv.is_none() && !streaming {
            return Err(ApiError::unprocessable(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if !matches!(m, "NotOlderThan" | "Exact") {
            return Err(ApiError::unprocessable(format!(
                "resourceVersionMatch: Unsupported value: \"{m}\": supported values: \"Exact\", \"NotOlderThan\""
            )));
        }
    }
    match rv {
        None => Ok(None),
        Some(s) => s.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion: Invalid value: \"{s}\": must be a number"
            ))
        }),
    }
}

fn list(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    req: &Request,
) -> Result<Response, ApiError> {
    let format = include_object(req, format_of(&req.accept, true)?);
    state
        .lists_served
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (labels, fields) = selectors(rd, req)?;
    let rv_param = check_rv_params(req, false)?;
    let cont = req.q("continue").filter(|s| !s.is_empty());
    let mut limit = match req.q("limit").filter(|s| !s.is_empty()) {
        None => 0usize,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| {
                ApiError::bad_request(format!("limit: Invalid value: {l:?}: must be an integer"))
            })?
            .max(0) as usize,
    };
    if rv_param == Some(0) && cont.is_none() {
        limit = 0;
    }
    let after = match cont {
        None => None,
        Some(c) => Some(unhex(c).ok_or_else(|| {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion",
            )
        })?),
    };
    let (rv, items) = state
        .store
        .list(&rd.storage_group, &rd.storage_resource, ns);
    if let Some(want) = rv_param.filter(|w| *w > rv && cont.is_none()) {
        return Err(ApiError::too_large_resource_version(want, rv));
    }
    let mut out = Vec::new();
    let mut next = None;
    let mut remaining = 0usize;
    for (k, obj) in &items {
        let pos = format!("{}/{}", k.namespace, k.name);
        if after.as_ref().is_some_and(|a| pos.as_str() <= a.as_str()) {
            continue;
        }
        let view = view_cow(rd, obj);
        if !labels.matches(&view) || !fields.matches(&view) {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            remaining += 1;
            continue;
        }
        if limit > 0 && out.len() + 1 == limit {
            next = Some(pos);
        }
        out.push(view);
    }
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if remaining > 0
        && let Some(n) = next
    {
        list_meta["continue"] = Value::String(hex(&n));
        list_meta["remainingItemCount"] = json!(remaining);
    } else if rd.custom && format == Format::Object {
        // kube-apiserver's unstructured lists of custom resources carry an empty token.
        list_meta["continue"] = json!("");
    }
    let body = match format {
        Format::Table(inc) => serde_json::to_vec(&table::table(rd, &out, true, list_meta, inc)),
        Format::Metadata => serde_json::to_vec(&json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "items": out.iter().map(|o| table::partial_metadata(o)).collect::<Vec<_>>(),
        })),
        Format::Object => {
            #[derive(serde::Serialize)]
            struct ListOut<'a> {
                kind: &'a str,
                #[serde(rename = "apiVersion")]
                api_version: String,
                metadata: Value,
                items: &'a [std::borrow::Cow<'a, Value>],
            }
            serde_json::to_vec(&ListOut {
                kind: &rd.list_kind,
                api_version: rd.api_version(),
                metadata: list_meta,
                items: &out,
            })
        }
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut r = Response {
        status: 200,
        content_type: String::new(),
        body,
        warnings: Vec::new(),
    };
    r.content_type = match format {
        Format::Metadata => {
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".into()
        }
        f => table_content_type(f).into(),
    };
    Ok(r)
}

fn watch_spec(
    rd: &Arc<ResourceDef>,
    ns: Option<&str>,
    req: &Request,
) -> Result<WatchSpec, ApiError> {
    let mut format = include_object(req, format_of(&req.accept, true)?);
    if format == Format::Metadata {
        format = Format::Metadata;
    }
    let (labels, fields) = selectors(rd, req)?;
    let rv = check_rv_params(req, req.flag("sendInitialEvents"))?;
    let send_initial_events = req.flag("sendInitialEvents");
    if send_initial_events && req.q("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::invalid_field(
            "meta.k8s.io",
            "ListOptions",
            "",
            "resourceVersionMatch",
            "Forbidden",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    let timeout =
        match req.q("timeoutSeconds").filter(|s| !s.is_empty()) {
            Some(t) => Duration::from_secs(t.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("timeoutSeconds: Invalid value: {t:?}"))
            })?),
            None => Duration::from_secs(30 * 60),
        };
    Ok(WatchSpec {
        rd: rd.clone(),
        namespace: ns.map(str::to_string),
        labels,
        fields,
        since: if send_initial_events || rv.is_none() || rv == Some(0) {
            None
        } else {
            rv
        },
        send_initial_events,
        bookmarks: req.flag("allowWatchBookmarks") || send_initial_events,
        timeout,
        format,
    })
}

impl WatchSpec {
    /// Whether a stored object belongs to this watch.
    pub fn matches(&self, key: &ObjKey, stored: &Value) -> bool {
        if key.group != self.rd.storage_group || key.resource != self.rd.storage_resource {
            return false;
        }
        if let Some(ns) = &self.namespace
            && key.namespace != *ns
        {
            return false;
        }
        if self.labels.is_empty() && self.fields.is_empty() {
            return true;
        }
        let view = to_view(&self.rd, stored);
        self.labels.matches(&view) && self.fields.matches(&view)
    }

    /// The event type this watch sees for a change, or None when the change
    /// is not for it. With selectors, an object that starts matching is
    /// ADDED and one that stops matching is DELETED, as upstream.
    pub fn event_kind(&self, ev: &crate::store::ChangeEvent) -> Option<&'static str> {
        let now = self.matches(&ev.key, &ev.object);
        if ev.kind != crate::store::EventType::Modified
            || (self.labels.is_empty() && self.fields.is_empty())
        {
            return now.then(|| ev.kind.as_str());
        }
        let before = ev
            .previous
            .as_ref()
            .is_some_and(|p| self.matches(&ev.key, p));
        match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        }
    }

    /// One event line (with the trailing newline).
    pub fn event_line(&self, kind: &str, stored: &Value, first: &mut bool) -> Vec<u8> {
        let object = match self.format {
            Format::Object => to_view(&self.rd, stored),
            Format::Metadata => table::partial_metadata(&to_view(&self.rd, stored)),
            Format::Table(inc) => {
                let t = table::table(
                    &self.rd,
                    &[to_view(&self.rd, stored)],
                    *first,
                    json!({"resourceVersion": stored["metadata"]["resourceVersion"]}),
                    inc,
                );
                *first = false;
                t
            }
        };
        line(&json!({"type": kind, "object": object}))
    }

    /// A BOOKMARK line.
    pub fn bookmark_line(&self, rv: u64, initial_end: bool) -> Vec<u8> {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, api_version) = match self.format {
            Format::Object => (self.rd.kind.clone(), self.rd.api_version()),
            Format::Metadata => ("PartialObjectMetadata".into(), "meta.k8s.io/v1".into()),
            Format::Table(_) => ("Table".into(), "meta.k8s.io/v1".into()),
        };
        line(
            &json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": metadata}}),
        )
    }

    /// The content type of the stream.
    pub fn content_type(&self) -> &'static str {
        table_content_type(self.format)
    }
}

/// An ERROR event line.
pub fn error_line(e: &ApiError) -> Vec<u8> {
    line(&json!({"type": "ERROR", "object": e.to_status()}))
}

fn line(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    b
}

// ---------------------------------------------------------------- writes

fn manager_of(opts: &WriteOpts) -> String {
    opts.manager.clone().unwrap_or_else(|| "unknown".into())
}

/// Spec-like content: everything but metadata and status.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
        o.remove("apiVersion");
        o.remove("kind");
    }
    v
}

/// The object without fields that change on every write.
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = meta_mut(&mut v) {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    v
}

fn namespace_check(objects: &Objects, rd: &ResourceDef, key: &ObjKey) -> Result<(), ApiError> {
    let ns = key.namespace.as_str();
    if !rd.namespaced {
        return Ok(());
    }
    match objects.get(&ObjKey::new("", "namespaces", "", ns)) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if meta(n).contains_key("deletionTimestamp") => Err(ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            status::qualified(&rd.plural, &rd.group),
            key.name,
        ))),
        Some(_) => Ok(()),
    }
}

const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Applies the fieldValidation policy to unknown fields (unknown
/// `metadata` fields on every kind, fields outside the schema on custom
/// resources; both are dropped), then runs schema admission for custom
/// resources. Unknown fields are reported before validation errors, as the
/// apiserver decodes before it validates.
fn admit(
    rd: &ResourceDef,
    obj: &mut Value,
    old: Option<&Value>,
    opts: &WriteOpts,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    let mut unknown: Vec<String> = Vec::new();
    if let Some(m) = meta_mut(obj) {
        let extra: Vec<String> = m
            .keys()
            .filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in extra {
            m.remove(&k);
            unknown.push(format!("metadata.{k}"));
        }
    }
    if let Some(check) = &rd.admission {
        unknown.extend(check.unknown_fields(obj));
    }
    if !unknown.is_empty() {
        match opts.validation {
            Validation::Strict => {
                let list = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {list}",
                    kind = rd.kind,
                    v = rd.version
                )));
            }
            Validation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            }
            Validation::Ignore => {}
        }
    }
    let Some(check) = &rd.admission else {
        return Ok(());
    };
    let name = meta_str(obj, "name").unwrap_or_default().to_string();
    check
        .admit(&rd.kind, &rd.group, &name, obj, old)
        .map_err(|rej| {
            let mut e = ApiError::invalid(&rd.group, &rd.kind, &name, rej.message, &rej.causes);
            e.warnings = warnings.clone();
            e
        })
}

fn validate_crd(obj: &Value) -> Result<(), ApiError> {
    let name = meta_str(obj, "name").unwrap_or_default();
    if let Err(errs) = registry::defs_from_crd(obj) {
        let causes: Vec<status::Cause> = errs
            .iter()
            .map(|(f, m)| status::Cause {
                reason: "FieldValueInvalid".into(),
                message: m.clone(),
                field: f.clone(),
            })
            .collect();
        let detail = errs
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join(", ");
        let msg = format!(
            "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: {detail}"
        );
        return Err(ApiError::invalid(
            CRD_GROUP,
            "CustomResourceDefinition",
            name,
            msg,
            &causes,
        ));
    }
    let group = obj["spec"]["group"].as_str().unwrap_or_default();
    let plural = obj["spec"]["names"]["plural"].as_str().unwrap_or_default();
    if name != format!("{plural}.{group}") {
        return Err(ApiError::invalid_field(
            CRD_GROUP,
            "CustomResourceDefinition",
            name,
            "metadata.name",
            "Invalid value",
            &format!("\"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    Ok(())
}

fn is_qualified_name(s: &str) -> bool {
    let ok_part = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
    };
    match s.split_once('/') {
        Some((prefix, name)) => {
            util::check_name(prefix, crate::registry::NameRule::Subdomain).is_none()
                && ok_part(name)
        }
        None => ok_part(s),
    }
}

fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c)))
}

/// Type checks (400, as a decoding error upstream) and label checks (422)
/// of the metadata a client sends.
fn check_metadata(rd: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    let m = meta(obj);
    let decode_err = |field: &str, want: &str| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: json: cannot unmarshal metadata.{field}: expected {want}",
            rd.kind, rd.version, rd.kind
        ))
    };
    for f in [
        "name",
        "generateName",
        "namespace",
        "resourceVersion",
        "uid",
    ] {
        if m.get(f).is_some_and(|v| !v.is_string() && !v.is_null()) {
            return Err(decode_err(f, "a string"));
        }
    }
    for f in ["labels", "annotations"] {
        match m.get(f) {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => {
                if o.values().any(|v| !v.is_string()) {
                    return Err(decode_err(f, "a map of strings"));
                }
            }
            Some(_) => return Err(decode_err(f, "a map of strings")),
        }
    }
    match m.get("finalizers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(|v| v.is_string()) => {}
        Some(_) => return Err(decode_err("finalizers", "a list of strings")),
    }
    let name = m.get("name").and_then(|n| n.as_str()).unwrap_or_default();
    let invalid = |field: String, detail: String| {
        ApiError::invalid_field(&rd.group, &rd.kind, name, &field, "Invalid value", &detail)
    };
    if let Some(labels) = m.get("labels").and_then(|l| l.as_object()) {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                return Err(invalid(
                    "metadata.labels".into(),
                    format!(
                        "\"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
                    ),
                ));
            }
            let v = v.as_str().unwrap_or_default();
            if !is_label_value(v) {
                return Err(invalid(
                    "metadata.labels".into(),
                    format!(
                        "\"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                    ),
                ));
            }
        }
    }
    if let Some(ann) = m.get("annotations").and_then(|a| a.as_object()) {
        let total: usize = ann
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if total > 256 * 1024 {
            return Err(ApiError::invalid_field(
                &rd.group,
                &rd.kind,
                name,
                "metadata.annotations",
                "Too long",
                "must have at most 262144 bytes",
            ));
        }
        if let Some(k) = ann
            .keys()
            .find(|k| !is_qualified_name(&k.to_ascii_lowercase()))
        {
            return Err(invalid(
                "metadata.annotations".into(),
                format!(
                    "\"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                ),
            ));
        }
    }
    Ok(())
}

fn is_base64(s: &str) -> bool {
    s.len().is_multiple_of(4)
        && s.trim_end_matches('=').len() + 2 >= s.len()
        && s.trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Secrets: `stringData` is merged into `data` (base64) and dropped, and
/// `data` must hold base64 strings, as upstream.
fn normalize_secret(rd: &ResourceDef, obj: &mut Value) -> Result<(), ApiError> {
    if !(rd.group.is_empty() && rd.plural == "secrets") {
        return Ok(());
    }
    let Some(o) = obj.as_object_mut() else {
        return Ok(());
    };
    let string_data = o.remove("stringData");
    if let Some(d) = o.get("data")
        && !d.is_null()
    {
        let ok = d
            .as_object()
            .is_some_and(|m| m.values().all(|v| v.as_str().is_some_and(is_base64)));
        if !ok {
            return Err(ApiError::bad_request(
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data",
            ));
        }
    }
    match string_data {
        None | Some(Value::Null) => {}
        Some(Value::Object(sd)) => {
            let data = o.entry("data").or_insert_with(|| Value::Object(Map::new()));
            if data.is_null() {
                *data = Value::Object(Map::new());
            }
            for (k, v) in sd {
                let Some(text) = v.as_str() else {
                    return Err(ApiError::bad_request(
                        "Secret in version \"v1\" cannot be handled as a Secret: stringData values must be strings",
                    ));
                };
                if let Some(d) = data.as_object_mut() {
                    d.insert(k, Value::String(crate::proto::b64(text.as_bytes())));
                }
            }
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "Secret in version \"v1\" cannot be handled as a Secret: stringData must be a map of strings",
            ));
        }
    }
    Ok(())
}

/// Fills server-owned metadata on a new object and checks it.
#[allow(clippy::too_many_arguments)]
fn prepare_create(
    rd: &ResourceDef,
    ns: Option<&str>,
    mut obj: Value,
    opts: &WriteOpts,
    keep_managed: bool,
    now: &str,
    warnings: &mut Vec<String>,
) -> Result<(ObjKey, Value), ApiError> {
    check_metadata(rd, &obj)?;
    normalize_secret(rd, &mut obj)?;
    let m =
        meta_mut(&mut obj).ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    let name = match m
        .get("name")
        .and_then(|n| n.as_str())
        .filter(|n| !n.is_empty())
    {
        Some(n) => n.to_string(),
        None => match m
            .get("generateName")
            .and_then(|n| n.as_str())
            .filter(|n| !n.is_empty())
        {
            Some(prefix) => format!("{prefix}{}", util::name_suffix()),
            None => {
                // As kube-apiserver, a custom resource's schema is still
                // checked, after the name.
                if let Some(check) = &rd.admission {
                    let required = suido_admission::FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    );
                    let mut probe = obj.clone();
                    if let Err(rej) =
                        check.admit_after(&rd.kind, &rd.group, "", &mut probe, None, vec![required])
                    {
                        return Err(ApiError::invalid(
                            &rd.group,
                            &rd.kind,
                            "",
                            rej.message,
                            &rej.causes,
                        ));
                    }
                }
                return Err(ApiError::invalid_field(
                    &rd.group,
                    &rd.kind,
                    "",
                    "metadata.name",
                    "Required value",
                    "name or generateName is required",
                ));
            }
        },
    };
    if let Some(why) = util::check_name(&name, rd.name_rule) {
        return Err(ApiError::invalid_field(
            &rd.group,
            &rd.kind,
            &name,
            "metadata.name",
            "Invalid value",
            &format!("\"{name}\": {why}"),
        ));
    }
    if rd.namespaced {
        let path_ns = ns.unwrap_or("");
        match m.get("namespace").and_then(|n| n.as_str()) {
            Some(b) if !b.is_empty() && b != path_ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
        m.insert("namespace".into(), Value::String(path_ns.to_string()));
    } else {
        m.remove("namespace");
    }
    m.insert("name".into(), Value::String(name.clone()));
    for k in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        m.remove(k);
    }
    if !keep_managed {
        m.remove("managedFields");
    }
    m.insert("uid".into(), Value::String(util::new_uid()));
    m.insert("creationTimestamp".into(), Value::String(now.to_string()));
    if rd.tracks_generation {
        m.insert("generation".into(), json!(1));
    }
    if rd.status_subresource
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    if rd.group.is_empty() && rd.plural == "namespaces" {
        obj["status"] = json!({"phase": "Active"});
        if obj.get("spec").is_none() {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
    }
    if rd.group == CRD_GROUP && rd.plural == CRD_RESOURCE {
        validate_crd(&obj)?;
        obj["status"] = registry::crd_status(&obj, now);
    }
    admit(rd, &mut obj, None, opts, warnings)?;
    if !keep_managed {
        ssa::record_update(
            None,
            &mut obj,
            rd.schema.as_ref(),
            (&manager_of(opts), ""),
            &rd.api_version(),
            now,
        );
    }
    Ok((key_of(rd, ns, &name), obj))
}

/// Builds the new state of an existing object; None when nothing changes.
#[allow(clippy::too_many_arguments)]
fn prepare_update(
    rd: &ResourceDef,
    old: &Value,
    mut new: Value,
    status_sub: bool,
    opts: &WriteOpts,
    keep_managed: bool,
    now: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<Value>, ApiError> {
    check_metadata(rd, &new)?;
    normalize_secret(rd, &mut new)?;
    let name = meta_str(old, "name").unwrap_or_default().to_string();
    let new_meta = meta(&new);
    match new_meta.get("name").and_then(|n| n.as_str()) {
        Some(n) if !n.is_empty() && n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    if rd.namespaced
        && let Some(n) = new_meta.get("namespace").and_then(|n| n.as_str())
        && !n.is_empty()
        && Some(n) != meta_str(old, "namespace")
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(rv) = new_meta.get("resourceVersion").and_then(|v| v.as_str())
        && !rv.is_empty()
        && Some(rv) != meta_str(old, "resourceVersion")
    {
        return Err(ApiError::conflict(
            &rd.group,
            &rd.plural,
            &name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    let mut result = if status_sub {
        let mut r = old.clone();
        match new.get("status") {
            Some(s) => r["status"] = s.clone(),
            None => {
                if let Some(o) = r.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        if keep_managed
            && let Some(mf) = meta(&new).get("managedFields").cloned()
            && let Some(m) = meta_mut(&mut r)
        {
            m.insert("managedFields".into(), mf);
        }
        r
    } else {
        if !keep_managed
            && let Some(m) = meta_mut(&mut new)
            && !m.contains_key("managedFields")
            && let Some(mf) = meta(old).get("managedFields").cloned()
        {
            // Omitted managedFields keep the stored ones; sent ones (kubectl
            // migrating client-side-apply ownership) are taken as sent.
            m.insert("managedFields".into(), mf);
        }
        let om = meta(old).clone();
        if let Some(m) = meta_mut(&mut new) {
            for k in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match om.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            m.insert(
                "resourceVersion".into(),
                om.get("resourceVersion").cloned().unwrap_or(Value::Null),
            );
        }
        if rd.status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(o) = new.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        }
        new
    };
    if meta(old).contains_key("deletionTimestamp") {
        let before: BTreeSet<String> = finalizers(old).into_iter().collect();
        let added: Vec<String> = finalizers(&result)
            .into_iter()
            .filter(|f| !before.contains(f))
            .map(|f| format!("{f:?}"))
            .collect();
        if !added.is_empty() {
            // kube-apiserver checks the metadata twice on an update (the generic store
            // and the custom resource strategy): two causes, one message.
            let detail = format!(
                "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                added.join(", ")
            );
            let cause = status::Cause {
                reason: "FieldValueForbidden".into(),
                message: detail.clone(),
                field: "metadata.finalizers".into(),
            };
            let subject = if rd.group.is_empty() {
                rd.kind.clone()
            } else {
                format!("{}.{}", rd.kind, rd.group)
            };
            return Err(ApiError::invalid(
                &rd.group,
                &rd.kind,
                &name,
                format!("{subject} \"{name}\" is invalid: metadata.finalizers: {detail}"),
                &[cause.clone(), cause],
            ));
        }
    }
    if rd.group == CRD_GROUP && rd.plural == CRD_RESOURCE && !status_sub {
        validate_crd(&result)?;
        result["status"] = registry::crd_status(&result, now);
        if let Some(conds) = old.get("status").and_then(|s| s.get("conditions")) {
            // Keep the original transition times.
            result["status"]["conditions"] = conds.clone();
        }
    }
    admit(rd, &mut result, Some(old), opts, warnings)?;
    if rd.tracks_generation && spec_part(old) != spec_part(&result) {
        let g = meta(old)
            .get("generation")
            .and_then(|g| g.as_i64())
            .unwrap_or(0);
        if let Some(m) = meta_mut(&mut result) {
            m.insert("generation".into(), json!(g + 1));
        }
    }
    let managed_fields_sent = !keep_managed
        && !status_sub
        && meta(&result).get("managedFields") != meta(old).get("managedFields");
    if comparable(&result) == comparable(old) && !managed_fields_sent {
        return Ok(None);
    }
    if !keep_managed {
        ssa::record_update(
            Some(old),
            &mut result,
            rd.schema.as_ref(),
            (&manager_of(opts), if status_sub { "status" } else { "" }),
            &rd.api_version(),
            now,
        );
    }
    Ok(Some(result))
}

/// Writes for the final removal of an object, including what it takes
/// with it (namespace contents, custom resources of a CRD) and a
/// terminating namespace that becomes empty.
fn removal_writes(
    objects: &Objects,
    key: &ObjKey,
    obj: &Value,
    now: &str,
    writes: &mut Vec<Write>,
) -> bool {
    // Namespaces: delete the contents first; objects with finalizers stay
    // and keep the namespace terminating.
    if key.group.is_empty() && key.resource == "namespaces" {
        let mut remaining = false;
        for (k, o) in objects
            .iter()
            .filter(|(k, _)| k.namespace == key.name && !k.namespace.is_empty())
        {
            if finalizers(o).is_empty() {
                writes.push(Write::Delete {
                    key: k.clone(),
                    object: (**o).clone(),
                });
            } else {
                remaining = true;
                if !meta(o).contains_key("deletionTimestamp") {
                    let mut x = (**o).clone();
                    if let Some(m) = meta_mut(&mut x) {
                        mark_deleting(m, now);
                    }
                    writes.push(Write::Put {
                        key: k.clone(),
                        object: x,
                        added: false,
                    });
                }
            }
        }
        if remaining {
            let mut ns = obj.clone();
            if let Some(m) = meta_mut(&mut ns) {
                mark_deleting(m, now);
            }
            ns["status"] = json!({"phase": "Terminating"});
            writes.push(Write::Put {
                key: key.clone(),
                object: ns,
                added: false,
            });
            return false;
        }
    }
    if key.group == CRD_GROUP && key.resource == CRD_RESOURCE {
        let group = obj["spec"]["group"].as_str().unwrap_or_default();
        let plural = obj["spec"]["names"]["plural"].as_str().unwrap_or_default();
        let start = ObjKey::new(group, plural, "", "");
        for (k, o) in objects
            .range(start..)
            .take_while(|(k, _)| k.group == group && k.resource == plural)
        {
            writes.push(Write::Delete {
                key: k.clone(),
                object: (**o).clone(),
            });
        }
    }
    writes.push(Write::Delete {
        key: key.clone(),
        object: obj.clone(),
    });
    // A terminating namespace whose last object just went away.
    if !key.namespace.is_empty() {
        let ns_key = ObjKey::new("", "namespaces", "", &key.namespace);
        if let Some(ns) = objects.get(&ns_key)
            && meta(ns).contains_key("deletionTimestamp")
        {
            let pending_elsewhere = objects.keys().any(|k| {
                k.namespace == key.namespace
                    && k != key
                    && !writes
                        .iter()
                        .any(|w| matches!(w, Write::Delete { key: dk, .. } if dk == k))
            });
            if !pending_elsewhere {
                writes.push(Write::Delete {
                    key: ns_key,
                    object: (**ns).clone(),
                });
            }
        }
    }
    true
}

fn owner_uids(obj: &Value) -> Vec<&str> {
    meta(obj)
        .get("ownerReferences")
        .and_then(|o| o.as_array())
        .map(|a| a.iter().filter_map(|r| r.get("uid")?.as_str()).collect())
        .unwrap_or_default()
}

/// Garbage collection of dependents, after `writes` deleted some objects:
/// an object whose owners (`metadata.ownerReferences`) are all gone is
/// deleted too (background propagation, transitively; dependents with
/// finalizers get a deletionTimestamp). With `orphan`, dependents instead
/// lose the references to the deleted owners.
fn collect_garbage(objects: &Objects, writes: &mut Vec<Write>, now: &str, orphan: bool) {
    let mut deleted: BTreeSet<String> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Delete { object, .. } => meta_str(object, "uid").map(str::to_string),
            _ => None,
        })
        .collect();
    let has_owners = |o: &Value| {
        meta(o)
            .get("ownerReferences")
            .and_then(|r| r.as_array())
            .is_some_and(|a| !a.is_empty())
    };
    if deleted.is_empty() || !objects.values().any(|o| has_owners(o)) {
        return;
    }
    let live: BTreeSet<&str> = objects
        .values()
        .filter_map(|o| meta_str(o, "uid"))
        .collect();
    let mut touched: BTreeSet<ObjKey> = writes
        .iter()
        .map(|w| match w {
            Write::Delete { key, .. } | Write::Put { key, .. } => key.clone(),
        })
        .collect();
    loop {
        let mut progress = false;
        for (k, o) in objects.iter() {
            let owners = owner_uids(o);
            if owners.is_empty()
                || !owners.iter().any(|u| deleted.contains(*u))
                || touched.contains(k)
            {
                continue;
            }
            if orphan {
                let mut x = (**o).clone();
                if let Some(refs) = meta_mut(&mut x)
                    .and_then(|m| m.get_mut("ownerReferences"))
                    .and_then(|r| r.as_array_mut())
                {
                    refs.retain(|r| {
                        !r.get("uid")
                            .and_then(|u| u.as_str())
                            .is_some_and(|u| deleted.contains(u))
                    });
                }
                touched.insert(k.clone());
                writes.push(Write::Put {
                    key: k.clone(),
                    object: x,
                    added: false,
                });
                continue;
            }
            let all_gone = owners
                .iter()
                .all(|u| deleted.contains(*u) || !live.contains(u));
            if !all_gone {
                continue;
            }
            if finalizers(o).is_empty() {
                touched.insert(k.clone());
                writes.push(Write::Delete {
                    key: k.clone(),
                    object: (**o).clone(),
                });
                if let Some(uid) = meta_str(o, "uid") {
                    deleted.insert(uid.to_string());
                }
                progress = true;
            } else if !meta(o).contains_key("deletionTimestamp") {
                let mut x = (**o).clone();
                if let Some(m) = meta_mut(&mut x) {
                    mark_deleting(m, now);
                }
                touched.insert(k.clone());
                writes.push(Write::Put {
                    key: k.clone(),
                    object: x,
                    added: false,
                });
            }
        }
        if orphan || !progress {
            break;
        }
    }
}

fn commit_result(state: &State, rd: &ResourceDef, written: &[Arc<Value>]) {
    let _ = written;
    if rd.group == CRD_GROUP && rd.plural == CRD_RESOURCE {
        state.rebuild_registry();
    }
}

/// Creates an object; returns its view and warnings.
pub fn create(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    mut body: Value,
    opts: &WriteOpts,
) -> Result<(Value, Vec<String>), ApiError> {
    check_type(rd, &mut body)?;
    if meta_str(&body, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let now = util::now_rfc3339();
    let mut warnings = Vec::new();
    let stored = from_view(rd, body);
    let (key, obj) = prepare_create(rd, ns, stored, opts, false, &now, &mut warnings)?;
    if opts.dry_run {
        if state.store.get(&key).is_some() {
            return Err(ApiError::already_exists(&rd.group, &rd.plural, &key.name));
        }
        return Ok((to_view(rd, &obj), warnings));
    }
    let (_, written) = state.store.transact(|objects| {
        namespace_check(objects, rd, &key)?;
        if objects.contains_key(&key) {
            return Err(ApiError::already_exists(&rd.group, &rd.plural, &key.name));
        }
        Ok((
            vec![Write::Put {
                key: key.clone(),
                object: obj,
                added: true,
            }],
            (),
        ))
    })?;
    commit_result(state, rd, &written);
    let out = written
        .first()
        .map(|o| to_view(rd, o))
        .unwrap_or(Value::Null);
    Ok((out, warnings))
}

/// The shared read-modify-write: `f` maps the current view (None when the
/// object is missing) to the desired view. Returns the HTTP status and the
/// resulting view.
#[allow(clippy::too_many_arguments)]
fn mutate(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    status_sub: bool,
    opts: &WriteOpts,
    keep_managed: bool,
    f: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
) -> Result<Response, ApiError> {
    let key = key_of(rd, ns, name);
    let now = util::now_rfc3339();
    let mut warnings = Vec::new();
    let ((code, unchanged), written) = state.store.transact(|objects| {
        let old = objects.get(&key).cloned();
        let old_view = old.as_ref().map(|o| to_view(rd, o));
        let mut new_view = f(old_view.as_ref())?;
        check_type(rd, &mut new_view)?;
        let new_stored = from_view(rd, new_view);
        match old {
            None => {
                let (k, obj) =
                    prepare_create(rd, ns, new_stored, opts, keep_managed, &now, &mut warnings)?;
                if k != key {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({}) does not match the name on the URL ({name})",
                        k.name
                    )));
                }
                namespace_check(objects, rd, &key)?;
                if opts.dry_run {
                    return Ok((vec![], (201, Some(Arc::new(obj)))));
                }
                Ok((
                    vec![Write::Put {
                        key: key.clone(),
                        object: obj,
                        added: true,
                    }],
                    (201, None),
                ))
            }
            Some(old) => {
                let next = prepare_update(
                    rd,
                    &old,
                    new_stored,
                    status_sub,
                    opts,
                    keep_managed,
                    &now,
                    &mut warnings,
                )?;
                let Some(next) = next else {
                    return Ok((vec![], (200, Some(old))));
                };
                if opts.dry_run {
                    return Ok((vec![], (200, Some(Arc::new(next)))));
                }
                let mut writes = Vec::new();
                if meta(&next).contains_key("deletionTimestamp") && finalizers(&next).is_empty() {
                    removal_writes(objects, &key, &next, &now, &mut writes);
                    collect_garbage(objects, &mut writes, &now, false);
                    // Report the object as last seen, like the real server.
                    return Ok((writes, (200, None)));
                }
                writes.push(Write::Put {
                    key: key.clone(),
                    object: next,
                    added: false,
                });
                Ok((writes, (200, None)))
            }
        }
    })?;
    commit_result(state, rd, &written);
    let obj = match unchanged {
        Some(o) => o,
        None => written
            .iter()
            .find(|o| {
                o.get("kind").and_then(|k| k.as_str()) == Some(rd.kind.as_str())
                    && meta_str(o, "name") == Some(name)
                    && (meta_str(o, "namespace").unwrap_or("") == key.namespace)
            })
            .cloned()
            .ok_or_else(|| ApiError::internal("write produced no object"))?,
    };
    let mut r = Response::json(code, &to_view(rd, &obj));
    r.warnings = warnings;
    Ok(r)
}

fn update(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    status_sub: bool,
    body: Value,
    opts: &WriteOpts,
) -> Result<Response, ApiError> {
    mutate(state, rd, ns, name, status_sub, opts, false, |old| {
        if old.is_none() {
            return Err(ApiError::not_found(&rd.group, &rd.plural, name));
        }
        if let Some(n) = meta_str(&body, "name").filter(|n| !n.is_empty() && *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        // Custom resources allow no unconditional update (kube-apiserver's
        // AllowUnconditionalUpdate is false for them).
        if rd.custom && meta_str(&body, "resourceVersion").is_none_or(str::is_empty) {
            return Err(ApiError::invalid_field(
                &rd.group,
                &rd.plural,
                name,
                "metadata.resourceVersion",
                "Invalid value",
                "0: must be specified for an update",
            ));
        }
        Ok(body)
    })
}

fn patch_object(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    status_sub: bool,
    req: &Request,
    opts: &WriteOpts,
) -> Result<Response, ApiError> {
    let ct = req.content_type.as_deref().unwrap_or("");
    match ct {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            if ct == "application/strategic-merge-patch+json" && rd.custom {
                return Err(ApiError::unsupported_media_type(patch_media_types(rd)));
            }
            let p = decode_value(&req.body, false)?;
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            mutate(state, rd, ns, name, status_sub, opts, false, |old| {
                let mut obj = old
                    .cloned()
                    .ok_or_else(|| ApiError::not_found(&rd.group, &rd.plural, name))?;
                patch::merge_patch(&mut obj, &p);
                Ok(obj)
            })
        }
        "application/json-patch+json" => {
            let p = decode_value(&req.body, false)?;
            if !p.is_array() {
                return Err(ApiError::bad_request(
                    "the JSON patch must be an array of operations",
                ));
            }
            mutate(state, rd, ns, name, status_sub, opts, false, |old| {
                let mut obj = old
                    .cloned()
                    .ok_or_else(|| ApiError::not_found(&rd.group, &rd.plural, name))?;
                patch::json_patch(&mut obj, &p).map_err(|e| ApiError::unprocessable(e.0))?;
                Ok(obj)
            })
        }
        "application/apply-patch+yaml" | "application/apply-patch+json" => {
            let manager = opts.manager.clone().ok_or_else(|| {
                ApiError::invalid_field(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    "fieldManager",
                    "Required value",
                    "is required for apply patch",
                )
            })?;
            let mut applied = decode_value(&req.body, true)?;
            check_apply_body(rd, &mut applied, name)?;
            check_apply_fields(rd, &applied, ns, name)?;
            let av = rd.api_version();
            mutate(state, rd, ns, name, status_sub, opts, true, |old| {
                let live = match old {
                    Some(o) => o.clone(),
                    None => json!({"apiVersion": av, "kind": rd.kind, "metadata": {"name": name}}),
                };
                let mut applied = applied;
                if let Some(o) = applied.as_object_mut() {
                    if status_sub {
                        let status = o.remove("status");
                        o.retain(|k, _| k == "apiVersion" || k == "kind" || k == "metadata");
                        if let Some(m) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                            m.retain(|k, _| k == "name" || k == "namespace");
                        }
                        if let Some(s) = status {
                            o.insert("status".into(), s);
                        }
                    } else if rd.status_subresource {
                        o.remove("status");
                    }
                }
                let sub = if status_sub { "status" } else { "" };
                let now = util::now_rfc3339();
                let normalize = |v: &mut Value| {
                    if let Some(check) = &rd.admission {
                        check.defaults(v);
                    }
                };
                let request = ssa::ApplyRequest {
                    applied: &applied,
                    manager: &manager,
                    subresource: sub,
                    force: opts.force,
                    api_version: &av,
                    now: &now,
                    normalize: &normalize,
                    schema: rd.schema.as_ref(),
                };
                ssa::apply(&live, &request).map_err(|conflicts| {
                    let causes: Vec<status::Cause> = conflicts
                        .iter()
                        .map(|c| status::Cause {
                            reason: "FieldManagerConflict".into(),
                            message: format!("conflict with {}", c.manager_text()),
                            field: c.field.clone(),
                        })
                        .collect();
                    ApiError::conflict_message(
                        &rd.group,
                        &rd.plural,
                        name,
                        ssa::conflict_message(&conflicts),
                        &causes,
                    )
                })
            })
        }
        // kube-apiserver's built-in types answer an unknown patch type tersely.
        _ if !rd.custom => Err(ApiError::unsupported_media_type_bare()),
        _ => Err(ApiError::unsupported_media_type(patch_media_types(rd))),
    }
}

/// Refuses an applied configuration with fields its schema does not declare, as
/// kube-apiserver does (with a 500, when it fails to type the patch).
fn check_apply_fields(
    rd: &ResourceDef,
    applied: &Value,
    ns: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let Some(check) = &rd.admission else {
        return Ok(());
    };
    let unknown = check.unknown_fields(applied);
    let errors: Vec<String> = unknown
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    let detail = match errors.as_slice() {
        [] => return Ok(()),
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    Err(ApiError::unclassified(
        500,
        format!(
            "failed to create typed patch object ({}/{name}; {}, Kind={}): {detail}",
            ns.unwrap_or(""),
            rd.api_version(),
            rd.kind
        ),
    ))
}

fn check_apply_body(rd: &ResourceDef, applied: &mut Value, name: &str) -> Result<(), ApiError> {
    let o = applied
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the apply patch must be an object"))?;
    let av = o
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let kind = o.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
    if av.is_empty() || kind.is_empty() {
        return Err(ApiError::bad_request(
            "invalid object type: apiVersion and kind must be set in an apply patch",
        ));
    }
    if av != rd.api_version() || kind != rd.kind {
        return Err(ApiError::bad_request(format!(
            "invalid object type: {av}, Kind={kind}"
        )));
    }
    match o
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
    {
        Some(n) if !n.is_empty() && n != name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => {
            let _ = rd;
            Ok(())
        }
    }
}

fn delete_options(req: &Request) -> Result<Value, ApiError> {
    // Protobuf DeleteOptions (typed clients) are not decoded: the defaults
    // (background propagation, no preconditions) apply.
    // Some clients (Helm's release storage) send the protobuf envelope, which starts with the
    // magic `k8s\0`, under another content type; it is treated the same way.
    if req.body.iter().all(|b| b.is_ascii_whitespace())
        || req.content_type.as_deref() == Some(crate::proto::CONTENT_TYPE)
        || req.body.starts_with(b"k8s\0")
    {
        return Ok(json!({}));
    }
    let yaml = matches!(req.content_type.as_deref(), Some("application/yaml"));
    let v = decode_value(&req.body, yaml)?;
    if !v.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be an object"));
    }
    Ok(v)
}

/// Writes to delete one object (or mark it for deletion). Returns the
/// object left behind when finalizers keep it.
fn delete_writes(
    objects: &Objects,
    key: &ObjKey,
    obj: &Value,
    now: &str,
    writes: &mut Vec<Write>,
) -> Option<Value> {
    if finalizers(obj).is_empty() {
        if removal_writes(objects, key, obj, now, writes) {
            None
        } else {
            writes.last().and_then(|w| match w {
                Write::Put { object, .. } => Some(object.clone()),
                _ => None,
            })
        }
    } else if meta(obj).contains_key("deletionTimestamp") {
        Some(obj.clone())
    } else {
        let mut x = obj.clone();
        if let Some(m) = meta_mut(&mut x) {
            mark_deleting(m, now);
        }
        writes.push(Write::Put {
            key: key.clone(),
            object: x.clone(),
            added: false,
        });
        Some(x)
    }
}

fn delete(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let opts = delete_options(req)?;
    let dry_run = req.q("dryRun") == Some("All")
        || opts
            .get("dryRun")
            .and_then(|d| d.as_array())
            .is_some_and(|a| a.iter().any(|x| x == "All"));
    let orphan = req.q("propagationPolicy") == Some("Orphan")
        || opts.get("propagationPolicy").and_then(|p| p.as_str()) == Some("Orphan")
        || opts.get("orphanDependents").and_then(|p| p.as_bool()) == Some(true);
    let key = key_of(rd, ns, name);
    let now = util::now_rfc3339();
    let (kept, written) = state.store.transact(|objects| {
        let obj = objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rd.group, &rd.plural, name))?;
        if let Some(pre) = opts.get("preconditions") {
            if let Some(uid) = pre.get("uid").and_then(|u| u.as_str())
                && Some(uid) != meta_str(&obj, "uid")
            {
                return Err(ApiError::conflict(&rd.group, &rd.kind, name, &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                    meta_str(&obj, "uid").unwrap_or_default()
                )));
            }
            if let Some(rv) = pre.get("resourceVersion").and_then(|u| u.as_str())
                && Some(rv) != meta_str(&obj, "resourceVersion")
            {
                return Err(ApiError::conflict(&rd.group, &rd.kind, name, &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                    meta_str(&obj, "resourceVersion").unwrap_or_default()
                )));
            }
        }
        let mut writes = Vec::new();
        let kept = delete_writes(objects, &key, &obj, &now, &mut writes);
        collect_garbage(objects, &mut writes, &now, orphan);
        if dry_run {
            return Ok((vec![], (kept, meta_str(&obj, "uid").map(str::to_string))));
        }
        Ok((writes, (kept, meta_str(&obj, "uid").map(str::to_string))))
    })?;
    commit_result(state, rd, &written);
    let (kept, uid) = kept;
    match kept {
        Some(obj) => {
            let latest = written
                .iter()
                .find(|o| {
                    o.get("kind").and_then(|k| k.as_str()) == Some(rd.kind.as_str())
                        && meta_str(o, "name") == Some(name)
                        && meta_str(o, "namespace").unwrap_or("") == key.namespace
                })
                .map(|o| (**o).clone())
                .unwrap_or(obj);
            Ok(Response::json(200, &to_view(rd, &latest)))
        }
        None => Ok(Response::json(
            200,
            &status::success(&rd.group, &rd.plural, name, uid.as_deref()),
        )),
    }
}

fn delete_collection(
    state: &State,
    rd: &ResourceDef,
    ns: Option<&str>,
    req: &Request,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(rd, req)?;
    let _ = delete_options(req)?;
    let dry_run = req.q("dryRun") == Some("All");
    let now = util::now_rfc3339();
    let (deleted_view, written) = state.store.transact(|objects| {
        let start = ObjKey::new(
            &rd.storage_group,
            &rd.storage_resource,
            ns.unwrap_or(""),
            "",
        );
        let targets: Vec<(ObjKey, Arc<Value>)> = objects
            .range(start..)
            .take_while(|(k, _)| {
                k.group == rd.storage_group
                    && k.resource == rd.storage_resource
                    && ns.is_none_or(|n| k.namespace == n)
            })
            .filter(|(_, o)| {
                let v = to_view(rd, o);
                labels.matches(&v) && fields.matches(&v)
            })
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        let mut writes = Vec::new();
        let mut deleted: BTreeSet<ObjKey> = BTreeSet::new();
        for (k, o) in &targets {
            if deleted.contains(k) {
                continue;
            }
            let mut ws = Vec::new();
            delete_writes(objects, k, o, &now, &mut ws);
            for w in ws {
                if let Write::Delete { key, .. } = &w
                    && !deleted.insert(key.clone())
                {
                    continue;
                }
                writes.push(w);
            }
        }
        collect_garbage(objects, &mut writes, &now, false);
        // The answer lists each object as the deletion left it (marked, when a
        // finalizer holds it), as kube-apiserver's does.
        let mut deleted_view = Vec::new();
        for (k, o) in &targets {
            let after = writes.iter().rev().find_map(|w| match w {
                Write::Put { key, object, .. } if key == k => Some(object.clone()),
                _ => None,
            });
            deleted_view.push(after.unwrap_or_else(|| (**o).clone()));
        }
        if dry_run {
            return Ok::<_, ApiError>((vec![], deleted_view));
        }
        Ok((writes, deleted_view))
    })?;
    commit_result(state, rd, &written);
    // A marked object as committed, with its new resourceVersion.
    let items: Vec<Value> = deleted_view
        .iter()
        .map(|o| {
            let uid = meta_str(o, "uid");
            let committed = written
                .iter()
                .find(|w| uid.is_some() && meta_str(w, "uid") == uid)
                .map(|w| (**w).clone());
            to_view(rd, &committed.unwrap_or_else(|| o.clone()))
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "kind": format!("{}List", rd.kind),
            "apiVersion": rd.api_version(),
            "metadata": {"resourceVersion": state.store.current_rv().to_string(), "continue": ""},
            "items": items,
        }),
    ))
}
