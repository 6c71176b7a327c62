//! The lambda layer's metrics: the invoker's gauges and the asynchronous queue's gauges, counters
//! and end-to-end latency window, registered once at start.

use std::sync::{Arc, Weak};

use nubo_observe::{Counter, MetricsRegistry, SlidingQuantiles};

use crate::asynchronous::LATENCY_SAMPLES;
use crate::{AsyncInvoker, Invoker};

impl Invoker {
    /// Registers `nubo_active_invocations` and `nubo_idle_environments`, read at each scrape.
    pub fn register_metrics(self: &Arc<Self>, metrics: &MetricsRegistry) {
        let weak = Arc::downgrade(self);
        metrics.gauge_fn(
            "nubo_active_invocations",
            "Invocations running now",
            move || weak.upgrade().map_or(0, |i| i.active_invocations() as i64),
        );
        let weak = Arc::downgrade(self);
        metrics.gauge_fn(
            "nubo_idle_environments",
            "Warm environments waiting for work",
            move || weak.upgrade().map_or(0, |i| i.idle_environments() as i64),
        );
    }
}

/// The asynchronous queue's counters, registered once at start.
pub(crate) struct AsyncMetrics {
    pub(crate) accepted: Counter,
    pub(crate) succeeded: Counter,
    pub(crate) function_errors: Counter,
    pub(crate) retries: Counter,
    pub(crate) throttled: Counter,
    pub(crate) dropped: Counter,
    pub(crate) age_exceeded: Counter,
    pub(crate) destination_records: Counter,
    pub(crate) recursion_stopped: Counter,
    pub(crate) end_to_end: SlidingQuantiles,
}

impl AsyncMetrics {
    /// Registers the queue's metrics; the two gauges read the queue through `this`.
    pub(crate) fn register(registry: &MetricsRegistry, this: &Weak<AsyncInvoker>) -> Self {
        let weak = this.clone();
        registry.gauge_fn(
            "nubo_async_queue_depth",
            "Asynchronous events accepted and not yet done with",
            move || weak.upgrade().map_or(0, |a| a.depth() as i64),
        );
        let weak = this.clone();
        registry.gauge_fn_f64(
            "nubo_async_oldest_event_age_seconds",
            "Age of the oldest queued event",
            move || weak.upgrade().map_or(0.0, |a| a.oldest_age_seconds()),
        );
        let counter = |name: &str, help: &str| registry.counter(name, help);
        Self {
            accepted: counter(
                "nubo_async_events_accepted_total",
                "Events acknowledged with 202",
            ),
            succeeded: counter(
                "nubo_async_events_succeeded_total",
                "Events whose invocation succeeded",
            ),
            function_errors: counter(
                "nubo_async_function_errors_total",
                "Attempts that ended in a function error",
            ),
            retries: counter(
                "nubo_async_retries_total",
                "Retries scheduled after a function error",
            ),
            throttled: counter(
                "nubo_async_throttled_total",
                "Deliveries deferred by a throttle or platform error",
            ),
            dropped: counter(
                "nubo_async_events_dropped_total",
                "Events given up with no destination to receive them",
            ),
            age_exceeded: counter(
                "nubo_async_event_age_exceeded_total",
                "Events older than their maximum age",
            ),
            destination_records: counter(
                "nubo_async_destination_records_total",
                "Invocation records queued for destinations",
            ),
            recursion_stopped: counter(
                "nubo_async_recursion_stopped_total",
                "Events not run because their chain already held 16 invocations",
            ),
            end_to_end: registry.sliding_quantiles(
                "nubo_async_end_to_end_seconds",
                &format!("Accept to successful completion, over the last {LATENCY_SAMPLES} events"),
                LATENCY_SAMPLES,
                &[0.5, 0.99],
            ),
        }
    }
}
