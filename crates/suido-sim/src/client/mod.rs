//! `SimProvider`: the provider traits over the simulator's HTTP API, the same path a real cloud
//! client takes (hyper 1 client, timeouts, HTTP status to error class). The service-family
//! traits are in `families`; `SimAdmin` (in `admin`) drives the admin endpoints.

mod admin;
mod families;

pub use admin::SimAdmin;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use suido_provider::{
    BlockStorageProvider, ClientToken, ComputeProvider, ConsoleAccess, DiskSpec, HealthProvider,
    MonitoringSettings, Operation, Operations, ProviderError, ProviderResult, Server, ServerHealth,
    ServerSize, ServerSpec, Tags, Volume, VolumeSpec,
};

use crate::wire::{
    AttachRequest, CreateServerRequest, CreateVolumeRequest, ErrorBody, GrowRequest, List,
    ResizeRequest,
};

/// Default time allowed for one request, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// Percent-encodes one path segment.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The error class of a non-2xx answer.
pub(crate) fn error_for_status(status: StatusCode, body: &[u8]) -> ProviderError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).chars().take(500).collect());
    let message = format!("HTTP {}: {message}", status.as_u16());
    match status.as_u16() {
        404 => ProviderError::not_found(message),
        409 => ProviderError::conflict(message),
        403 | 429 => ProviderError::quota(message),
        412 => ProviderError::precondition(message),
        408 => ProviderError::transient(message),
        400..=499 => ProviderError::invalid(message),
        _ => ProviderError::transient(message),
    }
}

impl Http {
    fn new(base_url: &str, timeout: Duration) -> ProviderResult<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        let uri: http::Uri = base
            .parse()
            .map_err(|e| ProviderError::invalid(format!("url `{base_url}`: {e}")))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(ProviderError::invalid(format!(
                "url `{base_url}` must be http://HOST:PORT"
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Http {
            base,
            client,
            timeout,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> ProviderResult<T> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b)
                .map_err(|e| ProviderError::invalid(format!("encoding the request: {e}")))?,
            None => Vec::new(),
        };
        let url = format!("{}{path}", self.base);
        let req = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| ProviderError::invalid(format!("request {method} {url}: {e}")))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| ProviderError::transient(format!("{method} {url}: {e}")))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| {
                    ProviderError::transient(format!("{method} {url}: reading the answer: {e}"))
                })?
                .to_bytes();
            Ok::<_, ProviderError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                ProviderError::transient(format!(
                    "{method} {url}: no answer within {} ms",
                    self.timeout.as_millis()
                ))
            })??;
        if !status.is_success() {
            let err = error_for_status(status, &body);
            tracing::debug!(%method, %url, error = %err, "sim request failed");
            return Err(err);
        }
        serde_json::from_slice(&body).map_err(|e| {
            ProviderError::transient(format!("{method} {url}: unexpected answer: {e}"))
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> ProviderResult<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + Sync),
    ) -> ProviderResult<T> {
        self.call(Method::POST, path, Some(body)).await
    }
}

fn tag_query(selector: &Tags) -> String {
    if selector.is_empty() {
        return String::new();
    }
    let mut q = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    for (k, v) in selector {
        q.append_pair("tag", &format!("{k}={v}"));
    }
    q.finish()
}

/// The provider traits implemented over the simulator's HTTP API.
#[derive(Clone, Debug)]
pub struct SimProvider {
    http: Http,
}

impl SimProvider {
    /// A client of the simulator at `base_url` (`http://127.0.0.1:PORT`) with the default
    /// timeout.
    pub fn new(base_url: &str) -> ProviderResult<Self> {
        SimProvider::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// A client whose every request (connection included) must finish within `timeout`.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> ProviderResult<Self> {
        Ok(SimProvider {
            http: Http::new(base_url, timeout)?,
        })
    }

    /// Every operation the simulator knows.
    pub async fn list_operations(&self) -> ProviderResult<Vec<Operation>> {
        Ok(self
            .http
            .get::<List<Operation>>("/v1/operations")
            .await?
            .items)
    }
}

#[async_trait]
impl Operations for SimProvider {
    async fn get_operation(&self, id: &str) -> ProviderResult<Operation> {
        self.http.get(&format!("/v1/operations/{}", seg(id))).await
    }
}

#[async_trait]
impl ComputeProvider for SimProvider {
    async fn create_server(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &ServerSpec,
    ) -> ProviderResult<Operation> {
        let req = CreateServerRequest {
            client_token: token.clone(),
            tags: tags.clone(),
            spec: spec.clone(),
        };
        self.http.post("/v1/servers", &req).await
    }

    async fn get_server(&self, id: &str) -> ProviderResult<Server> {
        self.http.get(&format!("/v1/servers/{}", seg(id))).await
    }

    async fn list_servers(&self, selector: &Tags) -> ProviderResult<Vec<Server>> {
        let path = format!("/v1/servers{}", tag_query(selector));
        Ok(self.http.get::<List<Server>>(&path).await?.items)
    }

    async fn start_server(&self, id: &str) -> ProviderResult<Operation> {
        self.http
            .post(&format!("/v1/servers/{}/start", seg(id)), &())
            .await
    }

    async fn stop_server(&self, id: &str) -> ProviderResult<Operation> {
        self.http
            .post(&format!("/v1/servers/{}/stop", seg(id)), &())
            .await
    }

    async fn resize_server(&self, id: &str, size: ServerSize) -> ProviderResult<Operation> {
        self.http
            .post(
                &format!("/v1/servers/{}/resize", seg(id)),
                &ResizeRequest { size },
            )
            .await
    }

