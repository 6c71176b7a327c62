//! The invoker: resolve the function → take a concurrency slot (`slots`) → take a warm
//! environment of that exact revision (`pool`) or start one → deliver the event and await the
//! result under the timeout (`delivery`) → turn the outcome into the answer (`outcome`) →
//! frame and ship the logs ([`crate::logs`]) → return the environment to the pool.

mod delivery;
mod outcome;
mod pool;
mod slots;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use nubo_observe::traces::{new_span_id, unix_nanos_at};
use nubo_observe::{LogWriter, Span, SpanKind, TraceContext};
use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;
use parking_lot::Mutex;

use crate::control::concurrency::Provisioned;
use crate::control::lifecycle::pending_conflict;
use crate::control::records::{FunctionSnapshot, Lifecycle};
use crate::control::Registry;
use crate::environment::{Environment, EnvironmentContext};
use crate::logs::{Framing, Report};
use crate::runtimes::{family, Family, RuntimeCatalog};
use crate::sandbox::Sandbox;
use crate::InvokeError;
use delivery::{deliver, Event};
use outcome::Interpreted;
pub(crate) use pool::Pool;
pub(crate) use slots::Slot;
use slots::Slots;

/// Synchronous request and response payloads are limited to 6 MB.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Tunables of the invoker.
#[derive(Debug, Clone)]
pub struct InvokerConfig {
    /// Each scope's (account and region's) concurrent executions limit.
    pub account_concurrency: usize,
    /// How long an idle environment is kept before it is reaped (scale to zero).
    pub idle_timeout: Duration,
    /// Lambda's init phase limit.
    pub init_timeout: Duration,
    /// The URL functions reach Nubo at (`AWS_ENDPOINT_URL`).
    pub endpoint_url: String,
    /// Serves that URL inside environments with a network of their own.
    pub environment_endpoint: Arc<crate::EnvironmentEndpoint>,
    /// Where environments get their execution role's credentials (`None`: stand-ins).
    pub execution_credentials: Option<Arc<dyn crate::credentials::ExecutionCredentials>>,
    /// Counts requests and billed duration per function version (`None`: not metered).
    pub usage: Option<Arc<nubo_observe::UsageMeter>>,
    /// Per-function metric families at `/_nubo/metrics` (`None`: not kept).
    pub function_metrics: Option<Arc<nubo_observe::FunctionMetrics>>,
    /// Spans for each invocation, its init and its run (disabled: none are built).
    pub tracer: nubo_observe::Tracer,
}

impl Default for InvokerConfig {
    fn default() -> Self {
        Self {
            account_concurrency: 1000,
            idle_timeout: Duration::from_secs(600),
            init_timeout: Duration::from_secs(10),
            endpoint_url: "http://127.0.0.1:4750".into(),
            environment_endpoint: Arc::default(),
            execution_credentials: None,
            usage: None,
            function_metrics: None,
            tracer: nubo_observe::Tracer::disabled(),
        }
    }
}

/// A synchronous invocation.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// The function as named by the caller, in its scope.
    pub function: FunctionRef,
    /// The event.
    pub payload: Bytes,
    /// Base64 client context, passed through.
    pub client_context: Option<String>,
    /// Return the log tail.
    pub tail_log: bool,
    /// The request id to run under (an asynchronous event keeps the id it was accepted with).
    pub request_id: Option<String>,
    /// Invocations before this one in its chain (0 for a client's own call): counted through
    /// the trace header's `Lineage` and asynchronous events, so a function that invokes itself
    /// through events is stopped (see [`crate::lineage`]).
    pub lineage: u32,
    /// The span this invocation runs under (the edge's or the gateway's); `None` starts a new
    /// trace when tracing is on.
    pub trace: Option<TraceContext>,
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

