//! REST APIs' Update* of what lies under an API (PATCH with `patchOperations`): resources,
//! methods, integrations, method and integration responses, authorizers. The changes themselves
//! are the gateway's (`rest_api::updates`).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::routing::patch;
use axum::Router;
use http::StatusCode;
use nubo_gateway::rest_api::patch::PatchInput;
use nubo_gateway::rest_api::updates;
use serde::Serialize;

use super::body;
use crate::response::{json, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

type St = State<Arc<EdgeState>>;

/// The PATCH routes (merged with the Put/Get/Delete ones of the same paths).
pub(super) fn routes(router: Router<Arc<EdgeState>>) -> Router<Arc<EdgeState>> {
    const METHOD: &str = "/restapis/{api}/resources/{resource}/methods/{method}";
    router
        .route(
            "/restapis/{api}/resources/{resource}",
            patch(update_resource),
        )
        .route(METHOD, patch(update_method))
        .route(&format!("{METHOD}/integration"), patch(update_integration))
        .route(
            &format!("{METHOD}/responses/{{status}}"),
            patch(update_method_response),
        )
        .route(
            &format!("{METHOD}/integration/responses/{{status}}"),
            patch(update_integration_response),
        )
        .route("/restapis/{api}/authorizers/{id}", patch(update_authorizer))
}

fn ok(record: &impl Serialize) -> ApiResult {
    Ok(json(
        StatusCode::OK,
        &serde_json::to_value(record).unwrap_or_default(),
    ))
}

async fn update_resource(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let ops = &input.patch_operations;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            updates::update_resource(doc, &resource, ops)
        })
        .await?;
    ok(&record)
}

async fn update_method(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let ops = &input.patch_operations;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            updates::update_method(doc, &resource, &method, ops)
        })
        .await?;
    ok(&record)
}

async fn update_integration(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let ops = &input.patch_operations;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            updates::update_integration(doc, &resource, &method, ops)
        })
        .await?;
    ok(&record)
}

async fn update_method_response(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method, status)): Path<(String, String, String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let ops = &input.patch_operations;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            updates::update_method_response(doc, &resource, &method, &status, ops)
        })
        .await?;
    ok(&record)
}

async fn update_integration_response(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method, status)): Path<(String, String, String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let ops = &input.patch_operations;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            updates::update_integration_response(doc, &resource, &method, &status, ops)
        })
        .await?;
    ok(&record)
}

async fn update_authorizer(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, authorizer)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let ops = &input.patch_operations;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            updates::update_authorizer(doc, &authorizer, ops)
        })
        .await?;
    ok(&record)
}
