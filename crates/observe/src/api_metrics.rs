//! Per-API metrics at `/_nubo/metrics`: requests by status class and latency, labelled by API,
//! stage and route key.
//!
//! Label cardinality is bounded as for functions: the first [`MAX_API_SERIES`] (api, stage,
//! route) triples get series of their own, later ones share `route="_other"` of their API. The
//! request path finds its series by a hash of borrowed strings under a read lock.
//!
//! Each (api, stage) also keeps a day of per-minute buckets in memory (requests, 4xx, 5xx,
//! latency and integration latency sum/min/max) for CloudWatch's `AWS/ApiGateway` namespace
//! (`Count`, `4XXError`, `5XXError`, `Latency`, `IntegrationLatency` by `ApiId` or `ApiName` and
//! `Stage`); not durable, as for functions.

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
    /// The (api, stage) minute history this route's requests count in.
    history: Arc<StageHistory>,
}

/// Minutes of history kept for CloudWatch (24 hours).
const HISTORY_MINUTES: usize = 1440;
const MINUTE_MS: i64 = 60_000;

/// One minute of one API stage: what CloudWatch's `AWS/ApiGateway` statistics need.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ApiMinute {
    /// Minute start, epoch milliseconds.
    pub minute_ms: i64,
    /// Requests answered.
    pub count: u64,
    /// Answered 4xx.
    pub client_errors: u64,
    /// Answered 5xx.
    pub server_errors: u64,
    /// Latency sum, min and max, milliseconds (over `count`).
    pub latency_sum_ms: f64,
    /// Smallest latency.
    pub latency_min_ms: f64,
    /// Largest latency.
    pub latency_max_ms: f64,
    /// Requests that reached an integration.
    pub integrations: u64,
    /// Integration latency sum, min and max, milliseconds (over `integrations`).
    pub integration_sum_ms: f64,
    /// Smallest integration latency.
    pub integration_min_ms: f64,
    /// Largest integration latency.
    pub integration_max_ms: f64,
}

impl ApiMinute {
    fn add(&mut self, other: &ApiMinute) {
        let first = self.count == 0;
        let first_integration = self.integrations == 0;
        self.count += other.count;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.latency_sum_ms += other.latency_sum_ms;
        if other.count > 0 {
            self.latency_min_ms = if first {
                other.latency_min_ms
            } else {
                self.latency_min_ms.min(other.latency_min_ms)
            };
            self.latency_max_ms = self.latency_max_ms.max(other.latency_max_ms);
        }
        self.integrations += other.integrations;
        self.integration_sum_ms += other.integration_sum_ms;
        if other.integrations > 0 {
            self.integration_min_ms = if first_integration {
                other.integration_min_ms
            } else {
                self.integration_min_ms.min(other.integration_min_ms)
            };
            self.integration_max_ms = self.integration_max_ms.max(other.integration_max_ms);
        }
    }
}

/// The identity of one API stage in CloudWatch's dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiStage {
    /// The region the API lives in.
    pub region: String,
    /// `ApiId`.
    pub api_id: String,
    /// `ApiName`.
    pub api_name: String,
    /// `Stage`.
    pub stage: String,
}

struct StageHistory {
    stage: ApiStage,
    minutes: parking_lot::Mutex<std::collections::VecDeque<ApiMinute>>,
}

/// One answered request, as the gateway's `count` phase reports it.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    /// The region the API lives in.
    pub region: &'a str,
    /// The API id.
    pub api: &'a str,
    /// The API's name.
    pub api_name: &'a str,
    /// The stage (`-` when none was selected).
    pub stage: &'a str,
    /// The route key (`-` when none matched).
    pub route: &'a str,
    /// The status answered.
    pub status: u16,
    /// From ingress to the answer.
    pub latency_seconds: f64,
    /// The integration's own time, when one ran.
    pub integration_seconds: Option<f64>,
}

/// Which stages a CloudWatch query selects (`None`: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageFilter<'a> {
    /// `ApiId`.
    pub api_id: Option<&'a str>,
    /// `ApiName`.
    pub api_name: Option<&'a str>,
    /// `Stage`.
    pub stage: Option<&'a str>,
}

/// The per-API families; made once, registered with [`crate::MetricsRegistry`].
pub struct ApiMetrics {
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    series: RwLock<HashMap<u64, Vec<Arc<Series>>>>,
    count: AtomicUsize,
    /// Per (region, api, stage) minute history, shared by that stage's route series.
    stages: RwLock<Vec<Arc<StageHistory>>>,
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
            stages: RwLock::new(Vec::new()),
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

    /// The stage's history, made on first use (bounded like the series: past the bound, new
    /// stages share one `_other` history).
    fn history(&self, region: &str, api: &str, api_name: &str, stage: &str) -> Arc<StageHistory> {
        let mut stages = self.stages.write();
        if let Some(found) = stages
            .iter()
            .find(|h| h.stage.api_id == api && h.stage.stage == stage && h.stage.region == region)
        {
            return found.clone();
        }
        let full = stages.len() >= MAX_API_SERIES;
        if full {
            if let Some(other) = stages.iter().find(|h| h.stage.api_id == "_other") {
                return other.clone();
            }
        }
        let history = Arc::new(StageHistory {
            stage: ApiStage {
                region: region.to_owned(),
                api_id: if full { "_other" } else { api }.to_owned(),
                api_name: if full { "_other" } else { api_name }.to_owned(),
                stage: if full { "_other" } else { stage }.to_owned(),
            },
            minutes: Default::default(),
        });
        stages.push(history.clone());
        history
    }