/// Runs invocations.
pub struct Invoker {
    pub(crate) registry: Arc<Registry>,
    catalog: Arc<RuntimeCatalog>,
    sandbox: Arc<dyn Sandbox>,
    logs: LogWriter,
    pub(crate) config: InvokerConfig,
    pub(crate) pool: Arc<Pool>,
    slots: Slots,
    /// Provisioned-concurrency configurations standing now, by qualified function.
    pub(crate) provisioned: Mutex<HashMap<FunctionRef, Arc<Provisioned>>>,
    substitutions_said: Mutex<HashSet<String>>,
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
        registry.on_change(move |change| retire.retire(change.retired));
        let invoker = Arc::new(Self {
            registry,
            catalog,
            sandbox,
            logs,
            config,
            pool,
            slots: Slots::default(),
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

    /// Each scope's concurrent executions limit.
    pub fn account_concurrency(&self) -> usize {
        self.config.account_concurrency
    }

    /// Environments currently idle (warm).
    pub fn idle_environments(&self) -> usize {
        self.pool.idle_count()
    }

    /// How many more invocations of `function` would get a concurrency slot now (0 when the
    /// function does not exist).
    pub fn available_concurrency(&self, function: &FunctionRef) -> usize {
        let Ok(resolved) = self.registry.resolve_for_invoke(function) else {
            return 0;
        };
        let (reserved, reserved_total) = self.registry.concurrency(&function.scope, &resolved.name);
        self.slots.available(
            &function.scope,
            &resolved.name,
            reserved,
            reserved_total,
            self.config.account_concurrency,
        )
    }

    /// Invocations currently running.
    pub fn active_invocations(&self) -> usize {
        self.slots.active()
    }

    /// Validates an event payload: at most `limit` bytes, and JSON.
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

    /// Takes a concurrency slot for an invocation of `function` now, if one is free, without
    /// counting a throttle when none is: the asynchronous dispatcher holds an event back until
    /// this succeeds, then runs it with [`Invoker::invoke_in`].
    pub(crate) fn try_slot(&self, function: &FunctionRef) -> Result<Slot, InvokeError> {
        let resolved = self.registry.resolve_for_invoke(function)?;
        let (reserved, reserved_total) = self.registry.concurrency(&function.scope, &resolved.name);
        self.slots.acquire(
            &function.scope,
            &resolved.name,
            reserved,
            reserved_total,
            self.config.account_concurrency,
        )
    }

    /// Resolves once a concurrency slot has been given back (see [`Slots::freed`]).
    pub(crate) async fn slot_freed(&self) {
        self.slots.freed().await;
    }

    /// Runs one synchronous invocation.
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        self.traced(request, None).await
    }

    /// Runs one invocation in a slot already taken with [`Invoker::try_slot`].
    pub(crate) async fn invoke_in(
        &self,
        request: InvokeRequest,
        slot: Slot,
    ) -> Result<InvokeResult, InvokeError> {
        self.traced(request, Some(slot)).await
    }
    /// One invocation, in `held` or a slot taken now; traced when the tracer is on: an
    /// `Invoke` span over the whole of it, with the run's and a cold start's init spans under it.
    async fn traced(
        &self,
        request: InvokeRequest,
        held: Option<Slot>,
    ) -> Result<InvokeResult, InvokeError> {
        if !self.config.tracer.enabled() {
            return self.run(request, held, None).await;
        }
        let mut span = Span::start(
            format!("Invoke {}", request.function.name),
            SpanKind::Internal,
            request.trace,
        );
        span.set("faas.invoked_name", request.function.name.to_string());
        span.set("cloud.region", request.function.scope.region.clone());
        span.set(
            "cloud.account.id",
            request.function.scope.account_id.clone(),
        );
        let result = self.run(request, held, Some(span.context())).await;
        match &result {
            Ok(done) => {
                span.set("faas.invocation_id", done.request_id.clone());
                span.set("faas.version", done.executed_version.clone());
                if done.function_error {
                    span.error = Some("function error (Unhandled)".into());
                }
            }
            Err(e) => span.error = Some(e.to_string()),
        }
        span.end_now();
        self.config.tracer.record(span);
        result
    }

    /// The invocation itself; `trace` is the `Invoke` span's context when tracing.
    async fn run(
        &self,
        request: InvokeRequest,
        held: Option<Slot>,
        trace: Option<TraceContext>,
    ) -> Result<InvokeResult, InvokeError> {
        let scope = &request.function.scope;
        let function = self.registry.resolve_for_invoke(&request.function)?;
        if function.lifecycle == Lifecycle::Creating {
            return Err(pending_conflict().into());
        }
        let payload = Self::check_payload(
            request.payload,
            MAX_SYNC_PAYLOAD_BYTES,
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        )?;
        let _slot = match held {
            Some(slot) => slot,
            None => {
                let (reserved, reserved_total) = self.registry.concurrency(scope, &function.name);
                self.slots
                    .acquire(
                        scope,
                        &function.name,
                        reserved,
                        reserved_total,
                        self.config.account_concurrency,
                    )
                    .inspect_err(|_| {
                        if let Some(metrics) = &self.config.function_metrics {
                            metrics.throttled(&scope.region, &function.name, &function.version);
                        }
                    })?
            }
        };
        let request_id = request.request_id.unwrap_or_else(nubo_wire::new_request_id);

        let mut env = match self.pool.take(&function) {
            Some(env) => env,
            None => match self.start_environment(scope, &function, "on-demand").await {
                Ok(env) => env,
                Err(InvokeError::Sandbox(reason))
                    if family(&function.runtime) == Family::Provided =>
                {
                    tracing::debug!(function = %function.name, %reason, "provided runtime without a usable bootstrap");
                    return Ok(self.finish(
                        scope,
                        &function,
                        request_id,
                        outcome::invalid_entrypoint,
                        request.tail_log,
                    ));
                }
                Err(e) => return Err(e),
            },
        };
        let cold = !env.initialized;
        // The function's own spans hang under the runtime span: its id is the `Parent` the
        // function sees in `_X_AMZN_TRACE_ID` before the span itself is built.
        let runtime_trace = trace.map(|invoke| TraceContext {
            trace_id: invoke.trace_id,
            span_id: new_span_id(),
        });
        let event = Event {
            request_id: &request_id,
            payload,
            invoked_function_arn: request.function.arn(),
            client_context: request.client_context,
            lineage: request.lineage,
            trace: runtime_trace,
        };
        let delivered = deliver(&mut env, &function, event, self.config.init_timeout).await;
        let healthy = delivered.outcome.healthy();
        if !healthy {
            // Kill now: a timed-out handler must not run on, and its last output is still drained below.
            env.kill();
        }
        let init_duration = (cold && delivered.delivered_at.is_some())
            .then(|| delivered.delivered_at.unwrap_or(env.started) - env.started);
        // The invocation is over when every extension has asked for its next event too; the
        // time after the runtime's answer is their overhead, counted in `Duration` as on Lambda.
        let extensions = env.api.state.extensions.clone();
        let overhead = if healthy && extensions.active() {
            let since = Instant::now();
            let deadline = delivered.delivered_at.unwrap_or(env.started)
                + Duration::from_secs(u64::from(function.timeout_seconds));
            extensions.wait_idle(deadline.max(since)).await;
            since.elapsed()
        } else {
            Duration::ZERO
        };
        let duration =
            delivered.finished_at - delivered.delivered_at.unwrap_or(env.started) + overhead;
        // An environment ended by its memory limit is reported as Lambda does (Runtime.OutOfMemory).
        let out_of_memory =
            matches!(delivered.outcome, outcome::Outcome::Exited(_)) && env.out_of_memory().await;
        let answer = outcome::interpret(delivered.outcome, out_of_memory, &request_id, &function);
        if let (Some(invoke), Some(runtime)) = (trace, runtime_trace) {
            self.trace_run(
                invoke,
                runtime,
                &function,
                &request_id,
                (delivered.delivered_at, delivered.finished_at),
                cold.then_some(env.started),
                answer.function_error,
            );
        }

        let mut lines = env.logs.drain().await;
        let max_memory_used_mb = env.max_memory_used_mb();
        if extensions.active() {
            for (_, line) in &lines {
                extensions.emit("function", serde_json::Value::from(line.as_str()));
            }
            let mut metrics = serde_json::json!({
                "durationMs": duration.as_secs_f64() * 1000.0,
                "billedDurationMs": crate::logs::billed_ms(duration) as u64,
                "memorySizeMB": function.memory_mb,
                "maxMemoryUsedMB": max_memory_used_mb,
            });
            if let Some(init) = init_duration {
                metrics["initDurationMs"] = serde_json::json!(init.as_secs_f64() * 1000.0);
            }
            extensions.emit(
                "platform.report",
                serde_json::json!({
                    "requestId": request_id,
                    "status": if answer.function_error { "error" } else { "success" },
                    "metrics": metrics,
                }),
            );
        }
        let report = Report {
            duration,
            memory_mb: function.memory_mb,
            max_memory_used_mb,
            init_duration,
        };
        self.meter(
            scope,
            &function,
            report.duration,
            answer.function_error,
            cold,
        );
        if !healthy {
            // The process is being replaced: make sure it is gone before we report.
            drop(env);
            let framing = Framing {
                scope,
                function: &function,
                request_id: &request_id,
                stream: None,
                platform_line: answer.platform_line,
                report,
                note: None,
            };
            let tail = framing.ship(&mut lines, &self.logs);
            return Ok(self.result(
                request_id,
                &function,
                answer.function_error,
                answer.body,
                request.tail_log.then_some(tail),
            ));
        }
        let note = env.substitution.take().filter(|note| {
            self.substitutions_said
                .lock()
                .insert(format!("{}|{note}", function.name))
        });
        let framing = Framing {
            scope,
            function: &function,
            request_id: &request_id,
            stream: Some(&env.stream),
            platform_line: answer.platform_line,
            report,
            note,
        };
        let tail = framing.ship(&mut lines, &self.logs);
        env.mark_initialized();
        if self
            .registry
            .is_live(scope, &function.name, &function.version, &env.revision_id)
        {
            self.pool.put(env);
        }
        Ok(self.result(
            request_id,
            &function,
            answer.function_error,
            answer.body,
            request.tail_log.then_some(tail),
        ))
    }

    /// Records the run's span (the runtime had the event until it answered) and, for a cold
    /// start, the init span before it.
    #[allow(clippy::too_many_arguments)]
    fn trace_run(
        &self,
        invoke: TraceContext,
        runtime: TraceContext,
        function: &FunctionSnapshot,
        request_id: &str,
        (delivered_at, finished_at): (Option<std::time::Instant>, std::time::Instant),
        cold_started: Option<std::time::Instant>,
        function_error: bool,
    ) {
        let tracer = &self.config.tracer;
        let ran_from = delivered_at.or(cold_started);
        if let Some(started) = cold_started {
            let mut init = Span::start(
                format!("Init {}", function.name),
                SpanKind::Internal,
                Some(invoke),
            );
            init.start_unix_nanos = unix_nanos_at(started);
            init.end_unix_nanos = unix_nanos_at(delivered_at.unwrap_or(finished_at));
            init.set("faas.name", function.name.to_string());
            if delivered_at.is_none() {
                init.error = Some("the runtime never took the event".into());
            }
            tracer.record(init);
        }
        let mut span = Span::with_id(
            function.name.to_string(),
            SpanKind::Server,
            Some(invoke),
            runtime.span_id,
        );
        span.start_unix_nanos = unix_nanos_at(ran_from.unwrap_or(finished_at));
        span.end_unix_nanos = unix_nanos_at(finished_at);
        span.set("faas.name", function.name.to_string());
        span.set("faas.version", function.version.clone());
        span.set("faas.invocation_id", request_id.to_owned());
        span.set("faas.coldstart", cold_started.is_some());
        span.set("faas.runtime", function.runtime.clone());
        span.set("faas.max_memory", (function.memory_mb as i64) << 20);
        if function_error {
            span.error = Some("function error".into());
        }
        tracer.record(span);
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

    /// Counts one invocation in the metrics and for metering (no I/O: the meter flushes on its
    /// own task).
    fn meter(
        &self,
        scope: &nubo_wire::Scope,
        function: &FunctionSnapshot,
        duration: Duration,
        error: bool,
        cold: bool,
    ) {
        if let Some(metrics) = &self.config.function_metrics {
            metrics.invoked(
                &scope.region,
                &function.name,
                &function.version,
                nubo_observe::InvocationOutcome {
                    duration_seconds: duration.as_secs_f64(),
                    error,
                    cold,
                },
            );
        }
        if let Some(usage) = &self.config.usage {
            usage.record(nubo_observe::Metered {
                account: &scope.account_id,
                region: &scope.region,
                function: &function.name,
                version: &function.version,
                architecture: function
                    .architectures
                    .first()
                    .map(String::as_str)
                    .unwrap_or("x86_64"),
                memory_mb: function.memory_mb,
                billed_ms: crate::logs::billed_ms(duration) as u64,
                error,
            });
        }
    }

    /// An invocation that ended before any environment ran: logged and answered as Lambda does.
    fn finish(
        &self,
        scope: &nubo_wire::Scope,
        function: &FunctionSnapshot,
        request_id: String,
        answer: fn(&str) -> Interpreted,
        tail: bool,
    ) -> InvokeResult {
        let answer = answer(&request_id);
        let framing = Framing {
            scope,
            function,
            request_id: &request_id,
            stream: None,
            platform_line: answer.platform_line,
            report: Report {
                duration: Duration::ZERO,
                memory_mb: function.memory_mb,
                max_memory_used_mb: 0,
                init_duration: None,
            },
            note: None,
        };
        let log = framing.ship(&mut Vec::new(), &self.logs);
        self.result(
            request_id,
            function,
            answer.function_error,
            answer.body,
            tail.then_some(log),
        )
    }

    /// Starts an environment for `function` of `scope` (its `AWS_REGION`); `initialization_type`
    /// is `on-demand` or `provisioned-concurrency`.
    pub(crate) async fn start_environment(
        &self,
        scope: &Scope,
        function: &FunctionSnapshot,
        initialization_type: &'static str,
    ) -> Result<Environment, InvokeError> {
        let code_dir = self.registry.code().tree(&function.code.sha256_hex);
        let layers: Vec<String> = function
            .layers
            .iter()
            .filter(|l| !l.sha256_hex.is_empty())
            .map(|l| l.sha256_hex.clone())
            .collect();
        // Built once per list of layers (then found on disk): only a cold start looks.
        let opt_dir = self
            .registry
            .code()
            .stack(&layers)
            .await
            .map_err(|e| InvokeError::Sandbox(format!("the function's layers: {e}")))?;
        let ctx = EnvironmentContext {
            catalog: &self.catalog,
            sandbox: self.sandbox.as_ref(),
            code_dir: &code_dir,
            opt_dir: opt_dir.as_deref(),
            scope,
            endpoint_url: &self.config.endpoint_url,
            endpoint: &self.config.environment_endpoint,
            initialization_type,
            credentials: self.config.execution_credentials.as_deref(),
        };
        let mut env = Environment::start(function, &ctx).await?;
        // What extensions print while they handle SHUTDOWN lands in the function's log too.
        let group = nubo_observe::function_log_group(&function.name);
        let group = function.logging.log_group.as_deref().unwrap_or(&group);
        env.shutdown_log = Some((
            self.logs.clone(),
            nubo_observe::scoped_group(&scope.account_id, &scope.region, group),
        ));
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
