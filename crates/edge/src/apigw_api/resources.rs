//! `/v2/apis/{apiId}/{routes,integrations,stages,deployments}[/{id}]`: Create, Get (list and one),
//! Update and Delete of every resource under an API, one generic handler each over
//! [`ApiResource`] (the gateway's resource modules say what differs).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use nubo_gateway::http_api::ApiResource;

use super::{body, page};
use crate::response::{empty, json, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

/// The collection and item routes of one resource: `{collection}` (POST, GET) and
/// `{collection}/{id}` (GET, PATCH, DELETE).
pub(super) fn routes<R: ApiResource>(
    router: Router<Arc<EdgeState>>,
    collection: &str,
) -> Router<Arc<EdgeState>> {
    router
        .route(collection, post(create::<R>).get(list::<R>))
        .route(
            &format!("{collection}/{{id}}"),
            get(get_one::<R>).patch(update::<R>).delete(delete::<R>),
        )
}

async fn create<R: ApiResource>(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: R::Input = body(req.into_body()).await?;
    let record: R = state.gateway.apis().create(&scope, &api_id, input).await?;
    Ok(json(StatusCode::CREATED, &record.render()))
}

async fn list<R: ApiResource>(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = state.gateway.apis().get(&scope, &api_id)?;
    let items = R::items(&doc).values().map(R::render).collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

async fn get_one<R: ApiResource>(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, id)): Path<(String, String)>,
) -> ApiResult {
    let record: R = state.gateway.apis().get_one(&scope, &api_id, &id)?;
    Ok(json(StatusCode::OK, &record.render()))
}

async fn update<R: ApiResource>(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: R::Input = body(req.into_body()).await?;
    let record: R = state
        .gateway
        .apis()
        .update(&scope, &api_id, &id, input)
        .await?;
    Ok(json(StatusCode::OK, &record.render()))
}

async fn delete<R: ApiResource>(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((api_id, id)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete::<R>(&scope, &api_id, &id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