    fn series(&self, answered: &Answered<'_>) -> Arc<Series> {
        let Answered {
            api, stage, route, ..
        } = *answered;
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
        let history = self.history(answered.region, api, answered.api_name, stage);
        let series = Arc::new(Series {
            history,
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
    pub fn answered(&self, answered: Answered<'_>) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.answered_at(answered, now_ms);
    }

    fn answered_at(&self, answered: Answered<'_>, now_ms: i64) {
        let series = self.series(&answered);
        let class = match answered.status {
            500.. => 2,
            400..=499 => 1,
            _ => 0,
        };
        series.requests[class].inc();
        series.latency.observe(answered.latency_seconds);
        let latency_ms = answered.latency_seconds * 1000.0;
        let mut this = ApiMinute {
            minute_ms: now_ms.div_euclid(MINUTE_MS) * MINUTE_MS,
            count: 1,
            client_errors: (class == 1) as u64,
            server_errors: (class == 2) as u64,
            latency_sum_ms: latency_ms,
            latency_min_ms: latency_ms,
            latency_max_ms: latency_ms,
            ..ApiMinute::default()
        };
        if let Some(seconds) = answered.integration_seconds {
            let ms = seconds * 1000.0;
            this.integrations = 1;
            this.integration_sum_ms = ms;
            this.integration_min_ms = ms;
            this.integration_max_ms = ms;
        }
        let mut minutes = series.history.minutes.lock();
        if minutes.back().is_none_or(|b| b.minute_ms != this.minute_ms) {
            if minutes.len() == HISTORY_MINUTES {
                minutes.pop_front();
            }
            minutes.push_back(ApiMinute {
                minute_ms: this.minute_ms,
                ..ApiMinute::default()
            });
        }
        if let Some(bucket) = minutes.back_mut() {
            bucket.add(&this);
        }
    }

    /// The stages of `region` that answered requests (CloudWatch's ListMetrics).
    pub fn stages(&self, region: &str) -> Vec<ApiStage> {
        self.stages
            .read()
            .iter()
            .filter(|h| h.stage.region == region)
            .map(|h| h.stage.clone())
            .collect()
    }

    /// The minutes in `[start_ms, end_ms)` of the stages `filter` selects in `region`, merged
    /// per minute, oldest first.
    pub fn minutes(
        &self,
        region: &str,
        filter: StageFilter<'_>,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<ApiMinute> {
        let mut merged: std::collections::BTreeMap<i64, ApiMinute> = Default::default();
        for history in self.stages.read().iter() {
            let s = &history.stage;
            if s.region != region
                || filter.api_id.is_some_and(|v| v != s.api_id)
                || filter.api_name.is_some_and(|v| v != s.api_name)
                || filter.stage.is_some_and(|v| v != s.stage)
            {
                continue;
            }
            for minute in history.minutes.lock().iter() {
                if minute.minute_ms < start_ms || minute.minute_ms >= end_ms {
                    continue;
                }
                merged
                    .entry(minute.minute_ms)
                    .or_insert(ApiMinute {
                        minute_ms: minute.minute_ms,
                        ..ApiMinute::default()
                    })
                    .add(minute);
            }
        }
        merged.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricsRegistry;

    #[test]
    fn requests_move_by_status_class() {
        let registry = MetricsRegistry::new();
        let metrics = registry.api_metrics();
        let answered = |status, latency_seconds| Answered {
            region: "us-east-1",
            api: "a1",
            api_name: "shop",
            stage: "prod",
            route: "GET /items",
            status,
            latency_seconds,
            integration_seconds: Some(latency_seconds / 2.0),
        };
        metrics.answered_at(answered(200, 0.003), 60_000);
        metrics.answered_at(answered(404, 0.001), 61_000);
        metrics.answered_at(answered(502, 0.2), 120_000);
        metrics.answered(answered(201, 0.002));
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

        let minutes = metrics.minutes(
            "us-east-1",
            StageFilter {
                api_name: Some("shop"),
                stage: Some("prod"),
                ..StageFilter::default()
            },
            0,
            180_000,
        );
        assert_eq!(minutes.len(), 2);
        assert_eq!(
            (
                minutes[0].count,
                minutes[0].client_errors,
                minutes[0].server_errors
            ),
            (2, 1, 0)
        );
        assert_eq!(minutes[0].latency_min_ms, 1.0);
        assert_eq!(minutes[0].latency_max_ms, 3.0);
        assert_eq!(minutes[0].integration_sum_ms, 2.0);
        assert_eq!((minutes[1].count, minutes[1].server_errors), (1, 1));
        let other_region = metrics.minutes("eu-west-1", StageFilter::default(), 0, 180_000);
        assert!(other_region.is_empty());
        assert_eq!(metrics.stages("us-east-1")[0].api_name, "shop");
    }
}
