//! The invoker: resolve the function → take a warm environment or start one → deliver the event →
//! await the result under the timeout → frame and ship the logs → return the environment.

use std::collections::{HashMap, HashSet};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use nubo_observe::LogWriter;
use nubo_store::LogEvent;
use nubo_wire::arn::FunctionRef;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::environment::{Environment, EnvironmentContext};
use crate::function::FunctionSnapshot;
use crate::logs::{report_line, Report};
use crate::provisioned::{Provisioned, ProvisionedConfig, ProvisionedStatus, Ticket};
use crate::registry::Registry;
use crate::runtime_api::{Delivery, InitError, RuntimeResult};
use crate::runtimes::{family, Family, RuntimeCatalog};
use crate::sandbox::Sandbox;
use crate::InvokeError;

/// Synchronous request and response payloads are limited to 6 MB.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL_BYTES: usize = 4096;

/// Tunables of the invoker.
#[derive(Debug, Clone)]
pub struct InvokerConfig {
    /// The account's concurrent executions limit.
    pub account_concurrency: usize,
    /// How long an idle environment is kept before it is reaped (scale to zero).
    pub idle_timeout: Duration,
    /// Lambda's init phase limit.
    pub init_timeout: Duration,
    /// The URL functions reach Nubo at (`AWS_ENDPOINT_URL`).
    pub endpoint_url: String,
    /// Where environments get their execution role's credentials (`None`: stand-ins).
    pub execution_credentials: Option<Arc<dyn crate::credentials::ExecutionCredentials>>,
}

impl Default for InvokerConfig {
    fn default() -> Self {
        Self {
            account_concurrency: 1000,
            idle_timeout: Duration::from_secs(600),
            init_timeout: Duration::from_secs(10),
            endpoint_url: "http://127.0.0.1:4750".into(),
            execution_credentials: None,
        }
    }
}

/// A synchronous invocation.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// The function as named by the caller.
    pub function: FunctionRef,
    /// The event.
    pub payload: Bytes,
    /// Base64 client context, passed through.
    pub client_context: Option<String>,
    /// Return the log tail.
    pub tail_log: bool,
    /// The request id to run under (an asynchronous event keeps the id it was accepted with).
    pub request_id: Option<String>,
}

/// The outcome of an invocation that ran (function errors included).
#[derive(Debug, Clone)]
pub struct InvokeResult {
    /// The request id (also in the log).
    pub request_id: String,
    /// The version that ran.
    pub executed_version: String,
    /// True when the function failed (`X-Amz-Function-Error: Unhandled`).
    pub function_error: bool,
    /// The response or error document.
    pub payload: Bytes,
    /// Base64 of the last 4 KB of the log, when asked.
    pub log_tail: Option<String>,
}

/// Idle environments by function name, most recently used last.
#[derive(Default)]
struct Pool {
    idle: Mutex<HashMap<String, Vec<Environment>>>,
}

impl Pool {
    /// The most recently used idle environment of exactly this revision.
    fn take(&self, function: &FunctionSnapshot) -> Option<Environment> {
        let mut idle = self.idle.lock();
        let envs = idle.get_mut(&function.name)?;
        while let Some(i) = envs
            .iter()
            .rposition(|e| e.revision_id == function.revision_id)
        {
            let env = envs.remove(i);
            if !env.has_exited() {
                return Some(env);
            }
        }
        None
    }

    fn put(&self, name: &str, mut env: Environment) {
        env.last_used = Instant::now();
        self.idle
            .lock()
            .entry(name.to_owned())
            .or_default()
            .push(env);
    }

    /// Drops idle environments whose revision is no longer any version of the function.
    fn retire_stale(&self, name: &str, live: &[String]) {
        let mut retired = Vec::new();
        {
            let mut idle = self.idle.lock();
            if let Some(envs) = idle.get_mut(name) {
                let (keep, stale): (Vec<_>, Vec<_>) =
                    envs.drain(..).partition(|e| live.contains(&e.revision_id));
                *envs = keep;
                retired = stale;
            }
        }
        drop(retired);
    }

