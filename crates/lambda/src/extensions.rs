//! The Extensions API (`/2020-01-01/extension/…`) and the Telemetry API (`/2022-07-01/telemetry`),
//! served beside the Runtime API on each environment's listener.
//!
//! External extensions are the executables in `/opt/extensions`, started with the runtime (see
//! `environment::launch_with_extensions`); each registers (`Lambda-Extension-Name` →
//! `Lambda-Extension-Identifier`) for `INVOKE` and/or `SHUTDOWN` and then long-polls
//! `event/next`. The phases follow Lambda's: init ends when the runtime asks for its first event
//! *and* every extension found in `/opt/extensions` has registered and is waiting in `next`; an
//! invocation ends when the runtime has answered *and* every extension has called `next` again
//! (the time after the runtime's answer is the extensions' overhead, in REPORT's `Duration`); a
//! retired environment sends `SHUTDOWN` (reason `spindown`) and gives its extensions 2 s.
//!
//! Telemetry subscriptions get the platform's events (`platform.initStart`,
//! `platform.initRuntimeDone`, `platform.start`, `platform.runtimeDone`, `platform.report`) and
//! the function's log lines as `function` records, buffered per subscription (`maxItems`,
//! `timeoutMs`) and POSTed as a JSON array to the subscriber's HTTP listener inside the
//! environment — `sandbox.localdomain`, `localhost` or `127.0.0.1` at the port it names, reached in
//! the environment's own network namespace (a thread joins it to connect). Events since the
//! environment started are kept (at most [`BACKLOG`]) and sent to a subscription when it is made,
//! so one made during init still sees `platform.initStart`.

#![allow(unsafe_code)] // setns(2) to connect inside the environment's network namespace.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

/// Events kept for subscriptions made later.
const BACKLOG: usize = 1000;
/// How long an extension has to register and reach `next` at init.
const INIT_WAIT: Duration = Duration::from_secs(10);
/// How long extensions have after `SHUTDOWN`, as on Lambda.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What `register` answers with.
pub(crate) struct FunctionInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) handler: String,
    pub(crate) account_id: String,
}

struct Extension {
    id: String,
    name: String,
    invoke: bool,
    shutdown: bool,
    /// Has called `next` at least once.
    called_next: bool,
    /// Was handed an event and has not called `next` since.
    busy: bool,
    queue: VecDeque<String>,
    wake: Arc<Notify>,
}

impl Extension {
    fn idle(&self) -> bool {
        self.called_next && !self.busy && self.queue.is_empty()
    }
}

struct Subscription {
    types: Vec<String>,
    events: mpsc::UnboundedSender<Value>,
}

