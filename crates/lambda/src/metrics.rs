//! The invoker's gauges in the metrics registry (the asynchronous queue registers its own in
//! `asynchronous.rs`).

use std::sync::Arc;

use nubo_observe::MetricsRegistry;

use crate::Invoker;

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
