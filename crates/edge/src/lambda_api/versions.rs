//! Versions: PublishVersion, ListVersionsByFunction.

use std::sync::Arc;

use axum::extract::{Request, State};
use http::StatusCode;
use nubo_lambda::control::validate;
use serde::Deserialize;
use serde_json::{json, Value};

use super::reference::Unqualified;
use super::shapes::function_configuration;
use super::{json_body, page, registry};
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
    Unqualified(function, _): Unqualified,
    req: Request,
) -> ApiResult {
    let registry = registry(&state);
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
        &function_configuration(&version, &function.scope, Some(&version.version)),
    ))
}

/// `GET /2015-03-31/functions/{FunctionName}/versions` → `{Versions, NextMarker}`; the marker
/// is the last version returned (`$LATEST` comes first).
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    query: Query,
) -> ApiResult {
    let all = registry(&state)
        .versions_of(&function.scope, &function.name)
        .unwrap_or_default();
    let (page, next) = page(&all, &query, (50, 10_000), |v| v.version.clone())?;
    let versions: Vec<Value> = page
        .iter()
        .map(|v| function_configuration(v, &function.scope, Some(&v.version)))
        .collect();
    let mut body = json!({ "Versions": versions });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json(StatusCode::OK, &body))
}
