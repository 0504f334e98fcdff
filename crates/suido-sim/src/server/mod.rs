//! The HTTP server of the simulated platform, its background task (operation completer and
//! backup scheduler) and its lifecycle. The routes are in `routes` (the `/v1` API) and `admin`
//! (`/admin`).

mod admin;
mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use suido_provider::{ProviderError, ProviderResult, TerminalKind};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::SimError;
use crate::config::{Rules, SimConfig};
use crate::faults::{FaultSettings, FaultState};
use crate::store::Store;
use crate::wire::{ErrorBody, ErrorDetail};
use crate::world::{Tx, World};

const MAX_BODY: usize = 1 << 20;

/// State shared by the connections and the completer.
struct Shared {
    world: Mutex<World>,
    store: Store,
    rules: Rules,
    faults: Mutex<FaultState>,
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a request panicked; the world is only changed through `mutate`,
    // which reloads it from the database on failure, so the data is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Runs one change under the lock and persists what it touched. On any failure the world
    /// is reloaded from the database, so a half-done change never stays in memory.
    fn mutate<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> ProviderResult<T>) -> ProviderResult<T> {
        let mut world = lock(&self.world);
        let now = world.now();
        let mut tx = Tx::new(&mut world, now, &self.rules);
        let result = f(&mut tx);
        let dirty = tx.into_dirty();
        if dirty.is_empty() {
            return result;
        }
        let result = result.and_then(|v| {
            self.store.commit(&world, &dirty).map_err(|e| {
                tracing::error!(error = %e, "commit failed");
                ProviderError::transient(format!("the platform could not save the change: {e}"))
            })?;
            Ok(v)
        });
        if result.is_err() {
            match self.store.load() {
                Ok(fresh) => *world = fresh,
                Err(e) => tracing::error!(error = %e, "reloading the state failed"),
            }
        } else {
            self.wake.notify_one();
        }
        result
    }

    fn read<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&lock(&self.world))
    }

    fn set_faults(&self, settings: FaultSettings) -> ProviderResult<()> {
        settings
            .validate()
            .map_err(|e| ProviderError::invalid(e.to_string()))?;
        for hf in &settings.host_failures {
            if let Err(e) = self.mutate(|tx| tx.fail_host(&hf.server_id, hf.layer, hf.duration_ms))
            {
                tracing::warn!(server = %hf.server_id, error = %e, "host failure not applied");
            }
        }
        *lock(&self.faults) = FaultState::new(settings);
        Ok(())
    }
}

/// The simulated platform.
pub struct Sim;

/// A running simulator. Dropping it aborts its tasks without waiting; call
/// [`SimHandle::shutdown`] to know that the database is closed.
pub struct SimHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl SimHandle {
    /// Base URL of the API, e.g. `http://127.0.0.1:4321`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, closes every connection, stops the completer and closes the database,
    /// so that a new simulator can open the same state directory.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Sim {
    /// Opens the state, binds the loopback address and starts serving.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        if !config.listen.ip().is_loopback() {
            return Err(SimError::Config(format!(
                "listen address {} is not a loopback address; the simulator only listens on 127.0.0.1",
                config.listen
            )));
        }
        config.faults.validate()?;
        let store = Store::open(&config.state_dir)?;
        let world = store.load()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            store,
            rules: config.rules,
            faults: Mutex::new(FaultState::new(FaultSettings::default())),
            wake: Notify::new(),
        });
        shared
            .set_faults(config.faults)
            .map_err(|e| SimError::Config(e.to_string()))?;
        let (tx, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(complete_operations(shared.clone(), rx.clone()));
        tasks.spawn(accept(listener, shared, rx));
        tracing::info!(%addr, "sim listening");
        Ok(SimHandle {
            addr,
            shutdown: tx,
            tasks,
        })
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let shared = shared.clone();
                conns.spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
        while conns.try_join_next().is_some() {}
    }
    // Idle keep-alive connections would hold the state (and the database) open.
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

/// Completes operations and runs backups when they are due (and once at start-up, which makes
/// up the runs missed while the simulator was down).
async fn complete_operations(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let wait = match shared.mutate(|tx| Ok(tx.tick())) {
            Ok(done) => {
                if done > 0 {
                    tracing::debug!(done, "operations completed and backups run");
                }
                shared
                    .read(|w| w.next_wake().map(|due| due.duration_since(w.now())))
                    .map_or(Duration::from_secs(3600), |left| {
                        Duration::try_from(left)
                            .unwrap_or(Duration::ZERO)
                            .min(Duration::from_secs(3600))
                    })
            }
            Err(e) => {
                tracing::error!(error = %e, "completing operations failed; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.wake.notified() => {}
            _ = shutdown.changed() => break,
        }
    }
}

type Reply = ProviderResult<(StatusCode, Value)>;

fn to_value(v: &impl Serialize) -> ProviderResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| ProviderError::transient(format!("encoding the answer: {e}")))
}

fn ok(status: StatusCode, v: &impl Serialize) -> Reply {
    Ok((status, to_value(v)?))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> ProviderResult<T> {
    serde_json::from_slice(body).map_err(|e| ProviderError::invalid(format!("request body: {e}")))
}

fn error_reply(status: StatusCode, code: &str, message: String) -> Response<Full<Bytes>> {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message,
        },
    };
    json_response(status, &serde_json::to_value(body).unwrap_or(Value::Null))
}

fn provider_error_reply(err: &ProviderError) -> Response<Full<Bytes>> {
    let (status, code) = match err {
        ProviderError::Transient { .. } => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        ProviderError::Terminal {
            kind: TerminalKind::InvalidRequest,
            ..
        } => (StatusCode::UNPROCESSABLE_ENTITY, "InvalidRequest"),
        ProviderError::Terminal {
            kind: TerminalKind::QuotaExceeded,
            ..
        } => (StatusCode::FORBIDDEN, "QuotaExceeded"),
        ProviderError::Terminal {
            kind: TerminalKind::FailedPrecondition,
            ..
        } => (StatusCode::PRECONDITION_FAILED, "FailedPrecondition"),
        ProviderError::NotFound { .. } => (StatusCode::NOT_FOUND, "NotFound"),
        ProviderError::Conflict { .. } => (StatusCode::CONFLICT, "Conflict"),
    };
    error_reply(status, code, err.message().to_string())
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(error_reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                "InvalidRequest",
                format!("request body could not be read (at most {MAX_BODY} bytes): {e}"),
            ));
        }
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match segs.first().copied() {
        Some("admin") => admin::admin(&shared, &method, &segs[1..], &body),
        Some("healthz") => ok(StatusCode::OK, &serde_json::json!({"ok": true})),
        Some("v1") => {
            let decision = lock(&shared.faults).decide(method != Method::GET);
            if decision.latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
            }
            if decision.fail {
                tracing::debug!(%method, %path, "injected 503");
                return Ok(error_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "injected fault: the platform is temporarily unavailable".to_string(),
                ));
            }
            let result = routes::api(&shared, &method, &segs[1..], &query, &body);
            if decision.timeout_after_commit {
                tracing::debug!(%method, %path, "injected timeout after commit");
                return Ok(error_reply(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Timeout",
                    "injected fault: the request timed out (it may have been carried out)"
                        .to_string(),
                ));
            }
            result
        }
        _ => Err(ProviderError::not_found(format!(
            "no route for {method} {path}"
        ))),
    };
    let resp = match result {
        Ok((status, value)) => json_response(status, &value),
        Err(e) => provider_error_reply(&e),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    Ok(resp)
}
