//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency) and provisioned concurrency
//! (Put/Get/Delete/ListProvisionedConcurrencyConfigs).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_lambda::control::concurrency::Provisioned;
use nubo_wire::arn::FunctionRef;
use nubo_wire::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_body, required};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReservedInput {
    reserved_concurrent_executions: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProvisionedInput {
    provisioned_concurrent_executions: Option<i64>,
}

fn unqualified(state: &EdgeState, function: &str) -> Result<String, ApiError> {
    let registry = state.invoker.registry();
    let reference = FunctionRef::parse(function, registry.scope())?;
    Ok(registry.resolve(&reference.name, None)?.name.clone())
}

/// `PUT /2017-10-31/functions/{FunctionName}/concurrency`.
pub(crate) async fn put_reserved(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    req: Request,
) -> ApiResult {
    let name = unqualified(&state, &function)?;
    let input: ReservedInput = json_body(req.into_body(), "PutFunctionConcurrency").await?;
    let n = input
        .reserved_concurrent_executions
        .ok_or_else(|| required("reservedConcurrentExecutions"))?;
    if n < 0 {
        return Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"
        ))));
    }
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    state
        .invoker
        .registry()
        .set_reserved_concurrency(&name, Some(n), state.invoker.account_concurrency())
        .await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "ReservedConcurrentExecutions": n }),
    ))
}

/// `GET /2019-09-30/functions/{FunctionName}/concurrency`.
pub(crate) async fn get_reserved(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
) -> ApiResult {
    let name = unqualified(&state, &function)?;
    let reserved = state
        .invoker
        .registry()
        .get(&name)
        .and_then(|f| f.reserved_concurrency);
    let body = match reserved {
        Some(n) => json!({ "ReservedConcurrentExecutions": n }),
        None => json!({}),
    };
    Ok(json(StatusCode::OK, &body))
}

/// `DELETE /2017-10-31/functions/{FunctionName}/concurrency` → 204.
pub(crate) async fn delete_reserved(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
) -> ApiResult {
    let name = unqualified(&state, &function)?;
    state
        .invoker
        .registry()
        .set_reserved_concurrency(&name, None, state.invoker.account_concurrency())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn provisioned_shape(p: &Provisioned) -> Value {
    let status = p.status();
    let available = p.available().min(p.config.requested as usize);
    let mut body = json!({
        "RequestedProvisionedConcurrentExecutions": p.config.requested,
        "AvailableProvisionedConcurrentExecutions": available,
        "AllocatedProvisionedConcurrentExecutions": available,
        "Status": status.as_str(),
        "LastModified": p.config.last_modified,
    });
    if let nubo_lambda::control::concurrency::ProvisionedStatus::Failed(reason) = status {
        body["StatusReason"] = json!(reason);
    }
    body
}

/// `{FunctionName}` + the required `?Qualifier=`.
fn qualified(
    state: &EdgeState,
    function: &str,
    query: &Query,
) -> Result<(String, String), ApiError> {
    let registry = state.invoker.registry();
    let reference = FunctionRef::parse(function, registry.scope())?
        .with_query_qualifier(query.get("Qualifier"))?;
    let qualifier = reference.qualifier.ok_or_else(|| required("qualifier"))?;
    registry.resolve(&reference.name, Some(&qualifier))?;
    Ok((reference.name, qualifier))
}

fn not_configured(state: &EdgeState, name: &str, qualifier: &str) -> ApiError {
    ApiError(AwsError::new(
        "ProvisionedConcurrencyConfigNotFoundException",
        StatusCode::NOT_FOUND,
        format!(
            "No Provisioned Concurrency Config found for this function: {}",
            nubo_wire::arn::qualified_function_arn(
                state.invoker.registry().scope(),
                name,
                qualifier
            )
        ),
    ))
}

/// `PUT /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=` → 202.
pub(crate) async fn put_provisioned(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (name, qualifier) = qualified(&state, &function, &query)?;
    let input: ProvisionedInput =
        json_body(req.into_body(), "PutProvisionedConcurrencyConfig").await?;
    let n = input
        .provisioned_concurrent_executions
        .ok_or_else(|| required("provisionedConcurrentExecutions"))?;
    if n < 1 {
        return Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))));
    }
    let provisioned = state
        .invoker
        .put_provisioned(&name, &qualifier, u32::try_from(n).unwrap_or(u32::MAX))
        .await?;
    Ok(json(StatusCode::ACCEPTED, &provisioned_shape(&provisioned)))
}

/// `GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency`: one configuration
/// (`?Qualifier=`), or all of them (`?List=ALL`).
pub(crate) async fn get_provisioned(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    if query.get("List") == Some("ALL") {
        let name = unqualified(&state, &function)?;
        let scope = state.invoker.registry().scope();
        let configs: Vec<Value> = state
            .invoker
            .provisioned_of(&name)
            .iter()
            .map(|p| {
                let mut item = provisioned_shape(p);
                item["FunctionArn"] = json!(nubo_wire::arn::qualified_function_arn(
                    scope,
                    &p.function,
                    &p.qualifier
                ));
                item
            })
            .collect();
        return Ok(json(
            StatusCode::OK,
            &json!({ "ProvisionedConcurrencyConfigs": configs }),
        ));
    }
    let (name, qualifier) = qualified(&state, &function, &query)?;
    let provisioned = state
        .invoker
        .provisioned(&name, &qualifier)
        .ok_or_else(|| not_configured(&state, &name, &qualifier))?;
    Ok(json(StatusCode::OK, &provisioned_shape(&provisioned)))
}

/// `DELETE /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=` → 204.
pub(crate) async fn delete_provisioned(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (name, qualifier) = qualified(&state, &function, &query)?;
    if !state.invoker.delete_provisioned(&name, &qualifier).await? {
        return Err(not_configured(&state, &name, &qualifier));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
