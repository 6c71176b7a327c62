//! GetAccountSettings, and tags (TagResource, UntagResource, ListTags).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_wire::arn::FunctionRef;
use nubo_wire::AwsError;
use serde_json::json;

use super::json_body;
use super::shapes::TagInput;
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

/// `GET /2016-08-19/account-settings`.
pub(crate) async fn settings(State(state): State<Arc<EdgeState>>) -> ApiResult {
    let (function_count, total_code_size) = state.invoker.registry().usage();
    let concurrency = state.invoker.account_concurrency();
    Ok(json(
        StatusCode::OK,
        &json!({
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800u64,
                "CodeSizeUnzipped": nubo_store::MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": nubo_lambda::control::validate::MAX_ZIP_BYTES,
                "ConcurrentExecutions": concurrency,
                "UnreservedConcurrentExecutions": concurrency.saturating_sub(state.invoker.registry().reserved_total()),
            },
            "AccountUsage": { "TotalCodeSize": total_code_size, "FunctionCount": function_count },
        }),
    ))
}

/// Tags live on functions; the resource is a function ARN (unqualified).
fn function_of(state: &EdgeState, resource: &str) -> Result<String, ApiError> {
    let registry = state.invoker.registry();
    if !resource.starts_with("arn:") {
        return Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{resource}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:[a-zA-Z0-9-_]+)"
        ))));
    }
    let reference = FunctionRef::parse(resource, registry.scope())?;
    if reference.qualifier.is_some() {
        return Err(ApiError(AwsError::invalid_parameter("Tags are not supported on function versions or aliases; use the unqualified function ARN")));
    }
    registry.resolve(&reference.name, None)?;
    Ok(reference.name)
}

/// `GET /2017-03-31/tags/{ARN}`.
pub(crate) async fn list_tags(
    State(state): State<Arc<EdgeState>>,
    Path(resource): Path<String>,
) -> ApiResult {
    let name = function_of(&state, &resource)?;
    let snapshot = state.invoker.registry().resolve(&name, None)?;
    Ok(json(StatusCode::OK, &json!({ "Tags": snapshot.tags })))
}

/// `POST /2017-03-31/tags/{ARN}` → 204.
pub(crate) async fn tag(
    State(state): State<Arc<EdgeState>>,
    Path(resource): Path<String>,
    req: Request,
) -> ApiResult {
    let name = function_of(&state, &resource)?;
    let input: TagInput = json_body(req.into_body(), "TagResource").await?;
    let registry = state.invoker.registry();
    let mut tags = registry.resolve(&name, None)?.tags.clone();
    tags.extend(input.tags);
    if tags.len() > 50 {
        return Err(ApiError(AwsError::invalid_parameter(
            "A function can have at most 50 tags.",
        )));
    }
    registry.set_tags(&name, tags).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `DELETE /2017-03-31/tags/{ARN}?tagKeys=…` → 204.
pub(crate) async fn untag(
    State(state): State<Arc<EdgeState>>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let name = function_of(&state, &resource)?;
    let query = Query::parse(query.as_deref());
    let registry = state.invoker.registry();
    let mut tags = registry.resolve(&name, None)?.tags.clone();
    for key in query.all("tagKeys") {
        tags.remove(key);
    }
    registry.set_tags(&name, tags).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