#[derive(Default)]
struct State {
    extensions: Vec<Extension>,
    backlog: Vec<Value>,
    subscriptions: Vec<Subscription>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// One environment's extensions and telemetry subscriptions.
pub(crate) struct Extensions {
    info: FunctionInfo,
    /// Executables found in `/opt/extensions`: init waits for that many registrations.
    expected: usize,
    /// The process whose network namespace the environment's listeners are in (`None`: the host's).
    netns_of: Mutex<Option<u32>>,
    state: Mutex<State>,
    changed: Notify,
    /// Telemetry events emitted and not yet delivered (or given up on).
    undelivered: Arc<AtomicUsize>,
}

impl Drop for Extensions {
    fn drop(&mut self) {
        for task in &self.state.get_mut().tasks {
            task.abort();
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Reply {
    reply(
        status,
        json!({"errorMessage": message, "errorType": error_type}).to_string(),
    )
}

fn now_iso() -> String {
    nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc())
}

impl Extensions {
    pub(crate) fn new(info: FunctionInfo, expected: usize) -> Arc<Self> {
        Arc::new(Self {
            info,
            expected,
            netns_of: Mutex::new(None),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            undelivered: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The environment's listeners are in `pid`'s network namespace.
    pub(crate) fn set_network_of(&self, pid: u32) {
        *self.netns_of.lock() = Some(pid);
    }

    /// Whether any extension registered for `SHUTDOWN`.
    pub(crate) fn wants_shutdown(&self) -> bool {
        self.state.lock().extensions.iter().any(|e| e.shutdown)
    }

    /// Whether anything was registered or subscribed (the invoker's per-invocation work).
    pub(crate) fn active(&self) -> bool {
        let state = self.state.lock();
        !state.extensions.is_empty() || !state.subscriptions.is_empty()
    }

    /// Waits until `done` holds of the state, or `deadline`.
    async fn wait_until(&self, deadline: Instant, done: impl Fn(&State) -> bool) -> bool {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.state.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return done(&self.state.lock());
            }
        }
    }

    /// Init: every extension of `/opt/extensions` registered, and each waiting in `next`.
    pub(crate) async fn wait_ready(&self) {
        let expected = self.expected;
        self.wait_until(Instant::now() + INIT_WAIT, |s| {
            s.extensions.len() >= expected && s.extensions.iter().all(Extension::idle)
        })
        .await;
    }

    /// After an invocation: every extension has called `next` again (or `deadline`).
    pub(crate) async fn wait_idle(&self, deadline: Instant) {
        self.wait_until(deadline, |s| s.extensions.iter().all(Extension::idle))
            .await;
    }

    fn push(&self, event: &Value, want: impl Fn(&Extension) -> bool) {
        let text = event.to_string();
        let mut state = self.state.lock();
        for extension in state.extensions.iter_mut().filter(|e| want(e)) {
            extension.queue.push_back(text.clone());
            extension.wake.notify_one();
        }
    }

    /// The runtime picked up an invocation: `INVOKE` to the extensions that want it.
    pub(crate) fn invoke(&self, request_id: &str, deadline_ms: i64, arn: &str, trace_id: &str) {
        self.push(
            &json!({
                "eventType": "INVOKE",
                "deadlineMs": deadline_ms,
                "requestId": request_id,
                "invokedFunctionArn": arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
            }),
            |e| e.invoke,
        );
        self.emit(
            "platform.start",
            json!({"requestId": request_id, "version": self.info.version,
                   "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id}}),
        );
    }

    /// `SHUTDOWN` to the extensions that want it; waits until they called `next` again or the
    /// grace ran out.
    pub(crate) async fn shutdown(&self, reason: &str, grace: Duration) {
        let deadline = Instant::now() + grace;
        // What telemetry is still on its way gets there first (the environment was frozen).
        while self.undelivered.load(Ordering::SeqCst) > 0 && Instant::now() + grace / 2 < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let deadline_ms = nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
            + grace.as_millis() as i64;
        tracing::debug!(
            undelivered = self.undelivered.load(Ordering::SeqCst),
            "extensions: SHUTDOWN"
        );
        self.push(
            &json!({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}),
            |e| e.shutdown,
        );
        let done = self
            .wait_until(deadline, |s| {
                s.extensions
                    .iter()
                    .filter(|e| e.shutdown)
                    .all(Extension::idle)
            })
            .await;
        tracing::debug!(done, "extensions: shut down");
    }

    /// A telemetry event (`platform.*`, or `function` / `extension` with a log line).
    pub(crate) fn emit(&self, kind: &str, record: Value) {
        let event = json!({"time": now_iso(), "type": kind, "record": record});
        let category = kind.split('.').next().unwrap_or(kind);
        let mut state = self.state.lock();
        if state.backlog.len() < BACKLOG {
            state.backlog.push(event.clone());
        }
        for subscription in &state.subscriptions {
            if subscription.types.iter().any(|t| t == category)
                && subscription.events.send(event.clone()).is_ok()
            {
                self.undelivered.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Handles `/2020-01-01/extension/…` and `/2022-07-01/telemetry`; `None` for other paths.
    pub(crate) async fn handle(
        self: &Arc<Self>,
        method: &http::Method,
        path: &str,
        headers: &http::HeaderMap,
        body: Bytes,
    ) -> Option<Reply> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let id = header("lambda-extension-identifier");
        Some(match (method.as_str(), path) {
            ("POST", "/2020-01-01/extension/register") => {
                self.register(header("lambda-extension-name"), &body)
            }
            ("GET", "/2020-01-01/extension/event/next") => self.next(id).await,
            ("POST", "/2020-01-01/extension/init/error" | "/2020-01-01/extension/exit/error") => {
                let kind = header("lambda-extension-function-error-type").unwrap_or_default();
                let name = self.name_of(id.as_deref());
                tracing::debug!(extension = ?name, %kind, %path, "extension error reported");
                self.emit(
                    "extension",
                    json!(format!(
                        "{} reported {kind}: {}",
                        name.unwrap_or_default(),
                        String::from_utf8_lossy(&body)
                    )),
                );
                reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
            }
            ("PUT", "/2022-07-01/telemetry") => self.subscribe(id.as_deref(), &body),
            _ if path.starts_with("/2020-01-01/extension/") || path.starts_with("/2022-07-01/") => {
                error(StatusCode::NOT_FOUND, "InvalidRequest", "not found")
            }
            _ => return None,
        })
    }

    fn name_of(&self, id: Option<&str>) -> Option<String> {
        let state = self.state.lock();
        state
            .extensions
            .iter()
            .find(|e| Some(e.id.as_str()) == id)
            .map(|e| e.name.clone())
    }

    fn register(&self, name: Option<String>, body: &[u8]) -> Reply {
        #[derive(Deserialize, Default)]
        struct Register {
            #[serde(default)]
            events: Vec<String>,
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return error(
                StatusCode::FORBIDDEN,
                "Extension.InvalidExtensionName",
                "Lambda-Extension-Name header is required",
            );
        };
        let Ok(register) =
            serde_json::from_slice::<Register>(if body.is_empty() { b"{}" } else { body })
        else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "could not parse the registration",
            );
        };
        if let Some(bad) = register
            .events
            .iter()
            .find(|e| *e != "INVOKE" && *e != "SHUTDOWN")
        {
            return error(
                StatusCode::BAD_REQUEST,
                "Extension.InvalidEventType",
                &format!("unknown event type {bad}"),
            );
        }
        let id = uuid::Uuid::new_v4().to_string();
        {
            let mut state = self.state.lock();
            if state.extensions.iter().any(|e| e.name == name) {
                return error(
                    StatusCode::CONFLICT,
                    "Extension.AlreadyRegistered",
                    &format!("extension {name} is already registered"),
                );
            }
            state.extensions.push(Extension {
                id: id.clone(),
                name,
                invoke: register.events.iter().any(|e| e == "INVOKE"),
                shutdown: register.events.iter().any(|e| e == "SHUTDOWN"),
                called_next: false,
                busy: false,
                queue: VecDeque::new(),
                wake: Arc::new(Notify::new()),
            });
        }
        self.changed.notify_waiters();
        let mut response = reply(
            StatusCode::OK,
            json!({
                "functionName": self.info.name,
                "functionVersion": self.info.version,
                "handler": self.info.handler,
                "accountId": self.info.account_id,
            })
            .to_string(),
        );
        if let Ok(value) = http::HeaderValue::from_str(&id) {
            response
                .headers_mut()
                .insert("lambda-extension-identifier", value);
        }
        response
    }

    async fn next(&self, id: Option<String>) -> Reply {
        let unknown = || {
            error(
                StatusCode::FORBIDDEN,
                "Extension.UnknownExtensionIdentifier",
                "Lambda-Extension-Identifier is missing or unknown",
            )
        };
        let Some(id) = id else {
            return unknown();
        };
        loop {
            let wake = {
                let mut state = self.state.lock();
                let Some(extension) = state.extensions.iter_mut().find(|e| e.id == id) else {
                    return unknown();
                };
                extension.called_next = true;
                if let Some(event) = extension.queue.pop_front() {
                    extension.busy = true;
                    drop(state);
                    self.changed.notify_waiters();
                    let mut response = reply(StatusCode::OK, event);
                    if let Ok(value) =
                        http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                    {
                        response
                            .headers_mut()
                            .insert("lambda-extension-event-identifier", value);
                    }
                    return response;
                }
                extension.busy = false;
                extension.wake.clone()
            };
            self.changed.notify_waiters();
            wake.notified().await;
        }
    }

    fn subscribe(self: &Arc<Self>, id: Option<&str>, body: &[u8]) -> Reply {
        #[derive(Deserialize)]
        struct Destination {
            protocol: String,
            #[serde(rename = "URI")]
            uri: String,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Buffering {
            max_items: Option<usize>,
            timeout_ms: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Subscribe {
            destination: Destination,
            #[serde(default)]
            types: Vec<String>,
            #[serde(default)]
            buffering: Option<Buffering>,
        }
        if self.name_of(id).is_none() {
            return error(
                StatusCode::FORBIDDEN,
                "Extension.UnknownExtensionIdentifier",
                "Lambda-Extension-Identifier is missing or unknown",
            );
        }
        let subscribe: Subscribe = match serde_json::from_slice(body) {
            Ok(s) => s,
            Err(e) => return error(StatusCode::BAD_REQUEST, "ValidationError", &e.to_string()),
        };
        if subscribe.destination.protocol != "HTTP" {
            return error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "Nubo delivers telemetry over HTTP only",
            );
        }
        let Some(target) = Target::parse(&subscribe.destination.uri) else {
            return error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "destination.URI must be http://sandbox.localdomain:PORT[/path]",
            );
        };
        if let Some(bad) = subscribe
            .types
            .iter()
            .find(|t| !matches!(t.as_str(), "platform" | "function" | "extension"))
        {
            return error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                &format!("unknown telemetry type {bad}"),
            );
        }
        let buffering = subscribe.buffering.unwrap_or_default();
        let max_items = buffering.max_items.unwrap_or(1000).clamp(1, 10_000);
        let linger = Duration::from_millis(buffering.timeout_ms.unwrap_or(1000).clamp(25, 30_000));
        let (tx, rx) = mpsc::unbounded_channel();
        let netns_of = *self.netns_of.lock();
        let undelivered = self.undelivered.clone();
        let task = tokio::spawn(deliver(
            rx,
            target,
            max_items,
            linger,
            netns_of,
            undelivered,
        ));
        let mut state = self.state.lock();
        for event in &state.backlog {
            let kind = event["type"].as_str().unwrap_or_default();
            let category = kind.split('.').next().unwrap_or(kind);
            if subscribe.types.iter().any(|t| t == category) && tx.send(event.clone()).is_ok() {
                self.undelivered.fetch_add(1, Ordering::SeqCst);
            }
        }
        state.subscriptions.push(Subscription {
            types: subscribe.types,
            events: tx,
        });
        state.tasks.push(task);
        reply(StatusCode::OK, "\"OK\"".into())
    }
}

/// Where a subscription's batches go: a port (and path) inside the environment.
#[derive(Debug, Clone)]
struct Target {
    port: u16,
    path: String,
}

impl Target {
    fn parse(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = authority.rsplit_once(':')?;
        let local = matches!(
            host,
            "sandbox.localdomain" | "sandbox" | "localhost" | "127.0.0.1" | "0.0.0.0"
        );
        local.then_some(())?;
        Some(Self {
            port: port.parse().ok()?,
            path: path.to_owned(),
        })
    }
}

/// Buffers a subscription's events and POSTs them in batches. A batch is not waited for: an
/// environment frozen between invocations answers when it is thawed, and later batches must not
/// queue behind it.
async fn deliver(
    mut events: mpsc::UnboundedReceiver<Value>,
    target: Target,
    max_items: usize,
    linger: Duration,
    netns_of: Option<u32>,
    undelivered: Arc<AtomicUsize>,
) {
    let mut batch: Vec<Value> = Vec::new();
    let send = |batch: Vec<Value>| {
        tokio::spawn(post(target.clone(), netns_of, batch, undelivered.clone()));
    };
    loop {
        let event = if batch.is_empty() {
            events.recv().await
        } else {
            match tokio::time::timeout(linger, events.recv()).await {
                Ok(event) => event,
                Err(_) => {
                    send(std::mem::take(&mut batch));
                    continue;
                }
            }
        };
        let Some(event) = event else {
            if !batch.is_empty() {
                send(batch);
            }
            return;
        };
        batch.push(event);
        if batch.len() >= max_items {
            send(std::mem::take(&mut batch));
        }
    }
}

async fn post(
    target: Target,
    netns_of: Option<u32>,
    batch: Vec<Value>,
    undelivered: Arc<AtomicUsize>,
) {
    let count = batch.len();
    let body = Value::from(batch).to_string();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: sandbox.localdomain:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.port,
        body.len()
    );
    let port = target.port;
    let sent = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::{Read, Write};
        let mut stream = connect_inside(netns_of, port)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        Ok(())
    })
    .await;
    undelivered.fetch_sub(count, Ordering::SeqCst);
    if let Ok(Err(e)) = sent {
        tracing::debug!(error = %e, port, "telemetry batch not delivered");
    }
}

/// A connection to `127.0.0.1:port` in `pid`'s network namespace (the host's for `None`), made on
/// a thread of its own that joins the namespace and ends (so no thread of the server stays in it).
fn connect_inside(netns_of: Option<u32>, port: u16) -> std::io::Result<std::net::TcpStream> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Some(pid) = netns_of else {
        return std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2));
    };
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
        // SAFETY: setns(2) with a descriptor we own; it changes only this thread, which ends here.
        if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("the connecting thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(expected: usize) -> Arc<Extensions> {
        Extensions::new(
            FunctionInfo {
                name: "f".into(),
                version: "$LATEST".into(),
                handler: "app.handler".into(),
                account_id: "000000000000".into(),
            },
            expected,
        )
    }

    fn id_of(reply: &Reply) -> String {
        reply.headers()["lambda-extension-identifier"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn an_invocation_waits_for_every_extension() {
        let ext = extensions(1);
        let registered = ext.register(Some("probe".into()), br#"{"events":["INVOKE","SHUTDOWN"]}"#);
        assert_eq!(registered.status(), StatusCode::OK);
        let id = id_of(&registered);
        let waiting = {
            let ext = ext.clone();
            let id = id.clone();
            tokio::spawn(async move { ext.next(Some(id)).await })
        };
        ext.wait_ready().await;
        ext.invoke("req-1", 0, "arn", "Root=1");
        let first = waiting.await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        // Busy with the event until it asks again.
        let soon = Instant::now() + Duration::from_millis(50);
        ext.wait_idle(soon).await;
        assert!(!ext.state.lock().extensions[0].idle());
        let again = {
            let ext = ext.clone();
            tokio::spawn(async move { ext.next(Some(id)).await })
        };
        ext.wait_idle(Instant::now() + Duration::from_secs(2)).await;
        assert!(ext.state.lock().extensions[0].idle());
        ext.shutdown("spindown", Duration::from_millis(50)).await;
        assert_eq!(again.await.unwrap().status(), StatusCode::OK);
    }

    #[test]
    fn telemetry_targets_are_inside_the_environment() {
        let target = Target::parse("http://sandbox.localdomain:4243/events").unwrap();
        assert_eq!((target.port, target.path.as_str()), (4243, "/events"));
        assert_eq!(Target::parse("http://sandbox:80").unwrap().path, "/");
        assert!(Target::parse("http://example.com:80/").is_none());
        assert!(Target::parse("https://sandbox.localdomain:80/").is_none());
    }
}
