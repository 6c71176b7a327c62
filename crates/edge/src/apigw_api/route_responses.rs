//! `/v2/apis/{apiId}/routes/{routeId}/routeresponses[/{routeResponseId}]`: WebSocket route
//! responses (a `$default` one makes a route two-way).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use nubo_gateway::http_api::routes::RouteResponseInput;

use super::{body, page};
use crate::response::{empty, json, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

const COLLECTION: &str = "/v2/apis/{api_id}/routes/{route_id}/routeresponses";

pub(super) fn routes(router: Router<Arc<EdgeState>>) -> Router<Arc<EdgeState>> {
    router.route(COLLECTION, post(create).get(list)).route(
        &format!("{COLLECTION}/{{id}}"),
        get(get_one).patch(update).delete(delete),
    )
}

fn render(record: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or_default()
}

async fn create(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, route_id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: RouteResponseInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .apis()
        .create_route_response(&scope, &api_id, &route_id, input)
        .await?;
    Ok(json(StatusCode::CREATED, &render(&record)))
}

async fn list(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, route_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let items = state
        .gateway
        .apis()
        .route_responses(&scope, &api_id, &route_id)?
        .iter()
        .map(render)
        .collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

async fn get_one(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, route_id, id)): Path<(String, String, String)>,
) -> ApiResult {
    let record = state
        .gateway
        .apis()
        .route_response(&scope, &api_id, &route_id, &id)?;
    Ok(json(StatusCode::OK, &render(&record)))
}

async fn update(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, route_id, id)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let input: RouteResponseInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .apis()
        .update_route_response(&scope, &api_id, &route_id, &id, input)
        .await?;
    Ok(json(StatusCode::OK, &render(&record)))
}

async fn delete(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, route_id, id)): Path<(String, String, String)>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete_route_response(&scope, &api_id, &route_id, &id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
