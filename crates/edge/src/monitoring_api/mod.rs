//! CloudWatch metrics (botocore's `monitoring/2010-08-01`, json 1.0 as botocore sends it,
//! `X-Amz-Target: GraniteServiceVersion20100801.*`): ListMetrics, GetMetricStatistics and
//! GetMetricData for the `AWS/Lambda` namespace — `Invocations`, `Errors`, `Throttles` (counts)
//! and `Duration` (milliseconds) — with or without the `FunctionName` dimension, from the
//! per-minute history `nubo_observe::FunctionMetrics` keeps for a day. Periods are whole
//! minutes. `AWS/ApiGateway` (see [`apigateway`]) is kept the same way by the gateway; other
//! namespaces hold no metrics yet.

mod apigateway;

use std::sync::Arc;

use nubo_observe::{ApiMetrics, FunctionMetrics, MinuteBucket};
use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::{AwsError, Protocol};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::monitoring::MonitoringAuthorizer;
use crate::registry::{JsonOperations, OperationContext, Service};
use crate::EdgeState;

/// The json target prefix.
pub(crate) const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// The query protocol's reply namespace (CloudWatch's last query-protocol model).
const QUERY_NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// The operations served, by botocore's name.
pub(crate) const OPERATIONS: &[&str] = &["ListMetrics", "GetMetricStatistics", "GetMetricData"];

const NAMESPACE: &str = "AWS/Lambda";
const METRICS: &[(&str, &str)] = &[
    ("Invocations", "Count"),
    ("Errors", "Count"),
    ("Throttles", "Count"),
    ("Duration", "Milliseconds"),
];

