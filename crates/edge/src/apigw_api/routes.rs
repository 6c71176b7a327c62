//! `/v2/apis/{apiId}/routes`: CreateRoute, GetRoutes, GetRoute, UpdateRoute, DeleteRoute.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_gateway::http_api::RouteInput;
use nubo_gateway::GatewayError;

use super::{body, page, render};
use crate::response::{empty, json, ApiResult};
use crate::EdgeState;

pub(super) async fn create(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: RouteInput = body(req.into_body()).await?;
    let route = state.gateway.apis().create_route(&api_id, input).await?;
    Ok(json(StatusCode::CREATED, &render(&route)))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let items = doc.routes.values().map(render).collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, route_id)): Path<(String, String)>,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    let route = doc
        .routes
        .get(&route_id)
        .ok_or_else(|| GatewayError::not_found("Route", &route_id))?;
    Ok(json(StatusCode::OK, &render(route)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, route_id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: RouteInput = body(req.into_body()).await?;
    let route = state
        .gateway
        .apis()
        .update_route(&api_id, &route_id, input)
        .await?;
    Ok(json(StatusCode::OK, &render(&route)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, route_id)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete_route(&api_id, &route_id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
