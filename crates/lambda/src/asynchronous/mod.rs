//! Asynchronous invocation: events accepted durably, delivered at least once.
//!
//! An `Event` invocation is acknowledged only after its row is committed (fsync'd) in the store's
//! queue. A single writer thread group-commits: while one transaction syncs, new events gather in
//! its channel and go out together in the next, so a durable accept costs a share of an fsync
//! rather than a whole one. Accepted events are also held in memory, ordered by when they are due;
//! a dispatcher hands due events to the [`Invoker`] under the same concurrency rules as synchronous
//! calls. Outcomes follow Lambda's rules:
//! - success → removed, and an invocation record sent to the `OnSuccess` destination if any;
//! - function error (timeouts included) → retried `MaximumRetryAttempts` times with backoff, then
//!   the `OnFailure` destination (condition `RetriesExhausted`);
//! - throttles and platform errors → retried, not counted as attempts, until the event is older
//!   than `MaximumEventAgeInSeconds` (then `EventAgeExceeded`).
//!
//! A destination record and the removal of its event commit in one transaction. At start every
//! message still in the queue is delivered again (those in flight at a crash included): at least
//! once. The queue is the store's `lambda-async` queue; a message's body is the event's routing
//! header (one JSON line) followed by its payload bytes ([`QueuedEvent::to_message`]).

mod queue;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nubo_observe::MetricsRegistry;
use nubo_store::{Documents, ListQuery, Precondition, QueueOp, Queues, StoreError};
use nubo_wire::arn::FunctionRef;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use crate::control::collections::{self, ASYNC_QUEUE, EVENT_INVOKE_CONFIGS};
use crate::control::records::LATEST;
use crate::metrics::AsyncMetrics;
use crate::{ControlError, InvokeError, InvokeRequest, InvokeResult, Invoker};
pub use queue::QueuedEvent;

/// Lambda's defaults for asynchronous invocation.
pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 2;
/// Six hours.
pub const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS: u32 = 21_600;
/// Most events one commit takes (bounds the latency of a batch).
const MAX_BATCH_OPS: usize = 2048;
/// End-to-end latencies kept for the quantiles in the metrics.
pub(crate) const LATENCY_SAMPLES: usize = 4096;

/// A function's asynchronous-invocation settings for one qualifier (`PutFunctionEventInvokeConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    /// Retries after a function error (0–2); Lambda's default 2 when unset.
    pub maximum_retry_attempts: Option<u32>,
    /// Oldest an event may get before it is given up (60–21600 s); 6 h when unset.
    pub maximum_event_age_seconds: Option<u32>,
    /// Destination ARN for successful invocations.
    pub on_success: Option<String>,
    /// Destination ARN for failed ones.
    pub on_failure: Option<String>,
    /// Epoch seconds of the last change.
    pub last_modified: f64,
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    /// Delay before the first retry after a function error; doubled for each further one.
    /// Lambda waits about a minute, then two.
    pub retry_delay: Duration,
    /// First delay after a throttle or platform error; doubled up to `max_throttle_delay`.
    pub throttle_delay: Duration,
    /// Cap for throttle backoff.
    pub max_throttle_delay: Duration,
    /// Events delivered at once (the invoker's concurrency rules still apply).
    pub max_in_flight: usize,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            retry_delay: Duration::from_secs(60),
            throttle_delay: Duration::from_millis(100),
            max_throttle_delay: Duration::from_secs(60),
            max_in_flight: 1000,
        }
    }
}

fn enqueue(event: &QueuedEvent) -> QueueOp {
    QueueOp::Enqueue {
        queue: ASYNC_QUEUE.into(),
        message: event.to_message(),
    }
}

struct Batch {
    ops: Vec<QueueOp>,
    ack: Option<oneshot::Sender<Result<(), String>>>,
}

/// Queue state in memory: every accepted, undelivered event and when it is next due.
#[derive(Default)]
struct Queue {
    events: HashMap<String, Pending>,
    /// When events accepted by this process were acknowledged (precise end-to-end latency).
    accepted_at: HashMap<String, Instant>,
    due: BinaryHeap<Reverse<(i64, u64, String)>>,
    seq: u64,
}