    /// Drops the idle environments held for a provisioned-concurrency configuration.
    fn release(&self, owner: &Arc<Provisioned>) {
        let mut released = Vec::new();
        {
            let mut idle = self.idle.lock();
            if let Some(envs) = idle.get_mut(&owner.function) {
                let (keep, gone): (Vec<_>, Vec<_>) = envs.drain(..).partition(|e| {
                    !e.provisioned
                        .as_ref()
                        .is_some_and(|t| Arc::ptr_eq(&t.0, owner))
                });
                *envs = keep;
                released = gone;
            }
        }
        drop(released);
    }

    fn reap(&self, idle_timeout: Duration) -> usize {
        let mut reaped = Vec::new();
        {
            let mut idle = self.idle.lock();
            for envs in idle.values_mut() {
                let (keep, old): (Vec<_>, Vec<_>) = envs.drain(..).partition(|e| {
                    let provisioned = e.provisioned.as_ref().is_some_and(|t| t.0.is_active());
                    !e.has_exited() && (provisioned || e.idle_for() < idle_timeout)
                });
                *envs = keep;
                reaped.extend(old);
            }
            idle.retain(|_, envs| !envs.is_empty());
        }
        reaped.len()
    }

    fn idle_count(&self) -> usize {
        self.idle.lock().values().map(Vec::len).sum()
    }
}

/// Runs invocations.
pub struct Invoker {
    registry: Arc<Registry>,
    catalog: Arc<RuntimeCatalog>,
    sandbox: Arc<dyn Sandbox>,
    logs: LogWriter,
    config: InvokerConfig,
    pool: Arc<Pool>,
    active: AtomicUsize,
    unreserved_active: AtomicUsize,
    function_active: parking_lot::RwLock<HashMap<String, Arc<AtomicUsize>>>,
    provisioned: Mutex<HashMap<(String, String), Arc<Provisioned>>>,
    substitutions_said: Mutex<HashSet<String>>,
}

