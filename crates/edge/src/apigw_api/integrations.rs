//! `/v2/apis/{apiId}/integrations`: CreateIntegration, GetIntegrations, GetIntegration, UpdateIntegration,
//! DeleteIntegration.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_gateway::http_api::IntegrationInput;
use nubo_gateway::GatewayError;

use super::{body, page, render};
use crate::response::{empty, json, ApiResult};
use crate::EdgeState;

pub(super) async fn create(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: IntegrationInput = body(req.into_body()).await?;
    let integration = state
        .gateway
        .apis()
        .create_integration(&api_id, input)
        .await?;
    Ok(json(StatusCode::CREATED, &render(&integration)))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let items = doc.integrations.values().map(render).collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, integration_id)): Path<(String, String)>,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let integration = doc
        .routes
        .get(&integration_id)
        .ok_or_else(|| GatewayError::not_found("Integration", &integration_id))?;
    Ok(json(StatusCode::OK, &render(integration)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, integration_id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: IntegrationInput = body(req.into_body()).await?;
    let integration = state
        .gateway
        .apis()
        .update_integration(&api_id, &integration_id, input)
        .await?;
    Ok(json(StatusCode::OK, &render(&integration)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, integration_id)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete_integration(&api_id, &integration_id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
