//! GetAccountSettings, and tags (TagResource, UntagResource, ListTags), in the request's scope.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use http::StatusCode;
use nubo_lambda::control::validate::{self, MAX_ZIP_BYTES};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{Scope, Violation};
use serde_json::json;

use super::shapes::TagInput;
use super::{json_body, registry};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::{EdgeState, RequestScope};

/// The `TaggableResource` pattern, for a resource that is not an ARN at all.
const TAGGABLE_PATTERN: &str = "arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:[a-zA-Z0-9-_]+)";

/// `GET /2016-08-19/account-settings`.
pub(crate) async fn settings(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
) -> ApiResult {
    let registry = registry(&state);
    let (function_count, total_code_size) = registry.usage(&scope);
    let concurrency = state.invoker.account_concurrency();
    Ok(json(
        StatusCode::OK,
        &json!({
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800u64,
                "CodeSizeUnzipped": nubo_store::MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": MAX_ZIP_BYTES,
                "ConcurrentExecutions": concurrency,
                "UnreservedConcurrentExecutions": concurrency.saturating_sub(registry.reserved_total(&scope)),
            },
            "AccountUsage": { "TotalCodeSize": total_code_size, "FunctionCount": function_count },
        }),
    ))
}

/// Tags live on functions; the resource is a function ARN (unqualified) of the request's scope.
fn tagged_function(
    state: &EdgeState,
    scope: &Scope,
    resource: &str,
) -> Result<FunctionRef, ApiError> {
    if !resource.starts_with("arn:") {
        return Err(Violation::pattern(resource, "resource", TAGGABLE_PATTERN).into());
    }
    let function = FunctionRef::parse(resource, scope)?;
    validate::tags(function.qualifier.is_some(), 0)?;
    registry(state).function(&function)?;
    Ok(function)
}

/// `GET /2017-03-31/tags/{ARN}`.
pub(crate) async fn list_tags(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(resource): Path<String>,
) -> ApiResult {
    let function = tagged_function(&state, &scope, &resource)?;
    let snapshot = registry(&state).function(&function)?;
    Ok(json(StatusCode::OK, &json!({ "Tags": snapshot.tags })))
}

/// `POST /2017-03-31/tags/{ARN}` → 204.
pub(crate) async fn tag(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(resource): Path<String>,
    req: Request,
) -> ApiResult {
    let function = tagged_function(&state, &scope, &resource)?;
    let input: TagInput = json_body(req, "TagResource").await?;
    let registry = registry(&state);
    let mut tags = registry.function(&function)?.tags.clone();
    tags.extend(input.tags);
    validate::tags(false, tags.len())?;
    registry.set_tags(&function, tags).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `DELETE /2017-03-31/tags/{ARN}?tagKeys=…` → 204.
pub(crate) async fn untag(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(resource): Path<String>,
    query: Query,
) -> ApiResult {
    let function = tagged_function(&state, &scope, &resource)?;
    let registry = registry(&state);
    let mut tags = registry.function(&function)?.tags.clone();
    for key in query.all("tagKeys") {
        tags.remove(key);
    }
    registry.set_tags(&function, tags).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