struct Pending {
    event: Arc<QueuedEvent>,
    throttles: u32,
}

impl Queue {
    fn schedule(&mut self, event: Arc<QueuedEvent>, throttles: u32) {
        self.seq += 1;
        self.due
            .push(Reverse((event.not_before_ms, self.seq, event.id.clone())));
        self.events
            .insert(event.id.clone(), Pending { event, throttles });
    }
}

/// Accepts, stores and delivers asynchronous invocations.
pub struct AsyncInvoker {
    invoker: Arc<Invoker>,
    documents: Arc<dyn Documents>,
    writer: mpsc::UnboundedSender<Batch>,
    queue: Mutex<Queue>,
    wake: Notify,
    in_flight: Arc<Semaphore>,
    configs: RwLock<HashMap<(String, String), EventInvokeConfig>>,
    config: AsyncConfig,
    metrics: AsyncMetrics,
}

fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

impl AsyncInvoker {
    /// Loads settings and the queue from the store, then starts the writer and the dispatcher
    /// and registers the queue's metrics. Every event still queued (in flight at a crash
    /// included) is delivered again.
    pub async fn start(
        invoker: Arc<Invoker>,
        documents: Arc<dyn Documents>,
        queues: Arc<dyn Queues>,
        metrics: &MetricsRegistry,
        config: AsyncConfig,
    ) -> Result<Arc<Self>, StoreError> {
        let mut configs = HashMap::new();
        for stored in documents
            .list(EVENT_INVOKE_CONFIGS, ListQuery::all())
            .await?
        {
            let parsed = collections::split(&stored.key)
                .ok_or_else(|| "malformed key".to_owned())
                .and_then(|(name, qualifier)| {
                    serde_json::from_str(&stored.body)
                        .map(|c| ((name.to_owned(), qualifier.to_owned()), c))
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok((key, c)) => {
                    configs.insert(key, c);
                }
                Err(e) => {
                    tracing::error!(key = %stored.key, error = %e, "skipping an unreadable event invoke config")
                }
            }
        }
        let mut queue = Queue::default();
        for message in queues.messages(ASYNC_QUEUE).await? {
            let id = message.id.clone();
            match QueuedEvent::from_message(message) {
                Some(event) => queue.schedule(Arc::new(event), 0),
                None => tracing::error!(event = %id, "skipping an unreadable queued event"),
            }
        }
        if !queue.events.is_empty() {
            tracing::info!(
                events = queue.events.len(),
                "redelivering queued asynchronous events"
            );
        }

        let (writer, batches) = mpsc::unbounded_channel::<Batch>();
        tokio::spawn(write_batches(queues, batches));

        let this = Arc::new_cyclic(|weak| Self {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            invoker,
            documents,
            writer,
            queue: Mutex::new(queue),
            wake: Notify::new(),
            configs: RwLock::new(configs),
            config,
            metrics: AsyncMetrics::register(metrics, weak),
        });
        let weak = Arc::downgrade(&this);
        this.invoker.registry().on_change(move |name| {
            // A deleted function takes its settings with it (the store already dropped them).
            if let Some(this) = weak.upgrade() {
                if this.invoker.registry().get(name).is_none() {
                    this.configs.write().retain(|(n, _), _| n != name);
                }
            }
        });
        tokio::spawn(Self::dispatch(Arc::downgrade(&this)));
        Ok(this)
    }

    /// Accepts an event: returns once it is durably queued. The request id is the invocation's.
    pub async fn accept(
        &self,
        function: FunctionRef,
        payload: Bytes,
        client_context: Option<String>,
        request_id: String,
    ) -> Result<(), InvokeError> {
        self.invoker
            .registry()
            .resolve(&function.name, function.qualifier.as_deref())?;
        let now = now_ms();
        let event = Arc::new(QueuedEvent {
            id: request_id,
            function_name: function.name,
            qualifier: function.qualifier,
            payload: payload.to_vec(),
            client_context,
            received_ms: now,
            attempts: 0,
            not_before_ms: now,
        });
        let (ack, acked) = oneshot::channel();
        self.writer
            .send(Batch {
                ops: vec![enqueue(&event)],
                ack: Some(ack),
            })
            .map_err(|_| store_failure("the queue writer has stopped"))?;
        match acked.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(store_failure(&e)),
            Err(_) => return Err(store_failure("the queue writer has stopped")),
        }
        self.metrics.accepted.inc();
        let mut queue = self.queue.lock();
        queue.accepted_at.insert(event.id.clone(), Instant::now());
        queue.schedule(event, 0);
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    /// Events accepted and not yet done with.
    pub fn depth(&self) -> usize {
        self.queue.lock().events.len()
    }

    /// How long the oldest queued event has waited, in seconds (0 when none).
    pub(crate) fn oldest_age_seconds(&self) -> f64 {
        let oldest = self
            .queue
            .lock()
            .events
            .values()
            .map(|p| p.event.received_ms)
            .min();
        oldest.map_or(0.0, |t| (now_ms() - t).max(0) as f64 / 1000.0)
    }

    async fn dispatch(this: std::sync::Weak<Self>) {
        loop {
            let Some(me) = this.upgrade() else { return };
            let now = now_ms();
            let mut due = Vec::new();
            let next = {
                let mut queue = me.queue.lock();
                loop {
                    match queue.due.peek() {
                        Some(Reverse((at, _, _))) if *at <= now => {
                            let Reverse((_, _, id)) = queue.due.pop().expect("peeked");
                            if let Some(pending) = queue.events.get(&id) {
                                due.push((pending.event.clone(), pending.throttles));
                            }
                        }
                        Some(Reverse((at, _, _))) => break Some(*at),
                        None => break None,
                    }
                }
            };
            for (event, throttles) in due {
                let permit = me
                    .in_flight
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                let worker = me.clone();
                tokio::spawn(async move {
                    worker.deliver(event, throttles).await;
                    drop(permit);
                });
            }
            let wait = next
                .map(|at| Duration::from_millis((at - now).clamp(1, 1000) as u64))
                .unwrap_or(Duration::from_secs(1));
            // Holding `me` through the wait is fine: the next loop's upgrade fails once the
            // invoker is gone.
            let notified = me.wake.notified();
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn settings(&self, event: &QueuedEvent) -> EventInvokeConfig {
        let qualifier = event.qualifier.as_deref().unwrap_or(LATEST);
        self.configs
            .read()
            .get(&(event.function_name.clone(), qualifier.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    async fn deliver(&self, event: Arc<QueuedEvent>, throttles: u32) {
        let settings = self.settings(&event);
        let max_age_ms = i64::from(
            settings
                .maximum_event_age_seconds
                .unwrap_or(DEFAULT_MAXIMUM_EVENT_AGE_SECONDS),
        ) * 1000;
        if now_ms() - event.received_ms > max_age_ms {
            self.metrics.age_exceeded.inc();
            self.give_up(&event, &settings, "EventAgeExceeded", None);
            return;
        }
        let request = InvokeRequest {
            function: FunctionRef {
                name: event.function_name.clone(),
                qualifier: event.qualifier.clone(),
            },
            payload: Bytes::from(event.payload.clone()),
            client_context: event.client_context.clone(),
            tail_log: false,
            request_id: Some(event.id.clone()),
        };
        match self.invoker.invoke(request).await {
            Ok(result) if !result.function_error => {
                self.metrics.succeeded.inc();
                self.record_latency(&event);
                let record = settings
                    .on_success
                    .as_deref()
                    .map(|d| (d, self.record(&event, "Success", &result)));
                self.finish(&event, record);
            }
            Ok(result) => {
                self.metrics.function_errors.inc();
                let attempts = event.attempts + 1;
                let allowed = settings
                    .maximum_retry_attempts
                    .unwrap_or(DEFAULT_MAXIMUM_RETRY_ATTEMPTS);
                if attempts > allowed {
                    self.give_up(&event, &settings, "RetriesExhausted", Some(&result));
                } else {
                    self.metrics.retries.inc();
                    let delay = self.config.retry_delay * 2u32.pow(attempts - 1);
                    self.retry(&event, attempts, delay, 0, true);
                }
            }
            Err(InvokeError::Control(ControlError::NotFound(_))) => {
                // The function was deleted while its events waited: nothing left to call.
                self.metrics.dropped.inc();
                self.finish(&event, None);
            }
            Err(e) => {
                // Throttles and platform errors: try again later, without counting an attempt.
                self.metrics.throttled.inc();
                tracing::debug!(event = %event.id, error = %e, "asynchronous delivery deferred");
                let delay = (self.config.throttle_delay * 2u32.saturating_pow(throttles.min(16)))
                    .min(self.config.max_throttle_delay);
                self.retry(&event, event.attempts, delay, throttles + 1, false);
            }
        }
    }

    fn record_latency(&self, event: &QueuedEvent) {
        let accepted = self.queue.lock().accepted_at.get(&event.id).copied();
        let seconds = match accepted {
            Some(at) => at.elapsed().as_secs_f64(),
            None => (now_ms() - event.received_ms).max(0) as f64 / 1000.0,
        };
        self.metrics.end_to_end.record(seconds);
    }

    fn retry(
        &self,
        event: &QueuedEvent,
        attempts: u32,
        delay: Duration,
        throttles: u32,
        persist: bool,
    ) {
        let not_before_ms = now_ms() + delay.as_millis() as i64;
        let next = Arc::new(QueuedEvent {
            attempts,
            not_before_ms,
            ..event.clone()
        });
        if persist {
            self.write(vec![QueueOp::Reschedule {
                queue: ASYNC_QUEUE.into(),
                id: event.id.clone(),
                attempts,
                not_before_ms,
            }]);
        }
        self.queue.lock().schedule(next, throttles);
        self.wake.notify_one();
    }

    fn give_up(
        &self,
        event: &QueuedEvent,
        settings: &EventInvokeConfig,
        condition: &str,
        result: Option<&InvokeResult>,
    ) {
        let record = match (&settings.on_failure, result) {
            (Some(destination), Some(result)) => {
                Some((destination.as_str(), self.record(event, condition, result)))
            }
            (Some(destination), None) => Some((
                destination.as_str(),
                self.record_without_response(event, condition),
            )),
            (None, _) => None,
        };
        if record.is_none() {
            self.metrics.dropped.inc();
        }
        self.finish(event, record);
    }

    /// Removes the event and, in the same transaction, queues its destination record.
    fn finish(&self, event: &QueuedEvent, record: Option<(&str, Value)>) {
        let mut ops = vec![QueueOp::Remove {
            queue: ASYNC_QUEUE.into(),
            id: event.id.clone(),
        }];
        let mut follow_up = None;
        if let Some((destination, record)) = record {
            match FunctionRef::parse(destination, self.invoker.registry().scope()) {
                Ok(target) => {
                    let now = now_ms();
                    let next = QueuedEvent {
                        id: nubo_wire::new_request_id(),
                        function_name: target.name,
                        qualifier: target.qualifier,
                        payload: record.to_string().into_bytes(),
                        client_context: None,
                        received_ms: now,
                        attempts: 0,
                        not_before_ms: now,
                    };
                    ops.push(enqueue(&next));
                    follow_up = Some(Arc::new(next));
                    self.metrics.destination_records.inc();
                }
                Err(e) => {
                    tracing::warn!(destination, error = %e.message, "unusable destination; record dropped");
                    self.metrics.dropped.inc();
                }
            }
        }
        self.write(ops);
        let mut queue = self.queue.lock();
        queue.events.remove(&event.id);
        queue.accepted_at.remove(&event.id);
        if let Some(next) = follow_up {
            queue.schedule(next, 0);
            drop(queue);
            self.wake.notify_one();
        }
    }

    fn write(&self, ops: Vec<QueueOp>) {
        if self.writer.send(Batch { ops, ack: None }).is_err() {
            tracing::error!("the queue writer has stopped; a queue change was not persisted");
        }
    }

    fn function_arn(&self, event: &QueuedEvent) -> String {
        nubo_wire::arn::qualified_function_arn(
            self.invoker.registry().scope(),
            &event.function_name,
            event.qualifier.as_deref().unwrap_or(LATEST),
        )
    }

    fn request_payload(event: &QueuedEvent) -> Value {
        serde_json::from_slice(&event.payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&event.payload).into()))
    }

    /// The invocation record a destination receives (`lambda-invoke-api.md`).
    fn record(&self, event: &QueuedEvent, condition: &str, result: &InvokeResult) -> Value {
        let mut response_context = json!({
            "statusCode": 200,
            "executedVersion": result.executed_version,
        });
        if result.function_error {
            response_context["functionError"] = json!("Unhandled");
        }
        let response_payload: Value =
            serde_json::from_slice(&result.payload).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&result.payload).into_owned())
            });
        json!({
            "version": "1.0",
            "timestamp": nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
            "requestContext": {
                "requestId": event.id,
                "functionArn": self.function_arn(event),
                "condition": condition,
                "approximateInvokeCount": event.attempts + 1,
            },
            "requestPayload": Self::request_payload(event),
            "responseContext": response_context,
            "responsePayload": response_payload,
        })
    }