/// Releases a concurrency slot when the invocation ends, however it ends: the account-wide
/// count, and either the function's reserved count or the unreserved pool's.
struct Slot<'a> {
    active: &'a AtomicUsize,
    pool: Option<&'a AtomicUsize>,
    reserved: Option<Arc<AtomicUsize>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
        if let Some(pool) = self.pool {
            pool.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(reserved) = &self.reserved {
            reserved.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

enum Outcome {
    Response(Bytes),
    FunctionError(Option<String>, Bytes),
    InitError(InitError),
    Exited(Option<ExitStatus>),
    TimedOut(Duration),
    InitTimedOut(Duration),
}

impl Invoker {
    /// Builds the invoker and starts its idle reaper.
    pub fn start(
        registry: Arc<Registry>,
        catalog: Arc<RuntimeCatalog>,
        sandbox: Arc<dyn Sandbox>,
        logs: LogWriter,
        config: InvokerConfig,
    ) -> Arc<Self> {
        let pool = Arc::new(Pool::default());
        let retire = pool.clone();
        let live = Arc::downgrade(&registry);
        registry.on_change(move |name| {
            if let Some(registry) = live.upgrade() {
                retire.retire_stale(name, &registry.live_revisions(name));
            }
        });
        let invoker = Arc::new(Self {
            registry,
            catalog,
            sandbox,
            logs,
            config,
            pool,
            active: AtomicUsize::new(0),
            unreserved_active: AtomicUsize::new(0),
            function_active: parking_lot::RwLock::new(HashMap::new()),
            provisioned: Mutex::new(HashMap::new()),
            substitutions_said: Mutex::new(HashSet::new()),
        });
        let weak = Arc::downgrade(&invoker);
        let period = (invoker.config.idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(invoker) = weak.upgrade() else {
                    return;
                };
                let reaped = invoker.pool.reap(invoker.config.idle_timeout);
                if reaped > 0 {
                    tracing::debug!(reaped, "reaped idle environments");
                }
            }
        });
        invoker
    }

    /// The registry this invoker resolves functions in.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The account's concurrent executions limit.
    pub fn account_concurrency(&self) -> usize {
        self.config.account_concurrency
    }

    /// Environments currently idle (warm).
    pub fn idle_environments(&self) -> usize {
        self.pool.idle_count()
    }

    /// Invocations currently running.
    pub fn active_invocations(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Lambda's concurrency model: a function with reserved concurrency runs within it (0 disables
    /// the function); the others share what the reservations leave of the account limit.
    fn acquire_slot(&self, function: &str) -> Result<Slot<'_>, InvokeError> {
        self.active.fetch_add(1, Ordering::AcqRel);
        let reserved = self
            .registry
            .get(function)
            .and_then(|f| f.reserved_concurrency);
        let mut slot = Slot {
            active: &self.active,
            pool: None,
            reserved: None,
        };
        match reserved {
            Some(limit) => {
                let counter = self.function_counter(function);
                let previous = counter.fetch_add(1, Ordering::AcqRel);
                slot.reserved = Some(counter);
                if previous >= limit as usize {
                    return Err(InvokeError::Throttled {
                        reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                    });
                }
            }
            None => {
                let previous = self.unreserved_active.fetch_add(1, Ordering::AcqRel);
                slot.pool = Some(&self.unreserved_active);
                let unreserved = self
                    .config
                    .account_concurrency
                    .saturating_sub(self.registry.reserved_total());
                if previous >= unreserved {
                    return Err(InvokeError::Throttled {
                        reason: "ConcurrentInvocationLimitExceeded",
                    });
                }
            }
        }
        Ok(slot)
    }

    fn function_counter(&self, function: &str) -> Arc<AtomicUsize> {
        if let Some(counter) = self.function_active.read().get(function) {
            return counter.clone();
        }
        self.function_active
            .write()
            .entry(function.to_owned())
            .or_default()
            .clone()
    }

    /// Validates an event payload: at most 6 MB, and JSON.
    pub fn check_payload(
        payload: Bytes,
        limit: usize,
        operation_limit_message: &str,
    ) -> Result<Bytes, InvokeError> {
        if payload.len() > limit {
            return Err(InvokeError::RequestTooLarge(
                operation_limit_message.to_owned(),
            ));
        }
        if payload.is_empty() {
            return Ok(Bytes::from_static(b"{}"));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&payload)
            .map_err(|e| InvokeError::InvalidRequestContent(e.to_string()))?;
        Ok(payload)
    }

    /// Runs one synchronous invocation.
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let function = self.registry.resolve_for_invoke(
            &request.function.name,
            request.function.qualifier.as_deref(),
        )?;
        let payload = Self::check_payload(
            request.payload,
            MAX_SYNC_PAYLOAD_BYTES,
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        )?;
        let _slot = self.acquire_slot(&function.name)?;
        let request_id = request.request_id.unwrap_or_else(nubo_wire::new_request_id);
        let invoked_arn = match &request.function.qualifier {
            Some(q) => {
                nubo_wire::arn::qualified_function_arn(self.registry.scope(), &function.name, q)
            }
            None => nubo_wire::arn::function_arn(self.registry.scope(), &function.name),
        };

        let mut env = match self.pool.take(&function) {
            Some(env) => env,
            None => match self.start_environment(&function).await {
                Ok(env) => env,
                Err(InvokeError::Sandbox(reason))
                    if family(&function.runtime) == Family::Provided =>
                {
                    return Ok(self.invalid_entrypoint(
                        &function,
                        request_id,
                        reason,
                        request.tail_log,
                    ));
                }
                Err(e) => return Err(e),
            },
        };
        let cold = !env.initialized;
        let (outcome, delivered_at, finished_at) = self
            .deliver(
                &mut env,
                &function,
                &request_id,
                payload,
                invoked_arn,
                request.client_context,
            )
            .await;
        let healthy = matches!(outcome, Outcome::Response(_) | Outcome::FunctionError(..));
        if !healthy {
            // Kill now: a timed-out handler must not run on, and its last output is still drained below.
            env.kill();
        }
        let init_duration = (cold && delivered_at.is_some())
            .then(|| delivered_at.unwrap_or(env.started) - env.started);
        let duration = finished_at - delivered_at.unwrap_or(env.started);
        // An environment ended by its memory limit is reported as Lambda does (Runtime.OutOfMemory).
        let out_of_memory = matches!(outcome, Outcome::Exited(_)) && env.out_of_memory().await;
        let (function_error, body, platform_line) =
            self.interpret(outcome, out_of_memory, &request_id, &function);

        let mut lines = env.logs.drain().await;
        if !healthy {
            // The process is being replaced: make sure it is gone before we report.
            let memory = env.max_memory_used_mb();
            drop(env);
            let report = Report {
                duration,
                memory_mb: function.memory_mb,
                max_memory_used_mb: memory,
                init_duration,
            };
            let tail = self.ship_logs(
                &function,
                &request_id,
                None,
                &mut lines,
                platform_line,
                &report,
                None,
            );
            return Ok(self.result(
                request_id,
                &function,
                function_error,
                body,
                request.tail_log.then_some(tail),
            ));
        }
        let report = Report {
            duration,
            memory_mb: function.memory_mb,
            max_memory_used_mb: env.max_memory_used_mb(),
            init_duration,
        };
        let note = env.substitution.take().filter(|note| {
            self.substitutions_said
                .lock()
                .insert(format!("{}|{note}", function.name))
        });
        let tail = self.ship_logs(
            &function,
            &request_id,
            Some(&env.stream),
            &mut lines,
            platform_line,
            &report,
            note,
        );
        env.mark_initialized();
        if self
            .registry
            .is_live(&function.name, &function.version, &env.revision_id)
        {
            self.pool.put(&function.name, env);
        }
        Ok(self.result(
            request_id,
            &function,
            function_error,
            body,
            request.tail_log.then_some(tail),
        ))
    }

    fn result(
        &self,
        request_id: String,
        function: &FunctionSnapshot,
        function_error: bool,
        payload: Bytes,
        tail: Option<String>,
    ) -> InvokeResult {
        InvokeResult {
            request_id,
            executed_version: function.version.clone(),
            function_error,
            payload,
            log_tail: tail.map(|t| base64::engine::general_purpose::STANDARD.encode(t)),
        }
    }

    async fn start_environment(
        &self,
        function: &FunctionSnapshot,
    ) -> Result<Environment, InvokeError> {
        self.start_environment_as(function, "on-demand").await
    }

    async fn start_environment_as(
        &self,
        function: &FunctionSnapshot,
        initialization_type: &'static str,
    ) -> Result<Environment, InvokeError> {
        let code_dir = self.registry.code().tree(&function.code.sha256_hex);
        let ctx = EnvironmentContext {
            catalog: &self.catalog,
            sandbox: self.sandbox.as_ref(),
            code_dir: &code_dir,
            scope: self.registry.scope(),
            endpoint_url: &self.config.endpoint_url,
            initialization_type,
            credentials: self.config.execution_credentials.as_deref(),
        };
        Environment::start(function, &ctx).await
    }

    fn invalid_entrypoint(
        &self,
        function: &FunctionSnapshot,
        request_id: String,
        reason: String,
        tail: bool,
    ) -> InvokeResult {
        tracing::debug!(function = %function.name, %reason, "provided runtime without a usable bootstrap");
        let message = format!("RequestId: {request_id} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");
        let body =
            serde_json::json!({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message});
        let report = Report {
            duration: Duration::ZERO,
            memory_mb: function.memory_mb,
            max_memory_used_mb: 0,
            init_duration: None,
        };
        let log = self.ship_logs(
            function,
            &request_id,
            None,
            &mut Vec::new(),
            Some(format!("{message}\nRuntime.InvalidEntrypoint")),
            &report,
            None,
        );
        self.result(
            request_id,
            function,
            true,
            Bytes::from(body.to_string()),
            tail.then_some(log),
        )
    }

    async fn deliver(
        &self,
        env: &mut Environment,
        function: &FunctionSnapshot,
        request_id: &str,
        payload: Bytes,
        invoked_function_arn: String,
        client_context: Option<String>,
    ) -> (Outcome, Option<Instant>, Instant) {
        let timeout = Duration::from_secs(function.timeout_seconds as u64);
        let (delivered_tx, delivered_rx) = oneshot::channel();
        let (result_tx, result_rx) = oneshot::channel();
        let delivery = Delivery {
            request_id: request_id.to_owned(),
            payload,
            timeout,
            invoked_function_arn,
            client_context,
            // X-Ray's shape; the ids need to be unique-ish, not unguessable (no getrandom per invoke).
            trace_id: format!(
                "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
                time::OffsetDateTime::now_utc().unix_timestamp(),
                fastrand::u128(..) >> 32,
                fastrand::u64(..)
            ),
            delivered: delivered_tx,
            result: result_tx,
        };
        if env.api.deliveries.try_send(delivery).is_err() {
            return (Outcome::Exited(*env.exit.borrow()), None, Instant::now());
        }
        let state = env.api.state.clone();
        let mut exit = env.exit.clone();
        let init_error_reported = state.init_error_reported.notified();
        tokio::pin!(init_error_reported);
        init_error_reported.as_mut().enable();

        // Phase 1: the runtime picks the event up: after init when cold, under the init limit;
        // when warm, as soon as it is back in `next` (it may still be finishing the previous
        // response, so a warm environment gets the function's timeout, not an init deadline that
        // passed long ago).
        let init_deadline = if env.initialized {
            Instant::now() + timeout
        } else {
            env.started + self.config.init_timeout
        };
        let delivered_at = if let Some(init_error) = state.init_error() {
            return (Outcome::InitError(init_error), None, Instant::now());
        } else {
            tokio::select! {
                delivered = delivered_rx => match delivered {
                    Ok(at) => at,
                    Err(_) => return (Outcome::Exited(*env.exit.borrow()), None, Instant::now()),
                },
                _ = exit.wait_for(Option::is_some) => {
                    let outcome = state.init_error().map(Outcome::InitError).unwrap_or_else(|| Outcome::Exited(*env.exit.borrow()));
                    return (outcome, None, Instant::now());
                }
                _ = &mut init_error_reported => {
                    let outcome = state.init_error().map(Outcome::InitError).unwrap_or(Outcome::Exited(None));
                    return (outcome, None, Instant::now());
                }
                _ = tokio::time::sleep_until(init_deadline.into()) => {
                    let outcome = if env.initialized {
                        Outcome::TimedOut(timeout)
                    } else {
                        Outcome::InitTimedOut(self.config.init_timeout)
                    };
                    return (outcome, None, Instant::now());
                }
            }
        };

        // Phase 2: the handler runs under the function's timeout.
        let outcome = tokio::select! {
            result = result_rx => match result {
                Ok(RuntimeResult::Response(body)) => Outcome::Response(body),
                Ok(RuntimeResult::Error { error_type, body }) => Outcome::FunctionError(error_type, body),
                Err(_) => Outcome::Exited(*env.exit.borrow()),
            },
            _ = exit.wait_for(Option::is_some) => Outcome::Exited(*env.exit.borrow()),
            _ = tokio::time::sleep_until((delivered_at + timeout).into()) => Outcome::TimedOut(timeout),
        };
        (outcome, Some(delivered_at), Instant::now())
    }

    /// Turns an outcome into (function error?, body, platform log line).
    fn interpret(
        &self,
        outcome: Outcome,
        out_of_memory: bool,
        request_id: &str,
        function: &FunctionSnapshot,
    ) -> (bool, Bytes, Option<String>) {
        let error = |error_type: &str, message: String| -> Bytes {
            Bytes::from(
                serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
            )
        };
        match outcome {
            Outcome::Response(body) => (false, body, None),
            Outcome::FunctionError(error_type, body) => {
                let body = if body.is_empty() {
                    error(
                        error_type.as_deref().unwrap_or("Unhandled"),
                        "The function reported an error without details".into(),
                    )
                } else {
                    body
                };
                (true, body, None)
            }
            Outcome::InitError(init) => {
                let body = if init.body.is_empty() {
                    error(
                        init.error_type.as_deref().unwrap_or("Runtime.Unknown"),
                        "The runtime failed to initialize".into(),
                    )
                } else {
                    init.body
                };
                let line = format!(
                    "INIT_REPORT Init Duration: n/a\tPhase: init\tStatus: error\tError Type: {}",
                    init.error_type.as_deref().unwrap_or("Runtime.Unknown")
                );
                (true, body, Some(line))
            }
            Outcome::Exited(status) => {
                let how = match status {
                    Some(s) => {
                        match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                            (Some(code), _) => format!("exit status {code}"),
                            (None, Some(9)) => "signal: killed".into(),
                            (None, Some(sig)) => format!("signal: {sig}"),
                            _ => "unknown".into(),
                        }
                    }
                    None => "unknown".into(),
                };
                let message =
                    format!("RequestId: {request_id} Error: Runtime exited with error: {how}");
                let error_type = if out_of_memory {
                    "Runtime.OutOfMemory"
                } else {
                    "Runtime.ExitError"
                };
                (
                    true,
                    error(error_type, message.clone()),
                    Some(format!("{message}\n{error_type}")),
                )
            }
            Outcome::TimedOut(timeout) => {
                let at = nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc());
                let message = format!(
                    "{at} {request_id} Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                );
                (
                    true,
                    error("Sandbox.Timedout", message.clone()),
                    Some(message),
                )
            }
            Outcome::InitTimedOut(limit) => {
                let message = format!(
                    "RequestId: {request_id} Error: Init phase timed out after {:.2} seconds ({})",
                    limit.as_secs_f64(),
                    function.runtime
                );
                (
                    true,
                    error("Runtime.InitTimeout", message.clone()),
                    Some(message),
                )
            }
        }
    }

    /// Frames the captured lines, ships them to the store and returns the log text (for the tail).
    #[allow(clippy::too_many_arguments)]
    fn ship_logs(
        &self,
        function: &FunctionSnapshot,
        request_id: &str,
        stream: Option<&str>,
        lines: &mut Vec<(i64, String)>,
        platform_line: Option<String>,
        report: &Report,
        note: Option<String>,
    ) -> String {
        let now = nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc());
        let mut framed: Vec<(i64, String)> = Vec::with_capacity(lines.len() + 4);
        let first_ts = lines.first().map(|l| l.0).unwrap_or(now);
        if let Some(note) = note {
            framed.push((first_ts, note));
        }
        framed.push((
            first_ts,
            format!(
                "START RequestId: {request_id} Version: {}",
                function.version
            ),
        ));
        framed.append(lines);
        if let Some(line) = platform_line {
            framed.extend(line.lines().map(|l| (now, l.to_owned())));
        }
        framed.push((now, format!("END RequestId: {request_id}")));
        framed.push((now, report_line(request_id, report)));

        let mut text = String::new();
        for (_, line) in &framed {
            text.push_str(line);
            text.push('\n');
        }
        let group = nubo_observe::function_log_group(&function.name);
        let stream = stream.map(str::to_owned).unwrap_or_else(|| {
            format!(
                "{}/[{}]{}",
                nubo_wire::timefmt::log_stream_day(time::OffsetDateTime::now_utc()),
                function.version,
                request_id.replace('-', "")
            )
        });
        self.logs.send(
            framed
                .into_iter()
                .map(|(timestamp_ms, message)| LogEvent {
                    group: group.clone(),
                    stream: stream.clone(),
                    timestamp_ms,
                    message,
                })
                .collect(),
        );
        tail(text, LOG_TAIL_BYTES)
    }
}

