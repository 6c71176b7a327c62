//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency) and provisioned concurrency
//! (Put/Get/Delete/ListProvisionedConcurrencyConfigs).

use std::sync::Arc;

use axum::extract::{Request, State};
use http::StatusCode;
use nubo_lambda::control::concurrency::{Provisioned, ProvisionedStatus};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Violation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::reference::{Function, Unqualified};
use super::{json_body, registry, required};
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

/// `PUT /2017-10-31/functions/{FunctionName}/concurrency`.
pub(crate) async fn put_reserved(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    req: Request,
) -> ApiResult {
    let input: ReservedInput = json_body(req, "PutFunctionConcurrency").await?;
    let n = input
        .reserved_concurrent_executions
        .ok_or_else(|| required("reservedConcurrentExecutions"))?;
    if n < 0 {
        return Err(Violation::min_value(n, "reservedConcurrentExecutions", 0).into());
    }
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    registry(&state)
        .set_reserved_concurrency(&function, Some(n), state.invoker.account_concurrency())
        .await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "ReservedConcurrentExecutions": n }),
    ))
}

/// `GET /2019-09-30/functions/{FunctionName}/concurrency`.
pub(crate) async fn get_reserved(Unqualified(_, latest): Unqualified) -> ApiResult {
    let body = match latest.reserved_concurrency {
        Some(n) => json!({ "ReservedConcurrentExecutions": n }),
        None => json!({}),
    };
    Ok(json(StatusCode::OK, &body))
}

/// `DELETE /2017-10-31/functions/{FunctionName}/concurrency` → 204.
pub(crate) async fn delete_reserved(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
) -> ApiResult {
    registry(&state)
        .set_reserved_concurrency(&function, None, state.invoker.account_concurrency())
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
    if let ProvisionedStatus::Failed(reason) = status {
        body["StatusReason"] = json!(reason);
    }
    body
}

/// A configuration's version or alias: the `Qualifier` is required, and must exist.
fn qualified(state: &EdgeState, function: &FunctionRef) -> Result<(), ApiError> {
    if function.qualifier.is_none() {
        return Err(required("qualifier"));
    }
    registry(state).resolve(function)?;
    Ok(())
}

fn not_configured(function: &FunctionRef) -> ApiError {
    ApiError(AwsError::new(
        "ProvisionedConcurrencyConfigNotFoundException",
        StatusCode::NOT_FOUND,
        format!(
            "No Provisioned Concurrency Config found for this function: {}",
            function.arn()
        ),
    ))
}

/// `PUT /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=` → 202.
pub(crate) async fn put_provisioned(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    qualified(&state, &function)?;
    let input: ProvisionedInput = json_body(req, "PutProvisionedConcurrencyConfig").await?;
    let n = input
        .provisioned_concurrent_executions
        .ok_or_else(|| required("provisionedConcurrentExecutions"))?;
    if n < 1 {
        return Err(Violation::min_value(n, "provisionedConcurrentExecutions", 1).into());
    }
    let provisioned = state
        .invoker
        .put_provisioned(&function, u32::try_from(n).unwrap_or(u32::MAX))
        .await?;
    Ok(json(StatusCode::ACCEPTED, &provisioned_shape(&provisioned)))
}

/// `GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency`: one configuration
/// (`?Qualifier=`), or all of them (`?List=ALL`).
pub(crate) async fn get_provisioned(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    query: Query,
) -> ApiResult {
    if query.get("List") == Some("ALL") {
        registry(&state).function(&function)?;
        let configs: Vec<Value> = state
            .invoker
            .provisioned_of(&function.scope, &function.name)
            .iter()
            .map(|p| {
                let mut item = provisioned_shape(p);
                item["FunctionArn"] = json!(p.function.arn());
                item
            })
            .collect();
        return Ok(json(
            StatusCode::OK,
            &json!({ "ProvisionedConcurrencyConfigs": configs }),
        ));
    }
    qualified(&state, &function)?;
    let provisioned = state
        .invoker
        .provisioned(&function)
        .ok_or_else(|| not_configured(&function))?;
    Ok(json(StatusCode::OK, &provisioned_shape(&provisioned)))
}

/// `DELETE /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=` → 204.
pub(crate) async fn delete_provisioned(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    qualified(&state, &function)?;
    if !state.invoker.delete_provisioned(&function).await? {
        return Err(not_configured(&function));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