    fn record_without_response(&self, event: &QueuedEvent, condition: &str) -> Value {
        json!({
            "version": "1.0",
            "timestamp": nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
            "requestContext": {
                "requestId": event.id,
                "functionArn": self.function_arn(event),
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": Self::request_payload(event),
        })
    }

    // --- settings (the event-invoke-config API) --------------------------------------------

    /// A function's settings for a qualifier (`$LATEST` when none).
    pub fn event_invoke_config(&self, name: &str, qualifier: &str) -> Option<EventInvokeConfig> {
        self.configs
            .read()
            .get(&(name.to_owned(), qualifier.to_owned()))
            .cloned()
    }

    /// Every qualifier's settings of a function, ordered by qualifier.
    pub fn event_invoke_configs(&self, name: &str) -> Vec<(String, EventInvokeConfig)> {
        let mut all: Vec<_> = self
            .configs
            .read()
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, q), c)| (q.clone(), c.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Stores settings (validated by the caller), persisted before they apply.
    pub async fn put_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
        mut config: EventInvokeConfig,
    ) -> Result<EventInvokeConfig, ControlError> {
        config.last_modified = now_ms() as f64 / 1000.0;
        let document = serde_json::to_string(&config).expect("settings serialize");
        self.documents
            .put(
                EVENT_INVOKE_CONFIGS,
                &collections::key(name, qualifier),
                document,
                Precondition::None,
            )
            .await?;
        self.configs
            .write()
            .insert((name.to_owned(), qualifier.to_owned()), config.clone());
        Ok(config)
    }

