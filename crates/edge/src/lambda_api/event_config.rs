//! `/2019-09-25/functions/{FunctionName}/event-invoke-config`: a function's asynchronous
//! invocation settings (retries, maximum event age, destinations), per qualifier.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_lambda::{EventInvokeConfig, LATEST};
use nubo_wire::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::functions::resolve;
use super::{json_body, max_items};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationInput {
    destination: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationConfigInput {
    on_success: Option<DestinationInput>,
    on_failure: Option<DestinationInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventInvokeConfigInput {
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfigInput>,
}

fn range(value: i64, member: &str, min: i64, max: i64) -> Result<u32, ApiError> {
    if value < min {
        return Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        ))));
    }
    if value > max {
        return Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))));
    }
    Ok(value as u32)
}

/// A destination must be a function ARN: the only kind Nubo can deliver to until queues land.
fn destination(arn: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(arn) = arn.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let service = arn.split(':').nth(2).unwrap_or_default();
    match service {
        "lambda" if arn.split(':').nth(5) == Some("function") => Ok(Some(arn)),
        "sqs" | "sns" | "events" => Err(ApiError(AwsError::invalid_parameter(format!(
            "The destination ARN {arn} is a {service} resource; Nubo delivers to Lambda functions only for now."
        )))),
        _ => Err(ApiError(AwsError::invalid_parameter(format!(
            "The destination ARN {arn} is invalid."
        )))),
    }
}

/// Applies an input onto settings: `Put` starts from nothing, `Update` from what is stored.
fn apply(
    mut config: EventInvokeConfig,
    input: EventInvokeConfigInput,
) -> Result<EventInvokeConfig, ApiError> {
    if let Some(n) = input.maximum_retry_attempts {
        config.maximum_retry_attempts = Some(range(n, "maximumRetryAttempts", 0, 2)?);
    }
    if let Some(n) = input.maximum_event_age_in_seconds {
        config.maximum_event_age_seconds = Some(range(n, "maximumEventAgeInSeconds", 60, 21_600)?);
    }
    if let Some(destinations) = input.destination_config {
        if let Some(d) = destinations.on_success {
            config.on_success = destination(d.destination)?;
        }
        if let Some(d) = destinations.on_failure {
            config.on_failure = destination(d.destination)?;
        }
    }
    Ok(config)
}

fn render(state: &EdgeState, name: &str, qualifier: &str, config: &EventInvokeConfig) -> Value {
    let scope = state.invoker.registry().scope();
    let target = |d: &Option<String>| match d {
        Some(arn) => json!({ "Destination": arn }),
        None => json!({}),
    };
    let mut body = json!({
        "LastModified": config.last_modified,
        "FunctionArn": nubo_wire::arn::qualified_function_arn(scope, name, qualifier),
        "DestinationConfig": {
            "OnSuccess": target(&config.on_success),
            "OnFailure": target(&config.on_failure),
        },
    });
    if let Some(n) = config.maximum_retry_attempts {
        body["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = config.maximum_event_age_seconds {
        body["MaximumEventAgeInSeconds"] = json!(n);
    }
    body
}

/// The function (which must exist) and the qualifier the settings are kept under.
fn target(state: &EdgeState, function: &str, query: &Query) -> Result<(String, String), ApiError> {
    let (reference, snapshot) = resolve(state, function, query)?;
    let qualifier = reference.qualifier.unwrap_or_else(|| LATEST.to_owned());
    Ok((snapshot.name.clone(), qualifier))
}

fn not_configured(state: &EdgeState, name: &str, qualifier: &str) -> ApiError {
    let arn =
        nubo_wire::arn::qualified_function_arn(state.invoker.registry().scope(), name, qualifier);
    ApiError(AwsError::resource_not_found(format!(
        "The function {arn} doesn't have an EventInvokeConfig"
    )))
}

/// `PUT`: replaces the settings.
pub(crate) async fn put(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (name, qualifier) = target(&state, &function, &query)?;
    let input = json_body(req.into_body(), "PutFunctionEventInvokeConfig").await?;
    let config = apply(EventInvokeConfig::default(), input)?;
    let stored = state
        .async_invoker
        .put_event_invoke_config(&name, &qualifier, config)
        .await?;
    Ok(json(
        StatusCode::OK,
        &render(&state, &name, &qualifier, &stored),
    ))
}

/// `POST`: changes the given fields, keeping the others.
pub(crate) async fn update(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (name, qualifier) = target(&state, &function, &query)?;
    let input = json_body(req.into_body(), "UpdateFunctionEventInvokeConfig").await?;
    let current = state
        .async_invoker
        .event_invoke_config(&name, &qualifier)
        .unwrap_or_default();
    let config = apply(current, input)?;
    let stored = state
        .async_invoker
        .put_event_invoke_config(&name, &qualifier, config)
        .await?;
    Ok(json(
        StatusCode::OK,
        &render(&state, &name, &qualifier, &stored),
    ))
}

/// `GET`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (name, qualifier) = target(&state, &function, &query)?;
    let config = state
        .async_invoker
        .event_invoke_config(&name, &qualifier)
        .ok_or_else(|| not_configured(&state, &name, &qualifier))?;
    Ok(json(
        StatusCode::OK,
        &render(&state, &name, &qualifier, &config),
    ))
}

/// `DELETE` → 204.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (name, qualifier) = target(&state, &function, &query)?;
    if !state
        .async_invoker
        .delete_event_invoke_config(&name, &qualifier)
        .await?
    {
        return Err(not_configured(&state, &name, &qualifier));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET …/event-invoke-config/list` with `Marker` / `MaxItems` (1–50).
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let registry = state.invoker.registry();
    let reference = nubo_wire::arn::FunctionRef::parse(&function, registry.scope())?;
    let snapshot = registry.resolve(&reference.name, None)?;
    let max_items = max_items(&query, 50, 50)?;
    let marker = query.get("Marker").filter(|m| !m.is_empty());
    let all = state.async_invoker.event_invoke_configs(&snapshot.name);
    let mut page = all
        .iter()
        .filter(|(q, _)| marker.is_none_or(|m| q.as_str() > m));
    let configs: Vec<Value> = page
        .by_ref()
        .take(max_items)
        .map(|(q, c)| render(&state, &snapshot.name, q, c))
        .collect();
    let mut body = json!({ "FunctionEventInvokeConfigs": configs });
    if page.next().is_some() {
        if let Some(last) = all
            .iter()
            .filter(|(q, _)| marker.is_none_or(|m| q.as_str() > m))
            .nth(max_items - 1)
        {
            body["NextMarker"] = json!(last.0);
        }
    }
    Ok(json(StatusCode::OK, &body))
}
