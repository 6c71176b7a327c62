//! GetAccountSettings, and tags (TagResource, UntagResource, ListTags), in the request's scope.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use http::StatusCode;
use nubo_lambda::control::validate::{self, MAX_ZIP_BYTES};
use nubo_wire::arn::{FunctionRef, NameShape, NamedFunction};
use nubo_wire::{Scope, Violation, Violations};
use serde_json::json;

use super::shapes::TagInput;
use super::{json_body, registry};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::{EdgeState, RequestScope};

/// The `TaggableResource` shape's pattern, as AWS prints it.
const TAGGABLE_PATTERN: &str = "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})";
/// The `TaggableResource` shape's length limit.
const TAGGABLE_MAX: usize = 10_000;

/// The `resource` member against its shape: every broken constraint. Functions are the only
/// taggable resources Nubo has, so only a function ARN is read as matching the pattern.
fn check_taggable(resource: &str) -> Result<(), Violations> {
    let mut violations = Violations::new();
    if resource.chars().count() > TAGGABLE_MAX {
        violations.push(Violation::max_length(resource, "resource", TAGGABLE_MAX));
    }
    let is_function_arn = resource.starts_with("arn:aws")
        && resource.contains(":function:")
        && NamedFunction::read(resource, NameShape::FunctionName)
            .is_some_and(|named| named.region.is_some() && named.account.is_some());
    if !is_function_arn {
        violations.push(Violation::pattern(resource, "resource", TAGGABLE_PATTERN));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

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
    check_taggable(resource)?;
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
