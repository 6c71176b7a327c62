//! The metrics registry: `prometheus-client` types, exposed in the Prometheus text format.
//!
//! Components register what they own once, at start: counters they bump on their paths (one
//! relaxed atomic add, as before), gauges read from their state when scraped, and sliding-window
//! quantiles. Metrics are rendered in registration order, so each component's lines stay together.
//! Names are given as they appear on the wire (a counter's name ends in `_total`).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// A monotonically increasing count (`prometheus-client`'s, an atomic `u64`).
pub type Counter = prometheus_client::metrics::counter::Counter;

type Read<T> = Box<dyn Fn() -> T + Send + Sync>;

/// Where one registered metric's value comes from.
enum Source {
    Counter(Counter),
    Gauge(Read<i64>),
    GaugeF64(Read<f64>),
    Quantiles(SlidingQuantiles),
}

/// One registered metric: its wire name (without a counter's `_total`), help and source.
struct Metric {
    name: String,
    help: String,
    source: Source,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metric").field("name", &self.name).finish()
    }
}

/// One gauge line with its HELP and TYPE.
fn gauge<N>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for Metric {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        match &self.source {
            Source::Counter(counter) => counter.encode(encoder.encode_descriptor(
                &self.name,
                &self.help,
                None,
                MetricType::Counter,
            )?),
            Source::Gauge(read) => gauge(&mut encoder, &self.name, &self.help, read()),
            Source::GaugeF64(read) => gauge(&mut encoder, &self.name, &self.help, read()),
            Source::Quantiles(window) => {
                // prometheus-client has no summary type: each quantile is a gauge over the
                // window, and the window's sum and count are gauges beside it (a window forgets,
                // so neither is a counter).
                let (values, sum, count) = window.snapshot();
                {
                    let mut family = encoder.encode_descriptor(
                        &self.name,
                        &self.help,
                        None,
                        MetricType::Gauge,
                    )?;
                    for (quantile, value) in values {
                        let label = [("quantile", quantile.to_string())];
                        ConstGauge::new(value).encode(family.encode_family(&label)?)?;
                    }
                }
                gauge(
                    &mut encoder,
                    &format!("{}_sum", self.name),
                    "Sum of the values in the window.",
                    sum,
                )?;
                gauge(
                    &mut encoder,
                    &format!("{}_count", self.name),
                    "Values in the window.",
                    count as i64,
                )
            }
        }
    }
}

/// Every metric of the process. Made once by the composition root and passed to the components
/// that register into it; never a global.
#[derive(Default)]
pub struct MetricsRegistry {
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

/// Help text ends with one full stop.
fn sentence(help: &str) -> String {
    format!("{}.", help.trim_end_matches('.'))
}

impl MetricsRegistry {
    /// The `Content-Type` of [`Self::encode`]'s output.
    pub const CONTENT_TYPE: &'static str =
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn register(&self, name: &str, help: &str, source: Source) {
        self.registry.lock().register_collector(Box::new(Metric {
            name: name.to_owned(),
            help: sentence(help),
            source,
        }));
    }

    /// Registers a counter named `name` (which must end in `_total`) and returns it.
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let base = name.strip_suffix("_total").unwrap_or_else(|| {
            panic!("counter {name} must end in _total (the name is registered as written)")
        });
        let counter = Counter::default();
        self.register(base, help, Source::Counter(counter.clone()));
        counter
    }

    /// Registers a gauge whose value is read from `read` at each scrape.
    pub fn gauge_fn(&self, name: &str, help: &str, read: impl Fn() -> i64 + Send + Sync + 'static) {
        self.register(name, help, Source::Gauge(Box::new(read)));
    }

    /// Registers a floating-point gauge whose value is read from `read` at each scrape.
    pub fn gauge_fn_f64(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) {
        self.register(name, help, Source::GaugeF64(Box::new(read)));
    }

    /// Registers quantiles (e.g. `[0.5, 0.99]`) over the last `capacity` recorded values,
    /// exposed as `name{quantile="…"}`, `name_sum` and `name_count`.
    pub fn sliding_quantiles(
        &self,
        name: &str,
        help: &str,
        capacity: usize,
        quantiles: &[f64],
    ) -> SlidingQuantiles {
        let window = SlidingQuantiles {
            inner: Arc::new(Window {
                capacity: capacity.max(1),
                quantiles: quantiles.to_vec(),
                values: Mutex::new(VecDeque::with_capacity(capacity.max(1))),
            }),
        };
        self.register(name, help, Source::Quantiles(window.clone()));
        window
    }

