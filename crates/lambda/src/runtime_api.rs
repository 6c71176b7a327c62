//! The Lambda Runtime API, served to one execution environment on a listener of its own.
//!
//! `AWS_LAMBDA_RUNTIME_API` must be `host:port` with no path, so each environment gets a listener of
//! its own (cheap with tokio) and official runtime clients work unmodified: `127.0.0.1:9001` inside
//! the environment's own network namespace (the sandbox made the listener in there), else a
//! loopback port of the host. One invocation at a time: `next` hands out a [`Delivery`],
//! `response`/`error` complete it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::extensions::Extensions;

/// The sync response limit (6 MB), which is also what a runtime may post.
pub(crate) const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// An invocation handed to the environment.
pub(crate) struct Delivery {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) timeout: Duration,
    pub(crate) invoked_function_arn: String,
    pub(crate) client_context: Option<String>,
    pub(crate) trace_id: String,
    pub(crate) delivered: oneshot::Sender<Instant>,
    pub(crate) result: oneshot::Sender<RuntimeResult>,
}

/// What the runtime reported for an invocation.
#[derive(Debug)]
pub(crate) enum RuntimeResult {
    /// `POST …/response`.
    Response(Bytes),
    /// `POST …/error`, or a response over the size limit.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document.
        body: Bytes,
    },
}

/// An `init/error` report.
#[derive(Debug, Clone)]
pub(crate) struct InitError {
    pub(crate) error_type: Option<String>,
    pub(crate) body: Bytes,
}

pub(crate) struct RuntimeApiState {
    queue: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    in_flight: Mutex<Option<(String, oneshot::Sender<RuntimeResult>)>>,
    init_error: Mutex<Option<InitError>>,
    pub(crate) init_error_reported: Notify,
    /// Set when the runtime first asks for `next`: its initialization is over.
    pub(crate) ready: tokio::sync::watch::Sender<bool>,
    /// Run once, at that moment, before the first event is handed out (the CPU quota starts).
    init_done: Mutex<Option<InitDone>>,
    /// The Extensions and Telemetry APIs on the same listener.
    pub(crate) extensions: Arc<Extensions>,
}

/// What happens when initialization is over.
pub(crate) type InitDone = Box<dyn FnOnce() + Send>;

impl RuntimeApiState {
    pub(crate) fn init_error(&self) -> Option<InitError> {
        self.init_error.lock().clone()
    }
}

