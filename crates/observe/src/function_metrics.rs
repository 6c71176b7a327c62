//! Per-function metrics at `/_nubo/metrics`: invocations, function errors, throttles, cold
//! starts and a duration histogram, labelled by region, function and version.
//!
//! Label cardinality is bounded: the first [`MAX_SERIES`] (region, function, version) triples
//! get series of their own, every later one shares the `function="_other"` series. The invoke
//! path finds its series by a hash of borrowed strings under a read lock and bumps atomics; it
//! allocates only the first time a triple is seen.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::RwLock;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Most (region, function, version) series kept apart.
pub const MAX_SERIES: usize = 1000;
/// The function label of the shared overflow series.
pub(crate) const OTHER: &str = "_other";
/// Duration buckets, seconds (Lambda's range: 1 ms to 15 minutes).
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

type Labels = Vec<(String, String)>;

fn histogram() -> Histogram {
    Histogram::new(BUCKETS.iter().copied())
}

/// Minutes of history kept for CloudWatch's `AWS/Lambda` queries (24 hours).
const HISTORY_MINUTES: usize = 1440;
const MINUTE_MS: i64 = 60_000;

/// One minute of one function version, what CloudWatch's `AWS/Lambda` statistics need.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MinuteBucket {
    /// Minute start, epoch milliseconds.
    pub minute_ms: i64,
    /// Invocations.
    pub invocations: u64,
    /// Function errors.
    pub errors: u64,
    /// Throttles.
    pub throttles: u64,
    /// Sum of durations, milliseconds.
    pub duration_sum_ms: f64,
    /// Shortest duration, milliseconds.
    pub duration_min_ms: f64,
    /// Longest duration, milliseconds.
    pub duration_max_ms: f64,
}

/// One series' handles (clones share the family's atomics).
struct Series {
    region: String,
    function: String,
    version: String,
    invocations: Counter,
    errors: Counter,
    throttles: Counter,
    cold_starts: Counter,
    duration: Histogram,
    /// The last day by minute, oldest first (kept in memory only).
    minutes: parking_lot::Mutex<std::collections::VecDeque<MinuteBucket>>,
}