    /// Registers the per-function families (see [`crate::FunctionMetrics`]) and returns them.
    pub fn function_metrics(&self) -> Arc<crate::FunctionMetrics> {
        let metrics = Arc::new(crate::FunctionMetrics::default());
        metrics.register_into(&mut self.registry.lock());
        metrics
    }

    /// Registers the per-API families (see [`crate::ApiMetrics`]) and returns them.
    pub fn api_metrics(&self) -> Arc<crate::ApiMetrics> {
        let metrics = Arc::new(crate::ApiMetrics::default());
        metrics.register_into(&mut self.registry.lock());
        metrics
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and our collectors return no errors of their own.
        let _ =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry.lock());
        out
    }
}

struct Window {
    capacity: usize,
    quantiles: Vec<f64>,
    values: Mutex<VecDeque<f64>>,
}

/// The last N values of something (a latency), summarized as quantiles when scraped.
#[derive(Clone)]
pub struct SlidingQuantiles {
    inner: Arc<Window>,
}

impl SlidingQuantiles {
    /// Records a value, forgetting the oldest once the window is full.
    pub fn record(&self, value: f64) {
        let mut values = self.inner.values.lock();
        if values.len() == self.inner.capacity {
            values.pop_front();
        }
        values.push_back(value);
    }

    /// (quantile, value) pairs, the sum and the count of the window (0 for an empty one).
    fn snapshot(&self) -> (Vec<(f64, f64)>, f64, usize) {
        let mut sorted: Vec<f64> = self.inner.values.lock().iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if sorted.is_empty() {
                0.0
            } else {
                sorted[((sorted.len() - 1) as f64 * q).round() as usize]
            }
        };
        let values = self.inner.quantiles.iter().map(|&q| (q, at(q))).collect();
        // Not `sum()`: its empty sum is -0.0.
        (values, sorted.iter().fold(0.0, |a, b| a + b), sorted.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_in_registration_order_with_wire_names() {
        let registry = MetricsRegistry::new();
        registry.gauge_fn("nubo_active_invocations", "Invocations running now", || 3);
        let accepted = registry.counter(
            "nubo_async_events_accepted_total",
            "Events acknowledged with 202.",
        );
        accepted.inc();
        accepted.inc();
        registry.gauge_fn_f64("nubo_async_oldest_event_age_seconds", "Age", || 1.5);
        let latency =
            registry.sliding_quantiles("nubo_async_end_to_end_seconds", "Latency", 2, &[0.5, 0.99]);
        for v in [9.0, 1.0, 3.0] {
            latency.record(v);
        }
        let text = registry.encode();
        let expected = "\
# HELP nubo_active_invocations Invocations running now.
# TYPE nubo_active_invocations gauge
nubo_active_invocations 3
# HELP nubo_async_events_accepted_total Events acknowledged with 202.
# TYPE nubo_async_events_accepted_total counter
nubo_async_events_accepted_total 2
# HELP nubo_async_oldest_event_age_seconds Age.
# TYPE nubo_async_oldest_event_age_seconds gauge
nubo_async_oldest_event_age_seconds 1.5
# HELP nubo_async_end_to_end_seconds Latency.
# TYPE nubo_async_end_to_end_seconds gauge
nubo_async_end_to_end_seconds{quantile=\"0.5\"} 3.0
nubo_async_end_to_end_seconds{quantile=\"0.99\"} 3.0
# HELP nubo_async_end_to_end_seconds_sum Sum of the values in the window.
# TYPE nubo_async_end_to_end_seconds_sum gauge
nubo_async_end_to_end_seconds_sum 4.0
# HELP nubo_async_end_to_end_seconds_count Values in the window.
# TYPE nubo_async_end_to_end_seconds_count gauge
nubo_async_end_to_end_seconds_count 2
";
        assert_eq!(text, expected);
    }

    #[test]
    #[should_panic(expected = "must end in _total")]
    fn counters_are_named_as_exposed() {
        MetricsRegistry::new().counter("nubo_things", "Things");
    }
}
