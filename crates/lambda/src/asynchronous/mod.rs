//! Asynchronous invocation: events accepted durably, delivered at least once.
//!
//! An `Event` invocation is acknowledged only after its message is committed (fsync'd) in the
//! store's queue (the store group-commits, so a durable accept costs a share of an fsync rather
//! than a whole one; the accept waits on the commit itself, with no writer task in between). Accepted events are also held in memory, ordered by when they
//! are due; the `dispatcher` hands due events to the [`Invoker`] under the same concurrency
//! rules as synchronous calls. Outcomes follow Lambda's rules:
//! - success → removed, and an invocation record sent to the `OnSuccess` destination if any;
//! - function error (timeouts included) → retried `MaximumRetryAttempts` times with backoff, then
//!   the `OnFailure` destination (condition `RetriesExhausted`);
//! - throttles and platform errors → retried, not counted as attempts, until the event is older
//!   than `MaximumEventAgeInSeconds` (then `EventAgeExceeded`).
//!
//! Records go to [`destinations`] chosen by ARN; a record and the removal of its event commit in
//! one transaction. At start every message still in the queue is delivered again (those in flight
//! at a crash included): at least once.

pub mod destinations;
mod dispatcher;
mod queue;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nubo_observe::MetricsRegistry;
use nubo_store::{QueueOp, Queues, StoreError};
use nubo_wire::arn::FunctionRef;
use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};

use crate::control::collections::ASYNC_QUEUE;
use crate::control::lifecycle::pending_conflict;
use crate::control::records::Lifecycle;
use crate::metrics::AsyncMetrics;
use crate::{ControlError, InvokeError, Invoker};
pub use queue::QueuedEvent;
use queue::{enqueue, Queue};

/// Lambda's defaults for asynchronous invocation.
pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 2;
/// Six hours.
pub const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS: u32 = 21_600;
/// End-to-end latencies kept for the quantiles in the metrics.
pub(crate) const LATENCY_SAMPLES: usize = 4096;

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

/// Accepts, stores and delivers asynchronous invocations.
pub struct AsyncInvoker {
    invoker: Arc<Invoker>,
    /// The durable queue; every change is submitted here in the order it happens.
    store: Arc<dyn Queues>,
    queue: Mutex<Queue>,
    wake: Notify,
    in_flight: Arc<Semaphore>,
    config: AsyncConfig,
    metrics: AsyncMetrics,
    /// SQS queues, for destinations and dead-letter queues (set once at start).
    queues: std::sync::OnceLock<Arc<nubo_queues::QueueRegistry>>,
}

pub(crate) fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

impl AsyncInvoker {
    /// Loads the queue from the store, then starts the writer and the dispatcher and registers
    /// the queue's metrics. Every event still queued (in flight at a crash included) is delivered
    /// again. Settings are the registry's ([`crate::control::event_invoke`]).
    pub async fn start(
        invoker: Arc<Invoker>,
        queues: Arc<dyn Queues>,
        metrics: &MetricsRegistry,
        config: AsyncConfig,
    ) -> Result<Arc<Self>, StoreError> {
        let default_scope = invoker.registry().default_scope().clone();
        let mut queue = Queue::default();
        for message in queues.messages(ASYNC_QUEUE).await? {
            let id = message.id.clone();
            match QueuedEvent::from_message(message, &default_scope) {
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

        let this = Arc::new_cyclic(|weak| Self {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            invoker,
            store: queues,
            queue: Mutex::new(queue),
            wake: Notify::new(),
            config,
            metrics: AsyncMetrics::register(metrics, weak),
            queues: std::sync::OnceLock::new(),
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
        lineage: u32,
    ) -> Result<(), InvokeError> {
        let target = self.invoker.registry().resolve(&function)?;
        if target.lifecycle == Lifecycle::Creating {
            return Err(pending_conflict().into());
        }
        let now = now_ms();
        let event = Arc::new(QueuedEvent {
            id: request_id,
            function,
            payload: payload.to_vec(),
            client_context,
            received_ms: now,
            attempts: 0,
            not_before_ms: now,
            lineage,
        });
        // The 202 waits for the fsync that holds the event.
        self.store
            .submit(vec![enqueue(&event)])
            .await
            .map_err(|e| InvokeError::Control(ControlError::Store(e)))?;
        self.metrics.accepted.inc();
        let mut queue = self.queue.lock();
        queue.accepted_at.insert(event.id.clone(), Instant::now());
        queue.schedule(event, 0);
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    /// Lets records and dead-lettered events go to SQS queues.
    pub fn deliver_to_queues(&self, queues: Arc<nubo_queues::QueueRegistry>) {
        let _ = self.queues.set(queues);
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

    /// Hands due events to delivery tasks (at most `max_in_flight` at once), each only once a
    /// concurrency slot is free for its function: an event whose function is at its limit waits
    /// here, without a throttle, until a slot is given back. Sleeps until the next event is due,
    /// a new one arrives or (with events waiting) a slot is freed.
    async fn dispatch(this: std::sync::Weak<Self>) {
        let mut waiting = std::collections::VecDeque::new();
        loop {
            let Some(me) = this.upgrade() else { return };
            let now = now_ms();
            let (due, next) = me.queue.lock().take_due(now);
            waiting.extend(due);
            if !me.hand_over(&mut waiting).await {
                return;
            }
            let wait = next
                .map(|at| Duration::from_millis((at - now).clamp(1, 1000) as u64))
                .unwrap_or(Duration::from_secs(1));
            // Holding `me` through the wait is fine: the next loop's upgrade fails once the
            // invoker is gone.
            let notified = me.wake.notified();
            let freed = async {
                if waiting.is_empty() {
                    std::future::pending::<()>().await;
                }
                me.invoker.slot_freed().await;
            };
            tokio::select! {
                () = notified => {}
                () = freed => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Submits queue operations; once they are committed, the staged SQS messages become
    /// visible.
    fn write_then(&self, ops: Vec<QueueOp>, staged: Vec<nubo_queues::StagedSend>) {
        let commit = self.store.submit(ops);
        tokio::spawn(async move {
            if commit.await.is_ok() {
                for send in staged {
                    send.committed();
                }
            }
        });
    }

    /// Submits queue operations without waiting for the commit (the store logs a failure; a
    /// lost removal means a redelivery after a restart, at least once).
    fn write(&self, ops: Vec<QueueOp>) {
        drop(self.store.submit(ops));
    }
}
