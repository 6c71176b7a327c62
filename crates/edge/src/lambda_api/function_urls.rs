//! `/2021-10-31/functions/{FunctionName}/url[s]`: Function URL configs (Create, Get, Update,
//! Delete, List). The configs live in the gateway (`nubo_gateway::function_url`), scoped like the
//! function they point at, and the gateway also serves their data plane.

use std::sync::Arc;

use axum::extract::{Request, State};
use http::StatusCode;
use nubo_gateway::function_url::{function_arn, FunctionUrlRecord, UrlInput};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, QualifierKind};
use serde_json::{json, Value};

use super::reference::{Function, Unqualified};
use super::{json_body, max_items};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

/// Function URLs point at an alias or `$LATEST`, never at a published version.
fn url_target(function: FunctionRef) -> Result<FunctionRef, ApiError> {
    if let Some(q) = &function.qualifier {
        if let QualifierKind::Version(_) = q.kind() {
            return Err(ApiError(AwsError::invalid_parameter(format!(
                "Function URLs cannot point at a version: {q}"
            ))));
        }
    }
    Ok(function)
}

fn render(state: &EdgeState, record: &FunctionUrlRecord, with_modified: bool) -> Value {
    let mut value = json!({
        "FunctionUrl": state.gateway.function_url(&record.scope, &record.url_id),
        "FunctionArn": function_arn(&record.scope, &record.function_name, record.qualifier.as_deref()),
        "AuthType": record.auth_type,
        "CreationTime": record.creation_time,
        "InvokeMode": record.invoke_mode,
    });
    if let Some(cors) = &record.cors {
        value["Cors"] = serde_json::to_value(cors).unwrap_or(Value::Null);
    }
    if with_modified {
        value["LastModifiedTime"] = json!(record.last_modified_time);
    }
    value
}

pub(super) async fn create(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let function = url_target(function)?;
    let input: UrlInput = json_body(req, "CreateFunctionUrlConfig").await?;
    let record = state
        .gateway
        .urls()
        .create(
            &function.scope,
            &function.name,
            function.qualifier.as_deref(),
            input,
        )
        .await?;
    Ok(json(StatusCode::CREATED, &render(&state, &record, false)))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    let function = url_target(function)?;
    let record = state.gateway.urls().get(
        &function.scope,
        &function.name,
        function.qualifier.as_deref(),
    )?;
    Ok(json(StatusCode::OK, &render(&state, &record, true)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let function = url_target(function)?;
    let input: UrlInput = json_body(req, "UpdateFunctionUrlConfig").await?;
    let record = state
        .gateway
        .urls()
        .update(
            &function.scope,
            &function.name,
            function.qualifier.as_deref(),
            input,
        )
        .await?;
    Ok(json(StatusCode::OK, &render(&state, &record, true)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    let function = url_target(function)?;
    state
        .gateway
        .urls()
        .delete(
            &function.scope,
            &function.name,
            function.qualifier.as_deref(),
        )
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    query: Query,
) -> ApiResult {
    let function = url_target(function)?;
    let all = state.gateway.urls().list(&function.scope, &function.name)?;
    let max = max_items(&query, 50, 50)?;
    let start = match query.get("Marker").filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ApiError(AwsError::invalid_parameter(format!("Invalid Marker {m}"))))?,
    };
    let end = start.saturating_add(max).min(all.len());
    let configs: Vec<Value> = all
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|r| render(&state, r, true))
        .collect();
    let mut body = json!({ "FunctionUrlConfigs": configs });
    if end < all.len() {
        body["NextMarker"] = json!(end.to_string());
    }
    Ok(json(StatusCode::OK, &body))
}