    async fn attach_disk(&self, id: &str, disk: &DiskSpec) -> ProviderResult<Operation> {
        self.http
            .post(&format!("/v1/servers/{}/disks", seg(id)), disk)
            .await
    }

    async fn grow_disk(
        &self,
        id: &str,
        disk_name: &str,
        size_gb: u32,
    ) -> ProviderResult<Operation> {
        let path = format!("/v1/servers/{}/disks/{}/grow", seg(id), seg(disk_name));
        self.http.post(&path, &GrowRequest { size_gb }).await
    }

    async fn detach_disk(&self, id: &str, disk_name: &str) -> ProviderResult<Operation> {
        let path = format!("/v1/servers/{}/disks/{}", seg(id), seg(disk_name));
        self.http.call(Method::DELETE, &path, None::<&()>).await
    }

    async fn delete_server(&self, id: &str) -> ProviderResult<Operation> {
        let path = format!("/v1/servers/{}", seg(id));
        self.http.call(Method::DELETE, &path, None::<&()>).await
    }

    async fn console(&self, id: &str) -> ProviderResult<ConsoleAccess> {
        self.http
            .post(&format!("/v1/servers/{}/console", seg(id)), &())
            .await
    }

    async fn set_monitoring(&self, id: &str, settings: &MonitoringSettings) -> ProviderResult<()> {
        let path = format!("/v1/servers/{}/monitoring", seg(id));
        self.http
            .call::<Server>(Method::PUT, &path, Some(settings))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl BlockStorageProvider for SimProvider {
    async fn create_volume(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &VolumeSpec,
    ) -> ProviderResult<Operation> {
        let req = CreateVolumeRequest {
            client_token: token.clone(),
            tags: tags.clone(),
            spec: spec.clone(),
        };
        self.http.post("/v1/volumes", &req).await
    }

    async fn get_volume(&self, id: &str) -> ProviderResult<Volume> {
        self.http.get(&format!("/v1/volumes/{}", seg(id))).await
    }

    async fn list_volumes(&self, selector: &Tags) -> ProviderResult<Vec<Volume>> {
        let path = format!("/v1/volumes{}", tag_query(selector));
        Ok(self.http.get::<List<Volume>>(&path).await?.items)
    }

    async fn delete_volume(&self, id: &str) -> ProviderResult<Operation> {
        let path = format!("/v1/volumes/{}", seg(id));
        self.http.call(Method::DELETE, &path, None::<&()>).await
    }

    async fn grow_volume(&self, id: &str, size_gb: u32) -> ProviderResult<Operation> {
        self.http
            .post(
                &format!("/v1/volumes/{}/grow", seg(id)),
                &GrowRequest { size_gb },
            )
            .await
    }

    async fn attach_volume(&self, id: &str, server_id: &str) -> ProviderResult<Operation> {
        let req = AttachRequest {
            server_id: server_id.to_string(),
        };
        self.http
            .post(&format!("/v1/volumes/{}/attach", seg(id)), &req)
            .await
    }

    async fn detach_volume(&self, id: &str) -> ProviderResult<Operation> {
        self.http
            .post(&format!("/v1/volumes/{}/detach", seg(id)), &())
            .await
    }
}

#[async_trait]
impl HealthProvider for SimProvider {
    async fn server_health(&self, id: &str) -> ProviderResult<ServerHealth> {
        self.http
            .get(&format!("/v1/servers/{}/health", seg(id)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_error_classes() {
        let body = br#"{"error":{"code":"QuotaExceeded","message":"max 2 servers"}}"#;
        let cases = [
            (500, "transient"),
            (502, "transient"),
            (503, "transient"),
            (504, "transient"),
            (408, "transient"),
            (422, "invalid_request"),
            (400, "invalid_request"),
            (403, "quota_exceeded"),
            (412, "failed_precondition"),
            (429, "quota_exceeded"),
            (404, "not_found"),
            (409, "conflict"),
        ];
        for (code, label) in cases {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
            let err = error_for_status(status, body);
            assert_eq!(err.label(), label, "HTTP {code}");
            assert!(err.message().contains("max 2 servers"), "{err}");
        }
        let plain = error_for_status(StatusCode::BAD_GATEWAY, b"upstream down");
        assert!(plain.message().contains("upstream down"));
    }

    #[test]
    fn path_segments_and_tag_queries_are_encoded() {
        assert_eq!(seg("srv-000001"), "srv-000001");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        let mut sel = Tags::new();
        sel.insert("suido.dev/tenant".into(), "a b".into());
        assert_eq!(tag_query(&sel), "?tag=suido.dev%2Ftenant%3Da+b");
        assert_eq!(tag_query(&Tags::new()), "");
    }

    #[test]
    fn the_provider_serves_as_one_platform_handle() -> ProviderResult<()> {
        let platform: std::sync::Arc<dyn suido_provider::Platform> =
            std::sync::Arc::new(SimProvider::new("http://127.0.0.1:1")?);
        let compute: std::sync::Arc<dyn ComputeProvider> =
            std::sync::Arc::new(SimProvider::new("http://127.0.0.1:1")?);
        assert_eq!(std::sync::Arc::strong_count(&platform), 1);
        assert_eq!(std::sync::Arc::strong_count(&compute), 1);
        Ok(())
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(SimProvider::new("http://127.0.0.1:1").is_ok());
        for bad in ["https://127.0.0.1:1", "127.0.0.1:1", "not a url"] {
            let err = SimProvider::new(bad).err();
            assert_eq!(err.map(|e| e.label()), Some("invalid_request"), "{bad}");
        }
    }
}
