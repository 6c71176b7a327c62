//! `/2021-10-31/functions/{FunctionName}/url[s]`: Function URL configs (Create, Get, Update,
//! Delete, List). The configs live in the gateway (`nubo_gateway::function_url`), which also
//! serves their data plane.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_gateway::function_url::{function_arn, FunctionUrlRecord, UrlInput};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Scope};
use serde_json::{json, Value};

use super::json_body;
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

fn reference(scope: &Scope, function: &str, query: &Query) -> Result<FunctionRef, ApiError> {
    let reference =
        FunctionRef::parse(function, scope)?.with_query_qualifier(query.get("Qualifier"))?;
    if let Some(q) = reference.qualifier.as_deref() {
        // Function URLs point at an alias or `$LATEST`, never at a published version.
        if q.chars().all(|c| c.is_ascii_digit()) {
            return Err(ApiError(AwsError::invalid_parameter(format!(
                "Function URLs cannot point at a version: {q}"
            ))));
        }
    }
    Ok(reference)
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
    RequestScope(scope): RequestScope,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let reference = reference(&scope, &function, &query)?;
    let input: UrlInput = json_body(req.into_body(), "CreateFunctionUrlConfig").await?;
    let record = state
        .gateway
        .urls()
        .create(
            &scope,
            &reference.name,
            reference.qualifier.as_deref(),
            input,
        )
        .await?;
    Ok(json(StatusCode::CREATED, &render(&state, &record, false)))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let reference = reference(&scope, &function, &query)?;
    let record =
        state
            .gateway
            .urls()
            .get(&scope, &reference.name, reference.qualifier.as_deref())?;
    Ok(json(StatusCode::OK, &render(&state, &record, true)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let reference = reference(&scope, &function, &query)?;
    let input: UrlInput = json_body(req.into_body(), "UpdateFunctionUrlConfig").await?;
    let record = state
        .gateway
        .urls()
        .update(
            &scope,
            &reference.name,
            reference.qualifier.as_deref(),
            input,
        )
        .await?;
    Ok(json(StatusCode::OK, &render(&state, &record, true)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let reference = reference(&scope, &function, &query)?;
    state
        .gateway
        .urls()
        .delete(&scope, &reference.name, reference.qualifier.as_deref())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let reference = reference(&scope, &function, &Query::default())?;
    let all = state.gateway.urls().list(&scope, &reference.name)?;
    let max = super::max_items(&query, 50, 50)?;
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
