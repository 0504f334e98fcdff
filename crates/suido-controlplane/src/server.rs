//! HTTP/1.1 serving with hyper: reading bounded bodies, dispatching to the
//! blocking handlers, and streaming watches as chunked, newline-delimited
//! JSON events with bookmarks, timeouts and in-stream 410 errors.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

use crate::api::{self, Outcome, Request, Response, State, WatchSpec};
use crate::status::ApiError;

type RespBody = BoxBody<Bytes, Infallible>;

/// A body fed by a channel: each message is one chunk.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

fn full(r: Response) -> http::Response<RespBody> {
    let mut b = http::Response::builder()
        .status(r.status)
        .header("content-type", r.content_type)
        .header("cache-control", "no-cache, private");
    for w in &r.warnings {
        // Header values must be visible ASCII; anything else would make the
        // whole response invalid.
        // kube-apiserver quotes the text as Go's strconv.Quote does.
        let mut text = String::with_capacity(w.len());
        for c in w.chars() {
            match c {
                '"' | '\\' => {
                    text.push('\\');
                    text.push(c);
                }
                ' '..='~' => text.push(c),
                _ => text.push('?'),
            }
        }
        b = b.header("warning", format!("299 - \"{text}\""));
    }
    b.body(Full::new(Bytes::from(r.body)).boxed())
        .unwrap_or_else(|_| fallback_500())
}

/// The response when a response could not be built (never expected).
fn fallback_500() -> http::Response<RespBody> {
    let body = ApiError::internal("the response could not be built").to_status();
    let mut resp = http::Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

fn error(e: &ApiError) -> http::Response<RespBody> {
    full(Response::error(e))
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::too_large(limit))
            } else {
                Err(ApiError::bad_request(format!(
                    "error reading the request body: {e}"
                )))
            }
        }
    }
}

/// Splits a query string into decoded pairs, skipping empty keys (kube-rs
/// sends `?&limit=500`).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn serve_request(
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
    req: http::Request<Incoming>,
) -> Result<http::Response<RespBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    tracing::debug!(%method, uri = %parts.uri, "request");
    if let Some(len) = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > state.max_body
    {
        return Ok(error(&ApiError::too_large(state.max_body)));
    }
    let body = match read_body(body, state.max_body).await {
        Ok(b) => b,
        Err(e) => return Ok(error(&e)),
    };
    let query = parts.uri.query().map(parse_query).unwrap_or_default();
    let header = |h: http::header::HeaderName| {
        parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(http::header::CONTENT_TYPE).map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let request = Request {
        method,
        path,
        query,
        content_type,
        accept: header(http::header::ACCEPT).unwrap_or_default(),
        body,
    };
    let st = state.clone();
    let outcome = tokio::task::spawn_blocking(move || api::handle(&st, &request)).await;
    match outcome {
        Ok(Outcome::Response(r)) => Ok(full(r)),
        Ok(Outcome::Watch(spec)) => Ok(start_watch(state, spec, shutdown)),
        Err(e) => {
            tracing::error!(error = %e, "handler failed");
            Ok(error(&ApiError::internal("the request handler failed")))
        }
    }
}

fn start_watch(
    state: Arc<State>,
    spec: WatchSpec,
    shutdown: watch::Receiver<bool>,
) -> http::Response<RespBody> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let content_type = spec.content_type();
    tokio::spawn(run_watch(state, spec, tx, shutdown));
    http::Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header("cache-control", "no-cache, private")
        .body(ChannelBody(rx).boxed())
        .unwrap_or_else(|_| fallback_500())
}

async fn run_watch(
    state: Arc<State>,
    spec: WatchSpec,
    tx: mpsc::Sender<Bytes>,
    mut shutdown: watch::Receiver<bool>,
) {
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let rd = spec.rd.clone();
    let start = state.store.watch_start(
        spec.since,
        if spec.since.is_none() {
            Some((
                rd.storage_group.as_str(),
                rd.storage_resource.as_str(),
                spec.namespace.as_deref(),
            ))
        } else {
            None
        },
    );
    let mut first = true;
    let send = |b: Vec<u8>| {
        let tx = tx.clone();
        async move { tx.send(Bytes::from(b)).await.is_ok() }
    };
    if let Some(since) = spec.since
        && since < start.history_floor
    {
        let e = ApiError::expired(format!(
            "too old resource version: {since} ({})",
            start.history_floor + 1
        ));
        let _ = send(api::error_line(&e)).await;
        return;
    }
    // A resume point ahead of the store (a client that saw a newer server)
    // must not get events it already has.
    let mut last_rv = start.current_rv.max(spec.since.unwrap_or(0));
    if spec.since.is_none() {
        for obj in &start.snapshot {
            let key = key_from(obj, &rd);
            if spec.matches(&key, obj) && !send(spec.event_line("ADDED", obj, &mut first)).await {
                return;
            }
        }
        if spec.send_initial_events && !send(spec.bookmark_line(last_rv, true)).await {
            return;
        }
    } else {
        for ev in &start.replay {
            if let Some(kind) = spec.event_kind(ev)
                && !send(spec.event_line(kind, &ev.object, &mut first)).await
            {
                return;
            }
        }
    }
    let mut live = start.live;
    let mut expire = state.expire.subscribe();
    expire.mark_unchanged();
    let mut ticker = tokio::time::interval(state.bookmark_interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) => {
                    if ev.rv <= last_rv {
                        continue;
                    }
                    last_rv = ev.rv;
                    if let Some(kind) = spec.event_kind(&ev)
                        && !send(spec.event_line(kind, &ev.object, &mut first)).await
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let e = ApiError::expired(format!("too old resource version: {last_rv} (watcher fell {n} events behind)"));
                    let _ = send(api::error_line(&e)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = ticker.tick() => {
                if spec.bookmarks && !send(spec.bookmark_line(last_rv, false)).await {
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tx.closed() => return,
            _ = shutdown.changed() => return,
            _ = expire.changed() => {
                let e = ApiError::expired(format!("too old resource version: {last_rv} (the watch history was compacted)"));
                let _ = send(api::error_line(&e)).await;
                return;
            }
        }
    }
}

fn key_from(obj: &serde_json::Value, rd: &crate::registry::ResourceDef) -> crate::store::ObjKey {
    let m = &obj["metadata"];
    crate::store::ObjKey::new(
        &rd.storage_group,
        &rd.storage_resource,
        m["namespace"].as_str().unwrap_or(""),
        m["name"].as_str().unwrap_or(""),
    )
}

/// Accepts connections until `shutdown` flips, then stops every
/// connection and watch.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let sd = shutdown.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| serve_request(state.clone(), sd.clone(), req));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}
