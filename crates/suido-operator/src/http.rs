//! The operator's own HTTP endpoints: `/metrics` (OpenMetrics text), `/healthz` (the process
//! serves) and `/readyz` (the caches are synced and the controllers run).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// What the endpoints read.
#[derive(Clone)]
pub struct Probes {
    /// The metrics to encode.
    pub metrics: Arc<Metrics>,
    /// Set once the controllers run.
    pub ready: Arc<AtomicBool>,
}

fn respond(probes: &Probes, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            probes.metrics.encode(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" if probes.ready.load(Ordering::Relaxed) => {
            (StatusCode::OK, "text/plain", "ready\n".to_owned())
        }
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "caches are not synced yet\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// Binds `addr` and serves the endpoints until `shutdown` turns true. Returns the bound address
/// and the serving task.
pub async fn serve(
    addr: SocketAddr,
    probes: Probes,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.changed() => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let probes = probes.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let response = respond(&probes, req.uri().path());
                    async move { Ok::<_, Infallible>(response) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "probe connection ended");
                }
            });
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_follows_the_flag_and_metrics_are_encoded() {
        let probes = Probes {
            metrics: Arc::new(Metrics::default()),
            ready: Arc::new(AtomicBool::new(false)),
        };
        assert_eq!(
            respond(&probes, "/readyz").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(respond(&probes, "/healthz").status(), StatusCode::OK);
        probes.ready.store(true, Ordering::Relaxed);
        assert_eq!(respond(&probes, "/readyz").status(), StatusCode::OK);
        let m = respond(&probes, "/metrics");
        assert_eq!(m.status(), StatusCode::OK);
        assert_eq!(respond(&probes, "/nope").status(), StatusCode::NOT_FOUND);
    }
}
