//! Per-API metrics at `/_nubo/metrics`: requests by status class and latency, labelled by API,
//! stage and route key.
//!
//! Label cardinality is bounded as for functions: the first [`MAX_API_SERIES`] (api, stage,
//! route) triples get series of their own, later ones share `route="_other"` of their API. The
//! request path finds its series by a hash of borrowed strings under a read lock.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Most (api, stage, route) series kept apart.
pub const MAX_API_SERIES: usize = 1000;
/// Latency buckets, seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

type Labels = Vec<(String, String)>;

fn histogram() -> Histogram {
    Histogram::new(BUCKETS.iter().copied())
}

struct Series {
    api: String,
    stage: String,
    route: String,
    /// By status class: 2xx (and 1xx, 3xx), 4xx, 5xx.
    requests: [Counter; 3],
    latency: Histogram,
}

/// The per-API families; made once, registered with [`crate::MetricsRegistry`].
pub struct ApiMetrics {
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    series: RwLock<HashMap<u64, Vec<Arc<Series>>>>,
    count: AtomicUsize,
}

impl std::fmt::Debug for ApiMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiMetrics").finish_non_exhaustive()
    }
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(histogram),
            series: RwLock::new(HashMap::new()),
            count: AtomicUsize::new(0),
        }
    }
}

const CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];

impl ApiMetrics {
    pub(crate) fn register_into(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "nubo_api_requests",
            "HTTP API requests by status class",
            self.requests.clone(),
        );
        registry.register(
            "nubo_api_latency_seconds",
            "HTTP API response latency",
            self.latency.clone(),
        );
    }

    fn series(&self, api: &str, stage: &str, route: &str) -> Arc<Series> {
        let mut hasher = std::hash::DefaultHasher::new();
        (api, stage, route).hash(&mut hasher);
        let key = hasher.finish();
        let find = |map: &HashMap<u64, Vec<Arc<Series>>>| {
            map.get(&key).and_then(|bucket| {
                bucket
                    .iter()
                    .find(|s| s.api == api && s.stage == stage && s.route == route)
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
        let full = self.count.load(Ordering::Relaxed) >= MAX_API_SERIES;
        let label_route = if full { "_other" } else { route };
        let labels = |class: Option<&str>| -> Labels {
            let mut labels = vec![
                ("api".to_owned(), api.to_owned()),
                ("stage".to_owned(), stage.to_owned()),
                ("route".to_owned(), label_route.to_owned()),
            ];
            if let Some(class) = class {
                labels.push(("status".to_owned(), class.to_owned()));
            }
            labels
        };
        let series = Arc::new(Series {
            api: api.to_owned(),
            stage: stage.to_owned(),
            route: route.to_owned(),
            requests: CLASSES
                .map(|class| self.requests.get_or_create(&labels(Some(class))).clone()),
            latency: self.latency.get_or_create(&labels(None)).clone(),
        });
        if !full {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        map.entry(key).or_default().push(series.clone());
        series
    }

    /// Counts one answered request.
    pub fn answered(&self, api: &str, stage: &str, route: &str, status: u16, latency_seconds: f64) {
        let series = self.series(api, stage, route);
        let class = match status {
            500.. => 2,
            400..=499 => 1,
            _ => 0,
        };
        series.requests[class].inc();
        series.latency.observe(latency_seconds);
    }
}

#[cfg(test)]
mod tests {
    use crate::MetricsRegistry;

    #[test]
    fn requests_move_by_status_class() {
        let registry = MetricsRegistry::new();
        let metrics = registry.api_metrics();
        metrics.answered("a1", "prod", "GET /items", 200, 0.003);
        metrics.answered("a1", "prod", "GET /items", 404, 0.001);
        metrics.answered("a1", "prod", "GET /items", 502, 0.2);
        metrics.answered("a1", "prod", "GET /items", 201, 0.002);
        let text = registry.encode();
        let base = r#"api="a1",stage="prod",route="GET /items""#;
        assert!(
            text.contains(&format!(
                "nubo_api_requests_total{{{base},status=\"2xx\"}} 2"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "nubo_api_requests_total{{{base},status=\"4xx\"}} 1"
        )));
        assert!(text.contains(&format!(
            "nubo_api_requests_total{{{base},status=\"5xx\"}} 1"
        )));
        assert!(text.contains(&format!("nubo_api_latency_seconds_count{{{base}}} 4")));
    }
}
