//! CloudWatch's `AWS/ApiGateway` namespace over the gateway's per-stage minute history
//! (`nubo_observe::ApiMetrics`): `Count`, `4XXError`, `5XXError` (counts; an error metric's
//! Average is its rate, as in CloudWatch), `Latency` and `IntegrationLatency` (milliseconds), by
//! `ApiId` (HTTP APIs) or `ApiName` (REST APIs) with or without `Stage`, or none (every API).

use nubo_observe::{ApiMetrics, ApiMinute, StageFilter};
use serde_json::{json, Value};

use super::Dimension;

/// The namespace.
pub(super) const NAMESPACE: &str = "AWS/ApiGateway";

const METRICS: &[(&str, &str)] = &[
    ("Count", "Count"),
    ("4XXError", "Count"),
    ("5XXError", "Count"),
    ("Latency", "Milliseconds"),
    ("IntegrationLatency", "Milliseconds"),
];

/// The unit of a metric this namespace has.
pub(super) fn unit(metric: &str) -> Option<&'static str> {
    METRICS.iter().find(|(m, _)| *m == metric).map(|(_, u)| *u)
}

/// The stages a query's dimensions select; `None` when a dimension is not one of ours (no data).
pub(super) fn filter(dimensions: &[Dimension]) -> Option<StageFilter<'_>> {
    let mut filter = StageFilter::default();
    for d in dimensions {
        let value = d.value.as_deref();
        match d.name.as_str() {
            "ApiId" => filter.api_id = value,
            "ApiName" => filter.api_name = value,
            "Stage" => filter.stage = value,
            _ => return None,
        }
    }
    Some(filter)
}

/// One statistic of `metric` over the minutes of one period.
pub(super) fn statistic(metric: &str, stat: &str, minutes: &[ApiMinute]) -> Option<f64> {
    let mut total = ApiMinute::default();
    let (mut min, mut max) = (f64::INFINITY, 0.0f64);
    for m in minutes {
        total.count += m.count;
        total.client_errors += m.client_errors;
        total.server_errors += m.server_errors;
        total.latency_sum_ms += m.latency_sum_ms;
        total.integrations += m.integrations;
        total.integration_sum_ms += m.integration_sum_ms;
        match metric {
            "Latency" if m.count > 0 => {
                min = min.min(m.latency_min_ms);
                max = max.max(m.latency_max_ms);
            }
            "IntegrationLatency" if m.integrations > 0 => {
                min = min.min(m.integration_min_ms);
                max = max.max(m.integration_max_ms);
            }
            _ => {}
        }
    }
    // Count metrics: one sample per request, valued 1 (Count) or 1/0 (an error or not).
    let (samples, sum) = match metric {
        "Count" => (total.count, total.count as f64),
        "4XXError" => (total.count, total.client_errors as f64),
        "5XXError" => (total.count, total.server_errors as f64),
        "Latency" => (total.count, total.latency_sum_ms),
        _ => (total.integrations, total.integration_sum_ms),
    };
    if samples == 0 {
        return None;
    }
    if !matches!(metric, "Latency" | "IntegrationLatency") {
        let errors = sum as u64;
        min = if metric == "Count" || errors == samples {
            1.0
        } else {
            0.0
        };
        max = if metric == "Count" || errors > 0 {
            1.0
        } else {
            0.0
        };
    }
    Some(match stat {
        "SampleCount" => samples as f64,
        "Sum" => sum,
        "Minimum" => min,
        "Maximum" => max,
        _ => sum / samples as f64,
    })
}

/// `(period start ms, minutes)` for every period with data.
pub(super) fn periods(
    metrics: &ApiMetrics,
    region: &str,
    filter: StageFilter<'_>,
    (start_ms, end_ms, period_ms): (i64, i64, i64),
) -> Vec<(i64, Vec<ApiMinute>)> {
    let mut out: Vec<(i64, Vec<ApiMinute>)> = Vec::new();
    for minute in metrics.minutes(region, filter, start_ms, end_ms) {
        let at = start_ms + (minute.minute_ms - start_ms).div_euclid(period_ms) * period_ms;
        match out.last_mut() {
            Some((last, group)) if *last == at => group.push(minute),
            _ => out.push((at, vec![minute])),
        }
    }
    out
}

/// ListMetrics' entries: each stage's metrics by `ApiId` and `Stage` (HTTP APIs' dimensions)
/// and by `ApiName` and `Stage` (REST APIs').
pub(super) fn list(
    metrics: &ApiMetrics,
    region: &str,
    metric_name: Option<&str>,
    dimensions: &[Dimension],
) -> Vec<Value> {
    let Some(wanted) = filter(dimensions) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stage in metrics.stages(region) {
        if wanted.api_id.is_some_and(|v| v != stage.api_id)
            || wanted.api_name.is_some_and(|v| v != stage.api_name)
            || wanted.stage.is_some_and(|v| v != stage.stage)
        {
            continue;
        }
        for (name, _) in METRICS {
            if metric_name.is_some_and(|m| m != *name) {
                continue;
            }
            for (key, value) in [("ApiId", &stage.api_id), ("ApiName", &stage.api_name)] {
                if key == "ApiId" && wanted.api_name.is_some()
                    || key == "ApiName" && wanted.api_id.is_some()
                {
                    continue;
                }
                out.push(json!({
                    "Namespace": NAMESPACE,
                    "MetricName": name,
                    "Dimensions": [
                        { "Name": key, "Value": value },
                        { "Name": "Stage", "Value": stage.stage },
                    ],
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(count: u64, e4: u64, e5: u64, latency: f64) -> ApiMinute {
        ApiMinute {
            minute_ms: 0,
            count,
            client_errors: e4,
            server_errors: e5,
            latency_sum_ms: latency * count as f64,
            latency_min_ms: latency,
            latency_max_ms: latency,
            integrations: count,
            integration_sum_ms: latency / 2.0 * count as f64,
            integration_min_ms: latency / 2.0,
            integration_max_ms: latency / 2.0,
        }
    }

    #[test]
    fn statistics_follow_cloudwatch() {
        let minutes = [minute(3, 1, 0, 10.0), minute(1, 0, 1, 30.0)];
        assert_eq!(statistic("Count", "Sum", &minutes), Some(4.0));
        assert_eq!(statistic("Count", "SampleCount", &minutes), Some(4.0));
        assert_eq!(statistic("4XXError", "Sum", &minutes), Some(1.0));
        assert_eq!(statistic("4XXError", "Average", &minutes), Some(0.25));
        assert_eq!(statistic("5XXError", "Maximum", &minutes), Some(1.0));
        assert_eq!(statistic("Latency", "Average", &minutes), Some(15.0));
        assert_eq!(statistic("Latency", "Minimum", &minutes), Some(10.0));
        assert_eq!(
            statistic("IntegrationLatency", "Maximum", &minutes),
            Some(15.0)
        );
        assert_eq!(statistic("Latency", "Sum", &[]), None);
    }

    #[test]
    fn dimensions() {
        let d = |name: &str, value: &str| Dimension {
            name: name.into(),
            value: Some(value.into()),
        };
        let dims = [d("ApiId", "a1"), d("Stage", "prod")];
        let f = filter(&dims).unwrap();
        assert_eq!((f.api_id, f.stage), (Some("a1"), Some("prod")));
        assert!(filter(&[d("Resource", "/x")]).is_none());
    }
}
