//! `/2015-03-31/event-source-mappings/`: Create/Get/Update/Delete/ListEventSourceMappings, SQS
//! sources only (the pollers are `nubo_lambda::event_sources`). Shapes are botocore's
//! `EventSourceMappingConfiguration`; Create, Update and Delete answer 202 with the states Lambda
//! reports while it acts (`Creating`, `Updating`, `Deleting`), Get and List the settled ones.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use http::StatusCode;
use nubo_lambda::event_sources::dynamodb::is_stream_arn;
use nubo_lambda::event_sources::record::{check, check_stream, MappingRecord, StreamSource};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_body, page, registry};
use crate::query::Query;
use crate::response::{json, ApiError, ApiResult};
use crate::{EdgeState, RequestScope};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterInput {
    pattern: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterCriteriaInput {
    #[serde(default)]
    filters: Vec<FilterInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScalingConfigInput {
    maximum_concurrency: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MappingInput {
    function_name: Option<String>,
    event_source_arn: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    maximum_batching_window_in_seconds: Option<i64>,
    filter_criteria: Option<FilterCriteriaInput>,
    scaling_config: Option<ScalingConfigInput>,
    function_response_types: Option<Vec<String>>,
    starting_position: Option<String>,
    bisect_batch_on_function_error: Option<bool>,
    maximum_retry_attempts: Option<i64>,
    maximum_record_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfigInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationConfigInput {
    on_failure: Option<DestinationInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationInput {
    destination: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(AwsError::invalid_parameter(message))
}

/// Applies the members an input names onto a record.
fn apply(record: &mut MappingRecord, input: MappingInput) -> Result<(), ApiError> {
    if let Some(stream) = &mut record.stream {
        if let Some(bisect) = input.bisect_batch_on_function_error {
            stream.bisect_on_error = bisect;
        }
        if let Some(n) = input.maximum_retry_attempts {
            stream.maximum_retry_attempts = n;
        }
        if let Some(n) = input.maximum_record_age_in_seconds {
            stream.maximum_record_age = n;
        }
        if let Some(config) = &input.destination_config {
            stream.on_failure = config
                .on_failure
                .as_ref()
                .and_then(|d| d.destination.clone())
                .filter(|d| !d.is_empty());
        }
    } else if input.starting_position.is_some() {
        return Err(invalid(
            "StartingPosition is not valid for SQS event sources.",
        ));
    } else if input.bisect_batch_on_function_error.is_some()
        || input.maximum_retry_attempts.is_some()
        || input.maximum_record_age_in_seconds.is_some()
    {
        return Err(invalid(
            "BisectBatchOnFunctionError, MaximumRetryAttempts and MaximumRecordAgeInSeconds are valid for stream event sources only.",
        ));
    }
    if let Some(enabled) = input.enabled {
        record.enabled = enabled;
    }
    if let Some(n) = input.batch_size {
        record.batch_size = u32::try_from(n).map_err(|_| invalid("BatchSize must be positive."))?;
    }
    if let Some(n) = input.maximum_batching_window_in_seconds {
        record.maximum_batching_window = u32::try_from(n)
            .map_err(|_| invalid("MaximumBatchingWindowInSeconds must be between 0 and 300."))?;
    }
    if let Some(criteria) = input.filter_criteria {
        record.filters = criteria
            .filters
            .into_iter()
            .filter_map(|f| f.pattern)
            .collect();
    }
    if let Some(scaling) = input.scaling_config {
        record.maximum_concurrency = scaling
            .maximum_concurrency
            .map(|n| u32::try_from(n).unwrap_or(0));
    }
    if let Some(types) = input.function_response_types {
        if let Some(bad) = types.iter().find(|t| *t != "ReportBatchItemFailures") {
            return Err(ApiError(AwsError::validation(format!(
                "1 validation error detected: Value '[{bad}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]"
            ))));
        }
        record.report_batch_item_failures = !types.is_empty();
    }
    Ok(())
}

/// The function a mapping names, which must exist.
fn function_of(state: &EdgeState, scope: &Scope, name: &str) -> Result<FunctionRef, ApiError> {
    let function = FunctionRef::parse(name, scope)?;
    registry(state).resolve(&function)?;
    Ok(function)
}

fn render(record: &MappingRecord, state: &str) -> Value {
    let mut body = json!({
        "UUID": record.uuid,
        "BatchSize": record.batch_size,
        "MaximumBatchingWindowInSeconds": record.maximum_batching_window,
        "EventSourceArn": record.event_source_arn,
        "FunctionArn": record.function_arn,
        "LastModified": record.last_modified_ms as f64 / 1000.0,
        "State": state,
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": if record.report_batch_item_failures {
            json!(["ReportBatchItemFailures"])
        } else {
            json!([])
        },
        "EventSourceMappingArn": record.arn(),
    });
    if !record.filters.is_empty() {
        body["FilterCriteria"] = json!({
            "Filters": record.filters.iter().map(|p| json!({ "Pattern": p })).collect::<Vec<_>>()
        });
    }
    if let Some(n) = record.maximum_concurrency {
        body["ScalingConfig"] = json!({ "MaximumConcurrency": n });
    }
    if let Some(stream) = &record.stream {
        body["StartingPosition"] = json!(stream.starting_position);
        body["BisectBatchOnFunctionError"] = json!(stream.bisect_on_error);
        body["MaximumRetryAttempts"] = json!(stream.maximum_retry_attempts);
        body["MaximumRecordAgeInSeconds"] = json!(stream.maximum_record_age);
        body["ParallelizationFactor"] = json!(1);
        body["DestinationConfig"] = match &stream.on_failure {
            Some(arn) => json!({"OnFailure": {"Destination": arn}}),
            None => json!({"OnFailure": {}}),
        };
    }
    body
}

fn settled(record: &MappingRecord) -> &'static str {
    if record.enabled {
        "Enabled"
    } else {
        "Disabled"
    }
}

fn checked(state: &EdgeState, record: &MappingRecord) -> Result<(), ApiError> {
    if record.stream.is_some() {
        check_stream(record)?;
        return Ok(());
    }
    let fifo = state
        .mappings
        .queue_is_fifo(&record.event_source_arn)
        .ok_or_else(|| {
            invalid(format!(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist ({}).",
                record.event_source_arn
            ))
        })?;
    check(record, fifo)?;
    Ok(())
}

/// `POST /2015-03-31/event-source-mappings/`.
pub(crate) async fn create(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    req: Request,
) -> ApiResult {
    let input: MappingInput = json_body(req, "CreateEventSourceMapping").await?;
    let name = input
        .function_name
        .clone()
        .ok_or_else(|| super::required("functionName"))?;
    let source = input.event_source_arn.clone().unwrap_or_default();
    let stream = is_stream_arn(&source);
    if source.split(':').nth(2) != Some("sqs") && !stream {
        return Err(invalid(format!(
            "Unsupported event source type: {source}. Nubo maps SQS queues and DynamoDB streams only."
        )));
    }
    let function = function_of(&state, &scope, &name)?;
    let stream = if stream {
        Some(stream_source(&state, &source, input.starting_position.as_deref()).await?)
    } else {
        None
    };
    let mut record = MappingRecord {
        uuid: uuid::Uuid::new_v4().to_string(),
        account: scope.account_id.clone(),
        region: scope.region.clone(),
        function_arn: function.arn(),
        event_source_arn: source,
        batch_size: if stream.is_some() { 100 } else { 10 },
        maximum_batching_window: 0,
        maximum_concurrency: None,
        report_batch_item_failures: false,
        filters: Vec::new(),
        enabled: true,
        stream,
        last_modified_ms: now_ms(),
    };
    apply(&mut record, input)?;
    checked(&state, &record)?;
    let record = state.mappings.create(record).await?;
    Ok(json(StatusCode::ACCEPTED, &render(&record, "Creating")))
}

/// A stream source's starting point, resolved now: `TRIM_HORIZON` reads every record the
/// stream holds, `LATEST` only those written after this call.
async fn stream_source(
    state: &EdgeState,
    arn: &str,
    starting_position: Option<&str>,
) -> Result<StreamSource, ApiError> {
    let position = starting_position.ok_or_else(|| {
        invalid("StartingPosition is required for DynamoDB stream event sources.")
    })?;
    let tables = state.mappings.tables();
    let table = tables
        .stream_table(arn)
        .map_err(|_| invalid(format!("Stream not found: {arn}")))?;
    let start_after = match position {
        "TRIM_HORIZON" => 0,
        "LATEST" => tables
            .stream_bounds(&table)
            .await
            .map_err(|e| ApiError(AwsError::service(e.to_string())))?
            .map_or(0, |(_, last)| last),
        other => {
            return Err(invalid(format!(
                "Unsupported starting position for DynamoDB streams: {other}"
            )))
        }
    };
    Ok(StreamSource {
        starting_position: position.to_owned(),
        start_after,
        bisect_on_error: false,
        maximum_retry_attempts: -1,
        maximum_record_age: -1,
        on_failure: None,
    })
}

fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

/// `GET /2015-03-31/event-source-mappings/{UUID}`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(uuid): Path<String>,
) -> ApiResult {
    let record = state.mappings.get(&scope, &uuid)?;
    Ok(json(StatusCode::OK, &render(&record, settled(&record))))
}

/// `PUT /2015-03-31/event-source-mappings/{UUID}`.
pub(crate) async fn update(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(uuid): Path<String>,
    req: Request,
) -> ApiResult {
    let input: MappingInput = json_body(req, "UpdateEventSourceMapping").await?;
    if input.starting_position.is_some() {
        return Err(invalid("StartingPosition cannot be changed."));
    }
    if input.event_source_arn.is_some() {
        return Err(invalid("EventSourceArn cannot be changed."));
    }
    let function = match &input.function_name {
        Some(name) => Some(function_of(&state, &scope, name)?),
        None => None,
    };
    let mut staged = (*state.mappings.get(&scope, &uuid)?).clone();
    if let Some(function) = &function {
        staged.function_arn = function.arn();
    }
    apply(&mut staged, input)?;
    checked(&state, &staged)?;
    let record = state
        .mappings
        .update(&scope, &uuid, move |record| {
            *record = staged;
            Ok(())
        })
        .await?;
    Ok(json(StatusCode::ACCEPTED, &render(&record, "Updating")))
}

/// `DELETE /2015-03-31/event-source-mappings/{UUID}`.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(uuid): Path<String>,
) -> ApiResult {
    let record = state.mappings.delete(&scope, &uuid).await?;
    Ok(json(StatusCode::ACCEPTED, &render(&record, "Deleting")))
}

/// `GET /2015-03-31/event-source-mappings/?EventSourceArn=&FunctionName=&Marker=&MaxItems=`.
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    query: Query,
) -> ApiResult {
    let function = match query.get("FunctionName").filter(|f| !f.is_empty()) {
        Some(name) => Some(FunctionRef::parse(name, &scope)?),
        None => None,
    };
    let all = state.mappings.list(
        &scope,
        query.get("EventSourceArn").filter(|s| !s.is_empty()),
        function.as_ref(),
    );
    let (page, next) = page(&all, &query, (100, 10_000), |r| r.uuid.clone())?;
    let mut body = json!({
        "EventSourceMappings": page.iter().map(|r| render(r, settled(r))).collect::<Vec<_>>(),
    });
    if let Some(marker) = next {
        body["NextMarker"] = json!(marker);
    }
    Ok(json(StatusCode::OK, &body))
}
