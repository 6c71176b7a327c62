//! `/2019-09-25/functions/{FunctionName}/event-invoke-config`: a function's asynchronous
//! invocation settings (retries, maximum event age, destinations), per qualifier.

use std::sync::Arc;

use axum::extract::{Request, State};
use http::StatusCode;
use nubo_lambda::asynchronous::destinations;
use nubo_lambda::EventInvokeConfig;
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Qualifier, Violation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::reference::{Function, Unqualified};
use super::{json_body, page, registry};
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

/// A destination ARN: the model's pattern, then one Nubo can deliver to.
fn destination(arn: Option<String>, member: &str) -> Result<Option<String>, ApiError> {
    let Some(arn) = arn.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    destinations::check(&arn, member)?;
    Ok(Some(arn))
}

/// Applies an input onto settings: `Put` starts from nothing, `Update` from what is stored.
fn apply(
    mut config: EventInvokeConfig,
    input: EventInvokeConfigInput,
) -> Result<EventInvokeConfig, ApiError> {
    if let Some(n) = input.maximum_retry_attempts {
        config.maximum_retry_attempts =
            Some(Violation::range(n, "maximumRetryAttempts", 0, 2)? as u32);
    }
    if let Some(n) = input.maximum_event_age_in_seconds {
        config.maximum_event_age_seconds =
            Some(Violation::range(n, "maximumEventAgeInSeconds", 60, 21_600)? as u32);
    }
    if let Some(destinations) = input.destination_config {
        if let Some(d) = destinations.on_success {
            config.on_success =
                destination(d.destination, "destinationConfig.onSuccess.destination")?;
        }
        if let Some(d) = destinations.on_failure {
            config.on_failure =
                destination(d.destination, "destinationConfig.onFailure.destination")?;
        }
    }
    Ok(config)
}

fn render(function: &FunctionRef, config: &EventInvokeConfig) -> Value {
    let target = |d: &Option<String>| match d {
        Some(arn) => json!({ "Destination": arn }),
        None => json!({}),
    };
    let mut body = json!({
        "LastModified": config.last_modified,
        "FunctionArn": function.arn(),
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

/// The version or alias the settings are kept under (which must exist): `$LATEST` by default.
fn target(state: &EdgeState, function: FunctionRef) -> Result<FunctionRef, ApiError> {
    registry(state).resolve(&function)?;
    let qualifier = function.qualifier.clone().unwrap_or_else(Qualifier::latest);
    Ok(function.qualified(Some(qualifier)))
}

/// The version or alias whose settings Get and Update read: when there is none (or no function),
/// Lambda answers that it has no settings rather than that it does not exist.
fn configured(state: &EdgeState, function: FunctionRef) -> Result<FunctionRef, ApiError> {
    let qualifier = function.qualifier.clone().unwrap_or_else(Qualifier::latest);
    let qualified = function.qualified(Some(qualifier));
    match registry(state).resolve(&function) {
        Ok(_) => Ok(qualified),
        Err(_) => Err(not_configured(&qualified)),
    }
}

fn not_configured(function: &FunctionRef) -> ApiError {
    ApiError(AwsError::resource_not_found(format!(
        "The function {} doesn't have an EventInvokeConfig",
        function.arn()
    )))
}

/// `PUT`: replaces the settings.
pub(crate) async fn put(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let function = target(&state, function)?;
    let input = json_body(req, "PutFunctionEventInvokeConfig").await?;
    let config = apply(EventInvokeConfig::default(), input)?;
    let stored = registry(&state)
        .put_event_invoke_config(&function, config)
        .await?;
    Ok(json(StatusCode::OK, &render(&function, &stored)))
}

/// `POST`: changes the given fields, keeping the others.
pub(crate) async fn update(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let function = configured(&state, function)?;
    let input = json_body(req, "UpdateFunctionEventInvokeConfig").await?;
    let current = registry(&state)
        .event_invoke_config(&function)
        .map(|c| (*c).clone())
        .ok_or_else(|| not_configured(&function))?;
    let config = apply(current, input)?;
    let stored = registry(&state)
        .put_event_invoke_config(&function, config)
        .await?;
    Ok(json(StatusCode::OK, &render(&function, &stored)))
}

/// `GET`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    let function = configured(&state, function)?;
    let config = registry(&state)
        .event_invoke_config(&function)
        .ok_or_else(|| not_configured(&function))?;
    Ok(json(StatusCode::OK, &render(&function, &config)))
}

/// `DELETE` → 204.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    let function = target(&state, function)?;
    if !registry(&state)
        .delete_event_invoke_config(&function)
        .await?
    {
        return Err(not_configured(&function));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET …/event-invoke-config/list` with `Marker` / `MaxItems` (1–50).
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    query: Query,
) -> ApiResult {
    let all = registry(&state).event_invoke_configs(&function.scope, &function.name);
    let (page, next) = page(&all, &query, (50, 50), |(q, _)| q.clone())?;
    let configs: Vec<Value> = page
        .iter()
        .filter_map(|(q, c)| {
            let qualifier = Qualifier::new(q.as_str()).ok()?;
            Some(render(&function.qualified(Some(qualifier)), c))
        })
        .collect();
    let mut body = json!({ "FunctionEventInvokeConfigs": configs });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json(StatusCode::OK, &body))
}