/// A running Runtime API for one environment.
pub(crate) struct RuntimeApi {
    pub(crate) state: Arc<RuntimeApiState>,
    pub(crate) deliveries: mpsc::Sender<Delivery>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

impl RuntimeApi {
    /// Serves the Runtime API on `listener`; `init_done` runs when the runtime first asks for
    /// `next`.
    pub(crate) fn serve(
        listener: tokio::net::TcpListener,
        init_done: Option<InitDone>,
        extensions: Arc<Extensions>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let state = Arc::new(RuntimeApiState {
            queue: tokio::sync::Mutex::new(rx),
            in_flight: Mutex::new(None),
            init_error: Mutex::new(None),
            init_error_reported: Notify::new(),
            ready: tokio::sync::watch::Sender::new(false),
            init_done: Mutex::new(init_done),
            extensions,
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = served.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Self {
            state,
            deliveries: tx,
            server: Some(server),
        }
    }

    /// The server task, for whoever keeps serving extensions after the environment is dropped
    /// (their `SHUTDOWN` grace).
    pub(crate) fn take_server(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.server.take()
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &'static str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

const ACCEPTED: &str = r#"{"status":"OK"}"#;

async fn handle(state: Arc<RuntimeApiState>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/2018-06-01/runtime/") {
        let (parts, body) = req.into_parts();
        let body = read_body(body).await.unwrap_or_default();
        let extensions = state.extensions.clone();
        let answer = extensions
            .handle(&parts.method, &path, &parts.headers, body)
            .await;
        return Ok(answer.unwrap_or_else(|| {
            reply(
                StatusCode::NOT_FOUND,
                r#"{"errorMessage":"not found","errorType":"InvalidRequest"}"#,
            )
        }));
    }
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            r#"{"errorMessage":"not found","errorType":"InvalidRequest"}"#,
        ));
    };
    let reply = match (req.method(), rest) {
        (&Method::GET, "invocation/next") => next(&state).await,
        (&Method::POST, "init/error") => {
            let error_type = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req.into_body()).await.unwrap_or_default();
            *state.init_error.lock() = Some(InitError { error_type, body });
            state.init_error_reported.notify_waiters();
            reply(StatusCode::ACCEPTED, ACCEPTED)
        }
        (&Method::POST, rest) => match rest
            .strip_prefix("invocation/")
            .and_then(|r| r.rsplit_once('/'))
        {
            Some((id, kind @ ("response" | "error"))) => {
                complete(&state, id.to_owned(), kind, req).await
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                r#"{"errorMessage":"not found","errorType":"InvalidRequest"}"#,
            ),
        },
        _ => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"errorMessage":"method not allowed","errorType":"InvalidRequest"}"#,
        ),
    };
    Ok(reply)
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn read_body(body: Incoming) -> Option<Bytes> {
    Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

async fn next(state: &RuntimeApiState) -> Reply {
    if !*state.ready.borrow() {
        // Init ends when the runtime and every extension are ready for events.
        state.extensions.wait_ready().await;
    }
    let first = state
        .ready
        .send_if_modified(|ready| !std::mem::replace(ready, true));
    if first {
        // Before the first event: the first invocation runs as every later one does.
        let done = state.init_done.lock().take();
        if let Some(done) = done {
            done();
        }
        state.extensions.emit(
            "platform.initRuntimeDone",
            serde_json::json!({"initializationType": "on-demand", "phase": "init", "status": "success"}),
        );
    }
    let delivery = {
        let mut queue = state.queue.lock().await;
        match queue.recv().await {
            Some(d) => d,
            // The environment is shutting down; the runtime will be killed.
            None => {
                return reply(
                    StatusCode::GONE,
                    r#"{"errorMessage":"environment shutting down","errorType":"ShutDown"}"#,
                )
            }
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let deadline_ms = nubo_wire::timefmt::epoch_millis(now) + delivery.timeout.as_millis() as i64;
    let _ = delivery.delivered.send(Instant::now());
    state.extensions.invoke(
        &delivery.request_id,
        deadline_ms,
        &delivery.invoked_function_arn,
        &delivery.trace_id,
    );
    *state.in_flight.lock() = Some((delivery.request_id.clone(), delivery.result));
    let mut response = Response::new(Full::new(delivery.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &delivery.request_id);
    set("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        &delivery.invoked_function_arn,
    );
    set("lambda-runtime-trace-id", &delivery.trace_id);
    if let Some(context) = &delivery.client_context {
        set("lambda-runtime-client-context", context);
    }
    response
}

async fn complete(
    state: &RuntimeApiState,
    request_id: String,
    kind: &str,
    req: Request<Incoming>,
) -> Reply {
    let error_type = header(&req, "lambda-runtime-function-error-type");
    let taken = {
        let mut in_flight = state.in_flight.lock();
        match in_flight.as_ref() {
            Some((id, _)) if *id == request_id => in_flight.take(),
            _ => None,
        }
    };
    let Some((_, result)) = taken else {
        return reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        );
    };
    let Some(body) = read_body(req.into_body()).await else {
        let _ = result.send(RuntimeResult::Error {
            error_type: Some("Function.ResponseSizeTooLarge".into()),
            body: Bytes::from(format!(
                r#"{{"errorMessage":"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).","errorType":"Function.ResponseSizeTooLarge"}}"#
            )),
        });
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#,
        );
    };
    state.extensions.emit(
        "platform.runtimeDone",
        serde_json::json!({
            "requestId": request_id,
            "status": if kind == "response" { "success" } else { "error" },
            "metrics": {"producedBytes": body.len()},
        }),
    );
    let outcome = if kind == "response" {
        RuntimeResult::Response(body)
    } else {
        RuntimeResult::Error { error_type, body }
    };
    let _ = result.send(outcome);
    reply(StatusCode::ACCEPTED, ACCEPTED)
}