    /// Removes settings; false if there were none.
    pub async fn delete_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<bool, ControlError> {
        let existed = self
            .documents
            .delete(
                EVENT_INVOKE_CONFIGS,
                &collections::key(name, qualifier),
                Precondition::None,
            )
            .await?;
        self.configs
            .write()
            .remove(&(name.to_owned(), qualifier.to_owned()));
        Ok(existed)
    }
}

fn store_failure(message: &str) -> InvokeError {
    InvokeError::Control(ControlError::Store(StoreError::Backend(message.to_owned())))
}

/// The writer: takes whatever has gathered, commits it in one transaction, acknowledges. While a
/// commit syncs (on the store's blocking thread), the next batches gather in the channel.
async fn write_batches(queues: Arc<dyn Queues>, mut batches: mpsc::UnboundedReceiver<Batch>) {
    while let Some(first) = batches.recv().await {
        let mut ops = first.ops;
        let mut acks: Vec<_> = first.ack.into_iter().collect();
        while ops.len() < MAX_BATCH_OPS {
            match batches.try_recv() {
                Ok(more) => {
                    ops.extend(more.ops);
                    acks.extend(more.ack);
                }
                Err(_) => break,
            }
        }
        let count = ops.len();
        let result = queues.apply(ops).await.map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, ops = count, "asynchronous queue commit failed");
        }
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
}