impl Series {
    fn minute(&self, now_ms: i64, change: impl FnOnce(&mut MinuteBucket)) {
        let minute_ms = now_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let mut minutes = self.minutes.lock();
        if minutes.back().is_none_or(|b| b.minute_ms != minute_ms) {
            if minutes.len() == HISTORY_MINUTES {
                minutes.pop_front();
            }
            minutes.push_back(MinuteBucket {
                minute_ms,
                ..MinuteBucket::default()
            });
        }
        if let Some(bucket) = minutes.back_mut() {
            change(bucket);
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The per-function families; made once, registered with [`crate::MetricsRegistry`].
pub struct FunctionMetrics {
    invocations: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    throttles: Family<Labels, Counter>,
    cold_starts: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
    series: RwLock<HashMap<u64, Vec<Arc<Series>>>>,
    count: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for FunctionMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionMetrics").finish_non_exhaustive()
    }
}

/// What one invocation reports.
#[derive(Debug, Clone, Copy)]
pub struct InvocationOutcome {
    /// Wall time of the handler, seconds.
    pub duration_seconds: f64,
    /// It ended in a function error.
    pub error: bool,
    /// It started an environment.
    pub cold: bool,
}

fn fingerprint(region: &str, function: &str, version: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (region, function, version).hash(&mut hasher);
    hasher.finish()
}

impl Default for FunctionMetrics {
    fn default() -> Self {
        Self {
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            cold_starts: Family::default(),
            duration: Family::new_with_constructor(histogram),
            series: RwLock::new(HashMap::new()),
            count: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl FunctionMetrics {
    /// Registers the families into `registry`'s Prometheus registry.
    pub(crate) fn register_into(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "nubo_function_invocations",
            "Invocations per function version",
            self.invocations.clone(),
        );
        registry.register(
            "nubo_function_errors",
            "Invocations that ended in a function error",
            self.errors.clone(),
        );
        registry.register(
            "nubo_function_throttles",
            "Invocations refused for lack of concurrency",
            self.throttles.clone(),
        );
        registry.register(
            "nubo_function_cold_starts",
            "Invocations that started an environment",
            self.cold_starts.clone(),
        );
        registry.register(
            "nubo_function_duration_seconds",
            "Handler duration",
            self.duration.clone(),
        );
    }

    fn series(&self, region: &str, function: &str, version: &str) -> Arc<Series> {
        let key = fingerprint(region, function, version);
        let find = |map: &HashMap<u64, Vec<Arc<Series>>>| {
            map.get(&key).and_then(|bucket| {
                bucket
                    .iter()
                    .find(|s| s.region == region && s.function == function && s.version == version)
                    .cloned()
            })
        };
        if let Some(found) = find(&self.series.read()) {
            return found;
        }
        let mut map = self.series.write();
        if let Some(found) = find(&map) {
            return found;
        }
        let full = self.count.load(std::sync::atomic::Ordering::Relaxed) >= MAX_SERIES;
        let (label_function, label_version) = if full {
            (OTHER, "")
        } else {
            (function, version)
        };
        let labels: Labels = vec![
            ("region".into(), region.to_owned()),
            ("function".into(), label_function.to_owned()),
            ("version".into(), label_version.to_owned()),
        ];
        let series = Arc::new(Series {
            region: region.to_owned(),
            function: function.to_owned(),
            version: version.to_owned(),
            invocations: self.invocations.get_or_create(&labels).clone(),
            errors: self.errors.get_or_create(&labels).clone(),
            throttles: self.throttles.get_or_create(&labels).clone(),
            cold_starts: self.cold_starts.get_or_create(&labels).clone(),
            duration: self.duration.get_or_create(&labels).clone(),
            minutes: parking_lot::Mutex::new(std::collections::VecDeque::new()),
        });
        // Past the bound, new triples still get a map entry (pointing at the shared series) so
        // the next lookup is a read; the map's growth is that of the names invoked, each once.
        if !full {
            self.count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        map.entry(key).or_default().push(series.clone());
        series
    }

    /// Counts one finished invocation.
    pub fn invoked(&self, region: &str, function: &str, version: &str, outcome: InvocationOutcome) {
        let series = self.series(region, function, version);
        series.invocations.inc();
        if outcome.error {
            series.errors.inc();
        }
        if outcome.cold {
            series.cold_starts.inc();
        }
        series.duration.observe(outcome.duration_seconds);
        let ms = outcome.duration_seconds * 1000.0;
        series.minute(now_ms(), |b| {
            if b.invocations == 0 || ms < b.duration_min_ms {
                b.duration_min_ms = ms;
            }
            b.duration_max_ms = b.duration_max_ms.max(ms);
            b.invocations += 1;
            b.errors += u64::from(outcome.error);
            b.duration_sum_ms += ms;
        });
    }

    /// Counts one throttled invocation.
    pub fn throttled(&self, region: &str, function: &str, version: &str) {
        let series = self.series(region, function, version);
        series.throttles.inc();
        series.minute(now_ms(), |b| b.throttles += 1);
    }

    /// The functions of `region` with history. (The series bound limits Prometheus labels only:
    /// minute history is kept for every version invoked, 24 hours at most.)
    pub fn functions(&self, region: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .series
            .read()
            .values()
            .flatten()
            .filter(|s| s.region == region && !s.minutes.lock().is_empty())
            .map(|s| s.function.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Minute buckets of `region` in `[start_ms, end_ms)`, every version of `function` (or of
    /// every function) merged per minute, oldest first.
    pub fn minutes(
        &self,
        region: &str,
        function: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<MinuteBucket> {
        let mut merged: std::collections::BTreeMap<i64, MinuteBucket> = Default::default();
        for series in self.series.read().values().flatten() {
            if series.region != region || function.is_some_and(|f| f != series.function) {
                continue;
            }
            for b in series.minutes.lock().iter() {
                if b.minute_ms < start_ms || b.minute_ms >= end_ms {
                    continue;
                }
                let m = merged.entry(b.minute_ms).or_insert(MinuteBucket {
                    minute_ms: b.minute_ms,
                    duration_min_ms: f64::INFINITY,
                    ..MinuteBucket::default()
                });
                m.invocations += b.invocations;
                m.errors += b.errors;
                m.throttles += b.throttles;
                m.duration_sum_ms += b.duration_sum_ms;
                if b.invocations > 0 {
                    m.duration_min_ms = m.duration_min_ms.min(b.duration_min_ms);
                    m.duration_max_ms = m.duration_max_ms.max(b.duration_max_ms);
                }
            }
        }
        merged
            .into_values()
            .map(|mut b| {
                if b.invocations == 0 {
                    b.duration_min_ms = 0.0;
                }
                b
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricsRegistry;

    #[test]
    fn series_move_with_traffic_and_overflow_is_shared() {
        let registry = MetricsRegistry::new();
        let metrics = registry.function_metrics();
        let outcome = InvocationOutcome {
            duration_seconds: 0.02,
            error: false,
            cold: true,
        };
        metrics.invoked("us-east-1", "f", "$LATEST", outcome);
        metrics.invoked(
            "us-east-1",
            "f",
            "$LATEST",
            InvocationOutcome {
                error: true,
                cold: false,
                ..outcome
            },
        );
        metrics.throttled("us-east-1", "f", "$LATEST");
        let text = registry.encode();
        let labels = r#"{region="us-east-1",function="f",version="$LATEST"}"#;
        assert!(
            text.contains(&format!("nubo_function_invocations_total{labels} 2")),
            "{text}"
        );
        assert!(text.contains(&format!("nubo_function_errors_total{labels} 1")));
        assert!(text.contains(&format!("nubo_function_throttles_total{labels} 1")));
        assert!(text.contains(&format!("nubo_function_cold_starts_total{labels} 1")));
        assert!(text.contains(r#"nubo_function_duration_seconds_bucket{region="us-east-1",function="f",version="$LATEST",le="0.025"} 2"#), "{text}");

        for i in 0..MAX_SERIES + 5 {
            metrics.invoked("r", &format!("g{i}"), "1", outcome);
        }
        let text = registry.encode();
        assert!(
            text.contains(
                r#"nubo_function_invocations_total{region="r",function="_other",version=""} 6"#
            ),
            "{}",
            &text[..2000.min(text.len())]
        );
    }
}
