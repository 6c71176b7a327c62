//! Traces: spans for the edge, the gateway, the invoker and the function's runtime, exported
//! over OTLP/HTTP (JSON) when an endpoint is configured.
//!
//! The request path builds a [`Span`] only when the [`Tracer`] is enabled (one `Option` check
//! otherwise) and hands it to a bounded channel that never waits; a task batches what gathers
//! (up to [`MAX_BATCH`] spans or [`LINGER`]) into one `ExportTraceServiceRequest` and POSTs it to
//! `{endpoint}/v1/traces`. A full channel or an unreachable collector drops spans (with one
//! warning per outage), never slows requests. Every span recorded while enabled is exported
//! (no sampling): an incoming `Sampled=0` does not turn Nubo's own spans off.

mod context;
mod span;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

pub use context::{new_span_id, TraceContext};
pub use span::{unix_nanos_at, unix_nanos_now, AttributeValue, Span, SpanKind};

/// How long the exporter waits for more spans before sending a batch.
pub const LINGER: Duration = Duration::from_millis(500);
/// Most spans one export carries.
pub const MAX_BATCH: usize = 512;
/// Spans the channel holds before new ones are dropped.
const CHANNEL: usize = 8192;
/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

enum Sent {
    Span(Box<Span>),
    Flush(oneshot::Sender<()>),
}

/// Hands finished spans to the exporter; cheap to clone, never blocks. [`Tracer::disabled`]
/// (the default) records nothing.
#[derive(Clone, Default)]
pub struct Tracer {
    tx: Option<mpsc::Sender<Sent>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("enabled", &self.enabled())
            .finish()
    }
}

/// Why an OTLP endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    /// Not an `http://host[:port][/path]` URL.
    #[error("the OTLP endpoint {0:?} is not an http:// URL (Nubo exports OTLP/HTTP without TLS; point it at a local collector)")]
    Endpoint(String),
}

impl Tracer {
    /// A tracer that records nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Starts the exporter (inside a tokio runtime) for `endpoint`: the collector's base URL
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`'s meaning: `/v1/traces` is appended) or the full traces URL.
    /// `service` is the exported resource's `service.name`.
    pub fn start(endpoint: &str, service: &str) -> Result<Self, TracerError> {
        let url = traces_url(endpoint)?;
        let (tx, rx) = mpsc::channel(CHANNEL);
        tokio::spawn(export(rx, url, service.to_owned()));
        Ok(Self { tx: Some(tx) })
    }

    /// Whether spans are recorded (callers skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a finished span for export; dropped if the exporter is far behind.
    pub fn record(&self, span: Span) {
        if let Some(tx) = &self.tx {
            if tx.try_send(Sent::Span(Box::new(span))).is_err() {
                tracing::debug!("the span exporter is behind; dropped a span");
            }
        }
    }

    /// Exports everything recorded before this call (shutdown calls it).
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = oneshot::channel();
            if tx.send(Sent::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

/// `{endpoint}/v1/traces`, unless the endpoint already names it.
fn traces_url(endpoint: &str) -> Result<http::Uri, TracerError> {
    let refuse = || TracerError::Endpoint(endpoint.to_owned());
    let trimmed = endpoint.trim().trim_end_matches('/');
    if !trimmed.starts_with("http://") {
        return Err(refuse());
    }
    let full = if trimmed.ends_with("/v1/traces") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1/traces")
    };
    let uri: http::Uri = full.parse().map_err(|_| refuse())?;
    uri.host().ok_or_else(refuse)?;
    Ok(uri)
}

/// The OTLP `ExportTraceServiceRequest` for one batch, as JSON.
fn export_request(spans: &[Box<Span>], service: &str) -> Vec<u8> {
    let body = json!({
        "resourceSpans": [{
            "resource": {
                "attributes": [
                    span::attribute("service.name", &AttributeValue::from(service)),
                    span::attribute("telemetry.sdk.name", &AttributeValue::from("nubo")),
                ],
            },
            "scopeSpans": [{
                "scope": { "name": "nubo", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans.iter().map(|s| s.to_otlp_json()).collect::<Vec<_>>(),
            }],
        }],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

async fn export(mut rx: mpsc::Receiver<Sent>, url: http::Uri, service: String) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut failing = false;
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut flushed = Vec::new();
        let add = |batch: &mut Vec<Box<Span>>, flushed: &mut Vec<_>, sent| match sent {
            Sent::Span(span) => batch.push(span),
            Sent::Flush(done) => flushed.push(done),
        };
        let flush = matches!(first, Sent::Flush(_));
        add(&mut batch, &mut flushed, first);
        if !flush {
            tokio::time::sleep(LINGER).await;
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => add(&mut batch, &mut flushed, more),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let request = http::Request::post(url.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(export_request(&batch, &service))));
            let sent = match request {
                Ok(request) => tokio::time::timeout(EXPORT_TIMEOUT, client.request(request))
                    .await
                    .map_err(|_| "timed out".to_owned())
                    .and_then(|r| r.map_err(|e| e.to_string()))
                    .and_then(|response| {
                        let status = response.status();
                        status
                            .is_success()
                            .then_some(())
                            .ok_or_else(|| format!("answered {status}"))
                    }),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!(%url, "exporting spans again");
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%url, %error, spans = batch.len(), "could not export spans; dropping them until the collector answers");
                }
                Err(_) => {}
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap().to_string(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/v1/traces/")
                .unwrap()
                .to_string(),
            "http://collector:4318/v1/traces"
        );
        assert!(traces_url("https://collector:4318").is_err());
        assert!(traces_url("collector:4318").is_err());
    }

    #[tokio::test]
    async fn batches_reach_a_collector() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read until the JSON body is complete (the request is small).
            loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some((_, body)) = text.split_once("\r\n\r\n") {
                    if serde_json::from_str::<serde_json::Value>(body).is_ok() {
                        break;
                    }
                }
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await
                .unwrap();
            String::from_utf8(buf).unwrap()
        });
        let tracer = Tracer::start(&format!("http://127.0.0.1:{port}"), "nubo-test").unwrap();
        let mut span = Span::start("edge", SpanKind::Server, None);
        span.end_now();
        tracer.record(span.clone());
        tracer.flush().await;
        let request = received.await.unwrap();
        assert!(request.starts_with("POST /v1/traces HTTP/1.1"), "{request}");
        let body: serde_json::Value =
            serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0]["value"]["stringValue"],
            "nubo-test"
        );
        assert_eq!(
            resource["scopeSpans"][0]["spans"][0]["spanId"],
            format!("{:016x}", span.span_id)
        );
        assert!(!Tracer::disabled().enabled());
    }
}
