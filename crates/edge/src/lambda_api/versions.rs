//! Versions: PublishVersion, ListVersionsByFunction.

use std::sync::Arc;

use axum::extract::{Request, State};
use http::StatusCode;
use nubo_lambda::control::validate;
use serde::Deserialize;
use serde_json::{json, Value};

use super::reference::Unqualified;
use super::shapes::function_configuration;
use super::{json_body, max_items, registry};
use crate::query::Query;
use crate::response::{json, ApiResult};
use crate::EdgeState;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishVersionInput {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

/// `POST /2015-03-31/functions/{FunctionName}/versions` → 201.
pub(crate) async fn publish(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function): Unqualified,
    req: Request,
) -> ApiResult {
    let registry = registry(&state);
    registry.function(&function)?;
    let input: PublishVersionInput = json_body(req, "PublishVersion").await?;
    if let Some(d) = &input.description {
        validate::description(d)?;
    }
    let version = registry
        .publish_version(
            &function,
            input.code_sha256.as_deref(),
            input.revision_id.as_deref(),
            input.description,
        )
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &function_configuration(&version, &function.scope, true),
    ))
}

/// `GET /2015-03-31/functions/{FunctionName}/versions` → `{Versions, NextMarker}`.
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function): Unqualified,
    query: Query,
) -> ApiResult {
    let registry = registry(&state);
    registry.function(&function)?;
    let limit = max_items(&query, 50, 10_000)?;
    let all = registry
        .versions_of(&function.scope, &function.name)
        .unwrap_or_default();
    // The marker is the last version returned; `$LATEST` sorts first.
    let start = match query.get("Marker").filter(|m| !m.is_empty()) {
        Some(marker) => all
            .iter()
            .position(|v| v.version == marker)
            .map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = all[start..]
        .iter()
        .take(limit)
        .map(|v| function_configuration(v, &function.scope, true))
        .collect();
    let mut body = json!({ "Versions": page });
    if start + limit < all.len() {
        body["NextMarker"] = json!(all[start + limit - 1].version);
    }
    Ok(json(StatusCode::OK, &body))
}
