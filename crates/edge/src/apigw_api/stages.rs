//! `/v2/apis/{apiId}/stages`: CreateStage, GetStages, GetStage, UpdateStage, DeleteStage.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_gateway::http_api::StageInput;
use nubo_gateway::GatewayError;

use super::{body, page, render};
use crate::response::{empty, json, ApiResult};
use crate::EdgeState;

pub(super) async fn create(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: StageInput = body(req.into_body()).await?;
    let stage = state.gateway.apis().create_stage(&api_id, input).await?;
    Ok(json(StatusCode::CREATED, &render(&stage)))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let items = doc.stages.values().map(render).collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, stage_name)): Path<(String, String)>,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let stage = doc
        .stages
        .get(&stage_name)
        .ok_or_else(|| GatewayError::not_found("Stage", &stage_name))?;
    Ok(json(StatusCode::OK, &render(stage)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, stage_name)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: StageInput = body(req.into_body()).await?;
    let stage = state
        .gateway
        .apis()
        .update_stage(&api_id, &stage_name, input)
        .await?;
    Ok(json(StatusCode::OK, &render(&stage)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, stage_name)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete_stage(&api_id, &stage_name)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