/// The last `limit` bytes of `text`, cut at a character boundary.
fn tail(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

/// Provisioned concurrency.
impl Invoker {
    /// Starts (or replaces) a provisioned-concurrency configuration and persists it.
    pub async fn put_provisioned(
        self: &Arc<Self>,
        name: &str,
        qualifier: &str,
        requested: u32,
    ) -> Result<Arc<Provisioned>, crate::ControlError> {
        if qualifier == crate::LATEST {
            return Err(crate::ControlError::InvalidParameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.".into(),
            ));
        }
        self.registry.resolve(name, Some(qualifier))?;
        if let Some(reserved) = self.registry.get(name).and_then(|f| f.reserved_concurrency) {
            if requested > reserved {
                return Err(crate::ControlError::InvalidParameter(format!(
                    "ProvisionedConcurrentExecutions ({requested}) cannot be greater than the function's ReservedConcurrentExecutions ({reserved})."
                )));
            }
        }
        let config = ProvisionedConfig {
            requested,
            last_modified: nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
        };
        self.registry
            .save_provisioned(name, qualifier, &config)
            .await?;
        Ok(self.start_provisioned(name, qualifier, config))
    }

    /// Re-creates every stored configuration (at start).
    pub async fn restore_provisioned(self: &Arc<Self>) -> Result<usize, crate::ControlError> {
        let stored = self.registry.stored_provisioned().await?;
        let count = stored.len();
        for (name, qualifier, config) in stored {
            self.start_provisioned(&name, &qualifier, config);
        }
        Ok(count)
    }

    fn start_provisioned(
        self: &Arc<Self>,
        name: &str,
        qualifier: &str,
        config: ProvisionedConfig,
    ) -> Arc<Provisioned> {
        let provisioned = Provisioned::new(name.to_owned(), qualifier.to_owned(), config);
        let previous = self
            .provisioned
            .lock()
            .insert((name.to_owned(), qualifier.to_owned()), provisioned.clone());
        if let Some(previous) = previous {
            self.stop_provisioned(&previous);
        }
        tokio::spawn(self.clone().keep_provisioned(provisioned.clone()));
        provisioned
    }

    fn stop_provisioned(&self, provisioned: &Arc<Provisioned>) {
        provisioned
            .active
            .store(false, std::sync::atomic::Ordering::Release);
        self.pool.release(provisioned);
    }

    /// Deletes a configuration; false if there was none.
    pub async fn delete_provisioned(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<bool, crate::ControlError> {
        let existed = self.registry.forget_provisioned(name, qualifier).await?;
        if let Some(p) = self
            .provisioned
            .lock()
            .remove(&(name.to_owned(), qualifier.to_owned()))
        {
            self.stop_provisioned(&p);
        }
        Ok(existed)
    }

    /// One configuration's live state.
    pub fn provisioned(&self, name: &str, qualifier: &str) -> Option<Arc<Provisioned>> {
        self.provisioned
            .lock()
            .get(&(name.to_owned(), qualifier.to_owned()))
            .cloned()
    }

    /// A function's configurations, ordered by qualifier.
    pub fn provisioned_of(&self, name: &str) -> Vec<Arc<Provisioned>> {
        let mut all: Vec<_> = self
            .provisioned
            .lock()
            .values()
            .filter(|p| p.function == name)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        all
    }

    /// Keeps `requested` initialized environments for the configuration while it stands.
    async fn keep_provisioned(self: Arc<Self>, provisioned: Arc<Provisioned>) {
        const PARALLEL_STARTS: usize = 4;
        while provisioned.is_active() {
            let Ok(function) = self
                .registry
                .resolve(&provisioned.function, Some(&provisioned.qualifier))
            else {
                // The version or alias is gone; its configuration went with it.
                self.provisioned
                    .lock()
                    .remove(&(provisioned.function.clone(), provisioned.qualifier.clone()));
                self.stop_provisioned(&provisioned);
                return;
            };
            let wanted = provisioned.config.requested as usize;
            let missing = wanted.saturating_sub(provisioned.available());
            if missing == 0 {
                let mut status = provisioned.status.lock();
                if *status == ProvisionedStatus::InProgress {
                    *status = ProvisionedStatus::Ready;
                }
            } else {
                let mut starts = tokio::task::JoinSet::new();
                for _ in 0..missing.min(PARALLEL_STARTS) {
                    let (me, function, owner) =
                        (self.clone(), function.clone(), provisioned.clone());
                    starts.spawn(async move { me.initialize_ahead(&function, owner).await });
                }
                while let Some(started) = starts.join_next().await {
                    if let Ok(Err(reason)) = started {
                        tracing::warn!(function = %provisioned.function, qualifier = %provisioned.qualifier, %reason, "provisioned environment failed to initialize");
                        *provisioned.status.lock() = ProvisionedStatus::Failed(reason);
                        return;
                    }
                }
                continue;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts one environment, waits until its runtime is in `next`, and parks it in the pool.
    async fn initialize_ahead(
        &self,
        function: &FunctionSnapshot,
        owner: Arc<Provisioned>,
    ) -> Result<(), String> {
        let mut env = self
            .start_environment_as(function, "provisioned-concurrency")
            .await
            .map_err(|e| e.to_string())?;
        let state = env.api.state.clone();
        let mut ready = state.ready.subscribe();
        let mut exit = env.exit.clone();
        let reported = state.init_error_reported.notified();
        tokio::pin!(reported);
        reported.as_mut().enable();
        let failed = |state: &crate::runtime_api::RuntimeApiState| {
            state
                .init_error()
                .and_then(|e| e.error_type)
                .unwrap_or_else(|| "Runtime.ExitError".into())
        };
        tokio::select! {
            _ = ready.wait_for(|r| *r) => {}
            _ = exit.wait_for(Option::is_some) => return Err(failed(&state)),
            _ = &mut reported => return Err(failed(&state)),
            _ = tokio::time::sleep(self.config.init_timeout) => return Err("Runtime.InitTimeout".into()),
        }
        if !owner.is_active() {
            return Ok(());
        }
        env.mark_initialized();
        env.provisioned = Some(Ticket::new(owner));
        self.pool.put(&function.name, env);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("abc".into(), 10), "abc");
        assert_eq!(tail("abcdef".into(), 3), "def");
        assert_eq!(tail("aé".into(), 1), "");
    }

    #[test]
    fn payload_checks() {
        assert_eq!(
            &Invoker::check_payload(Bytes::new(), 10, "x").unwrap()[..],
            b"{}"
        );
        assert!(matches!(
            Invoker::check_payload(Bytes::from_static(b"{nope"), 10, "x"),
            Err(InvokeError::InvalidRequestContent(_))
        ));
        assert!(matches!(
            Invoker::check_payload(Bytes::from_static(b"[1,2,3,4]"), 3, "x"),
            Err(InvokeError::RequestTooLarge(_))
        ));
        assert!(Invoker::check_payload(Bytes::from_static(b"\"s\""), 10, "x").is_ok());
    }
}