nubo_wire::error_table! {
    /// CloudWatch's codes.
    pub(crate) struct MonitoringErrors {
        invalid_parameter_value => ("InvalidParameterValue", BAD_REQUEST),
        missing_parameter => ("MissingParameter", BAD_REQUEST),
        invalid_parameter_combination => ("InvalidParameterCombination", BAD_REQUEST),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Dimension {
    name: String,
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMetricsInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetStatisticsInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    period: Option<i64>,
    #[serde(default)]
    statistics: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricStatInput {
    metric: MetricInput,
    period: Option<i64>,
    stat: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataQueryInput {
    id: String,
    metric_stat: Option<MetricStatInput>,
    label: Option<String>,
    return_data: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetDataInput {
    #[serde(default)]
    metric_data_queries: Vec<DataQueryInput>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    scan_by: Option<String>,
}

/// The function a query's dimensions name (`None`: every function, no dimension).
fn function_of(dimensions: &[Dimension]) -> Result<Option<&str>, AwsError> {
    match dimensions {
        [] => Ok(None),
        [d] if d.name == "FunctionName" => Ok(d.value.as_deref()),
        _ => Ok(Some("\u{0}none")),
    }
}

fn required<T>(value: Option<T>, member: &str) -> Result<T, AwsError> {
    value.ok_or_else(|| {
        MonitoringErrors::missing_parameter(format!("The parameter {member} is required."))
    })
}

fn period_ms(period: Option<i64>) -> Result<i64, AwsError> {
    let period = required(period, "Period")?;
    if period < 60 || period % 60 != 0 {
        return Err(MonitoringErrors::invalid_parameter_value(
            "The parameter Period must be a multiple of 60 (this server keeps one-minute history).",
        ));
    }
    Ok(period * 1000)
}

/// One statistic of `metric` over buckets merged into one period.
fn statistic(metric: &str, stat: &str, buckets: &[MinuteBucket]) -> Option<f64> {
    let (count, sum, min, max) = match metric {
        "Duration" => {
            let n: u64 = buckets.iter().map(|b| b.invocations).sum();
            if n == 0 {
                return None;
            }
            let sum: f64 = buckets.iter().map(|b| b.duration_sum_ms).sum();
            let min = buckets
                .iter()
                .filter(|b| b.invocations > 0)
                .map(|b| b.duration_min_ms)
                .fold(f64::INFINITY, f64::min);
            let max = buckets
                .iter()
                .map(|b| b.duration_max_ms)
                .fold(0.0, f64::max);
            (n as f64, sum, min, max)
        }
        _ => {
            let value = |b: &MinuteBucket| match metric {
                "Invocations" => b.invocations,
                "Errors" => b.errors,
                _ => b.throttles,
            } as f64;
            let values: Vec<f64> = buckets.iter().map(value).collect();
            if values.is_empty() {
                return None;
            }
            let sum: f64 = values.iter().sum();
            // A count metric's samples are its per-minute values.
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(0.0, f64::max);
            (values.len() as f64, sum, min, max)
        }
    };
    Some(match stat {
        "SampleCount" => count,
        "Sum" => sum,
        "Minimum" => min,
        "Maximum" => max,
        _ => sum / count,
    })
}

const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// `(period start ms, buckets)` for every period with data.
fn periods(
    buckets: Vec<MinuteBucket>,
    start_ms: i64,
    period_ms: i64,
) -> Vec<(i64, Vec<MinuteBucket>)> {
    let mut out: Vec<(i64, Vec<MinuteBucket>)> = Vec::new();
    for bucket in buckets {
        let at = start_ms + (bucket.minute_ms - start_ms).div_euclid(period_ms) * period_ms;
        match out.last_mut() {
            Some((last, group)) if *last == at => group.push(bucket),
            _ => out.push((at, vec![bucket])),
        }
    }
    out
}

/// Where metrics come from: the invoker's per-function history and the gateway's per-stage one.
pub(crate) struct Sources {
    functions: Arc<FunctionMetrics>,
    apis: Option<Arc<ApiMetrics>>,
}

fn check_metric(
    namespace: Option<&str>,
    metric: Option<&str>,
) -> Result<Option<&'static str>, AwsError> {
    let metric = required(metric, "MetricName")?;
    let namespace = required(namespace, "Namespace")?;
    if namespace == apigateway::NAMESPACE {
        return Ok(apigateway::unit(metric));
    }
    if namespace != NAMESPACE {
        return Ok(None);
    }
    Ok(METRICS
        .iter()
        .find(|(m, _)| *m == metric)
        .map(|(_, unit)| *unit))
}

async fn list_metrics(
    sources: &Sources,
    ctx: OperationContext,
    input: ListMetricsInput,
) -> Result<Value, AwsError> {
    let mut out = Vec::new();
    if let Some(apis) = &sources.apis {
        if input
            .namespace
            .as_deref()
            .is_none_or(|n| n == apigateway::NAMESPACE)
        {
            out = apigateway::list(
                apis,
                &ctx.scope.region,
                input.metric_name.as_deref(),
                &input.dimensions,
            );
        }
    }
    if input.namespace.as_deref().is_some_and(|n| n != NAMESPACE) {
        return Ok(json!({ "Metrics": out }));
    }
    let metrics = &sources.functions;
    let wanted = function_of(&input.dimensions)?;
    for function in metrics.functions(&ctx.scope.region) {
        if wanted.is_some_and(|w| w != function) {
            continue;
        }
        for (name, _) in METRICS {
            if input.metric_name.as_deref().is_some_and(|m| m != *name) {
                continue;
            }
            out.push(json!({
                "Namespace": NAMESPACE,
                "MetricName": name,
                "Dimensions": [{ "Name": "FunctionName", "Value": function }],
            }));
        }
    }
    Ok(json!({ "Metrics": out }))
}

fn time_range(start: Option<f64>, end: Option<f64>) -> Result<(i64, i64), AwsError> {
    let start = (required(start, "StartTime")? * 1000.0) as i64;
    let end = (required(end, "EndTime")? * 1000.0) as i64;
    if end <= start {
        return Err(MonitoringErrors::invalid_parameter_value(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    Ok((start, end))
}

async fn get_metric_statistics(
    sources: &Sources,
    ctx: OperationContext,
    input: GetStatisticsInput,
) -> Result<Value, AwsError> {
    let name = input.metric_name.clone().unwrap_or_default();
    let unit = check_metric(input.namespace.as_deref(), input.metric_name.as_deref())?;
    let (start, end) = time_range(input.start_time, input.end_time)?;
    let period = period_ms(input.period)?;
    if input.statistics.is_empty() {
        return Err(MonitoringErrors::missing_parameter(
            "Must specify either Statistics or ExtendedStatistics.",
        ));
    }
    if let Some(bad) = input
        .statistics
        .iter()
        .find(|s| !STATISTICS.contains(&s.as_str()))
    {
        return Err(MonitoringErrors::invalid_parameter_value(format!(
            "The parameter Statistics contains an invalid value: {bad}"
        )));
    }
    let Some(unit) = unit else {
        return Ok(json!({ "Label": name, "Datapoints": [] }));
    };
    if input.namespace.as_deref() == Some(apigateway::NAMESPACE) {
        let (Some(apis), Some(filter)) = (&sources.apis, apigateway::filter(&input.dimensions))
        else {
            return Ok(json!({ "Label": name, "Datapoints": [] }));
        };
        let datapoints: Vec<Value> =
            apigateway::periods(apis, &ctx.scope.region, filter, (start, end, period))
                .into_iter()
                .filter_map(|(at, group)| {
                    let mut point = json!({ "Timestamp": at as f64 / 1000.0, "Unit": unit });
                    for stat in &input.statistics {
                        point[stat.as_str()] = json!(apigateway::statistic(&name, stat, &group)?);
                    }
                    Some(point)
                })
                .collect();
        return Ok(json!({ "Label": name, "Datapoints": datapoints }));
    }
    let metrics = &sources.functions;
    let function = function_of(&input.dimensions)?;
    let buckets = metrics.minutes(&ctx.scope.region, function, start, end);
    let datapoints: Vec<Value> = periods(buckets, start, period)
        .into_iter()
        .filter_map(|(at, group)| {
            let mut point = json!({ "Timestamp": at as f64 / 1000.0, "Unit": unit });
            for stat in &input.statistics {
                point[stat.as_str()] = json!(statistic(&name, stat, &group)?);
            }
            Some(point)
        })
        .collect();
    Ok(json!({ "Label": name, "Datapoints": datapoints }))
}

async fn get_metric_data(
    sources: &Sources,
    ctx: OperationContext,
    input: GetDataInput,
) -> Result<Value, AwsError> {
    let (start, end) = time_range(input.start_time, input.end_time)?;
    if input.metric_data_queries.is_empty() {
        return Err(MonitoringErrors::missing_parameter(
            "The parameter MetricDataQueries is required.",
        ));
    }
    let descending = input.scan_by.as_deref() != Some("TimestampAscending");
    let mut results = Vec::new();
    for query in &input.metric_data_queries {
        let stat = query.metric_stat.as_ref().ok_or_else(|| {
            MonitoringErrors::invalid_parameter_value(
                "Metric math expressions are not supported; give MetricStat.",
            )
        })?;
        let name = stat.metric.metric_name.clone().unwrap_or_default();
        let unit = check_metric(
            stat.metric.namespace.as_deref(),
            stat.metric.metric_name.as_deref(),
        )?;
        let period = period_ms(stat.period)?;
        let which = required(stat.stat.clone(), "Stat")?;
        if !STATISTICS.contains(&which.as_str()) {
            return Err(MonitoringErrors::invalid_parameter_value(format!(
                "The parameter Stat contains an invalid value: {which}"
            )));
        }
        let api_gateway = stat.metric.namespace.as_deref() == Some(apigateway::NAMESPACE);
        let mut points: Vec<(i64, f64)> = match (unit, &sources.apis) {
            (None, _) => Vec::new(),
            (Some(_), Some(apis)) if api_gateway => {
                match apigateway::filter(&stat.metric.dimensions) {
                    None => Vec::new(),
                    Some(filter) => {
                        apigateway::periods(apis, &ctx.scope.region, filter, (start, end, period))
                            .into_iter()
                            .filter_map(|(at, group)| {
                                Some((at, apigateway::statistic(&name, &which, &group)?))
                            })
                            .collect()
                    }
                }
            }
            (Some(_), _) if api_gateway => Vec::new(),
            (Some(_), _) => {
                let metrics = &sources.functions;
                let function = function_of(&stat.metric.dimensions)?;
                periods(
                    metrics.minutes(&ctx.scope.region, function, start, end),
                    start,
                    period,
                )
                .into_iter()
                .filter_map(|(at, group)| Some((at, statistic(&name, &which, &group)?)))
                .collect()
            }
        };
        if descending {
            points.reverse();
        }
        if query.return_data == Some(false) {
            continue;
        }
        results.push(json!({
            "Id": query.id,
            "Label": query.label.clone().unwrap_or(name),
            "Timestamps": points.iter().map(|(t, _)| *t as f64 / 1000.0).collect::<Vec<_>>(),
            "Values": points.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            "StatusCode": "Complete",
        }));
    }
    Ok(json!({ "MetricDataResults": results, "Messages": [] }))
}

macro_rules! operation {
    ($json:ident, $metrics:expr, $name:literal, $handler:path) => {
        let metrics = $metrics.clone();
        $json = $json.operation(
            concat!("GraniteServiceVersion20100801.", $name),
            move |ctx: OperationContext, input| {
                let metrics = metrics.clone();
                async move { $handler(&metrics, ctx, input).await }
            },
        );
    };
}

/// The CloudWatch metrics service (signing name `monitoring`).
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let metrics = Arc::new(Sources {
        functions: state.function_metrics.clone(),
        apis: state.gateway.api_metrics().cloned(),
    });
    let mut json = JsonOperations::new(JsonVersion::V1_0);
    operation!(json, metrics, "ListMetrics", list_metrics);
    operation!(json, metrics, "GetMetricStatistics", get_metric_statistics);
    operation!(json, metrics, "GetMetricData", get_metric_data);
    // Older SDKs send the query protocol: answered with its "no such action" error until a query
    // binding is written (botocore today sends json).
    Service::new("monitoring")
        .json(json)
        .not_served(Protocol::Query {
            xml_namespace: QUERY_NAMESPACE,
        })
        .authorized_by(MonitoringAuthorizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(minute: i64, invocations: u64, sum: f64) -> MinuteBucket {
        MinuteBucket {
            minute_ms: minute * 60_000,
            invocations,
            errors: 0,
            throttles: 0,
            duration_sum_ms: sum,
            duration_min_ms: sum / invocations.max(1) as f64,
            duration_max_ms: sum / invocations.max(1) as f64,
        }
    }

    #[test]
    fn periods_group_minutes_and_statistics_follow_cloudwatch() {
        let buckets = vec![bucket(0, 2, 20.0), bucket(1, 1, 30.0), bucket(5, 4, 8.0)];
        let grouped = periods(buckets, 0, 300_000);
        assert_eq!(grouped.len(), 2);
        assert_eq!(statistic("Invocations", "Sum", &grouped[0].1), Some(3.0));
        assert_eq!(
            statistic("Duration", "Average", &grouped[0].1),
            Some(50.0 / 3.0)
        );
        assert_eq!(statistic("Duration", "Maximum", &grouped[0].1), Some(30.0));
        assert_eq!(statistic("Duration", "Minimum", &grouped[0].1), Some(10.0));
        assert_eq!(
            statistic("Invocations", "SampleCount", &grouped[1].1),
            Some(1.0)
        );
        assert!(period_ms(Some(90)).is_err());
        assert!(period_ms(None).is_err());
    }
}
