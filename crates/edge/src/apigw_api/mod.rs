//! The API Gateway control API (rest-json, signed as `apigateway`): apigatewayv2 for HTTP APIs
//! under `/v2/…`, and REST APIs (apigateway v1) under `/restapis…`, `/apikeys`, `/usageplans`,
//! `/tags` ([`rest`], [`keys`]).
//!
//! Request members are camelCase JSON parsed into the gateway's input types; responses render the
//! gateway's records (their camelCase serialization is the wire shape) plus computed members such
//! as `apiEndpoint`. [`apis`] serves the API resource itself (incl. import/export and CORS);
//! [`resources`] serves routes, integrations, stages and deployments with one generic set of
//! handlers. Every operation acts in the request's scope (the region it was signed for).

mod apis;
mod keys;
mod resources;
mod rest;
mod rest_updates;
mod route_responses;

use std::sync::Arc;

use axum::routing::{delete, get, post};
use axum::Router;
use nubo_gateway::http_api::authorizers::AuthorizerRecord;
use nubo_gateway::http_api::model::{
    DeploymentRecord, IntegrationRecord, RouteRecord, StageRecord,
};
use nubo_wire::AwsError;
use serde_json::{json, Value};

use crate::query::Query;
use crate::response::{rest_json_error, ApiError};
use crate::EdgeState;

/// The `/v2/` routes of the `apigateway` service.
pub fn router(state: Arc<EdgeState>) -> Router {
    let router = Router::new();
    let router = resources::routes::<RouteRecord>(router, "/v2/apis/{api_id}/routes");
    let router = resources::routes::<IntegrationRecord>(router, "/v2/apis/{api_id}/integrations");
    let router = resources::routes::<StageRecord>(router, "/v2/apis/{api_id}/stages");
    let router = resources::routes::<DeploymentRecord>(router, "/v2/apis/{api_id}/deployments");
    let router = resources::routes::<AuthorizerRecord>(router, "/v2/apis/{api_id}/authorizers");
    let router = route_responses::routes(router);
    let router = rest::routes(router);
    let router = rest_updates::routes(router);
    let router = keys::routes(router);
    router
        .route(
            "/v2/apis",
            post(apis::create).get(apis::list).put(apis::import),
        )
        .route(
            "/v2/apis/{api_id}",
            get(apis::get)
                .patch(apis::update)
                .delete(apis::delete)
                .put(apis::reimport),
        )
        .route(
            "/v2/apis/{api_id}/exports/{specification}",
            get(apis::export),
        )
        .route("/v2/apis/{api_id}/cors", delete(apis::delete_cors))
        .fallback(|uri: http::Uri| async move {
            let _ = uri;
            let message = "The requested operation is not supported by Nubo's API Gateway API";
            rest_json_error(&AwsError::new(
                "NotFoundException",
                http::StatusCode::NOT_FOUND,
                message,
            ))
        })
        .with_state(state)
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(AwsError::new(
        "BadRequestException",
        http::StatusCode::BAD_REQUEST,
        message,
    ))
}

/// Parses a JSON body as apigatewayv2 does (malformed → `BadRequestException`).
pub(crate) async fn body<T: serde::de::DeserializeOwned>(
    body: axum::body::Body,
) -> Result<T, ApiError> {
    let bytes =
        crate::lambda_api::read_body(body, 6 * 1024 * 1024, "Request body too large").await?;
    let bytes = if bytes.is_empty() {
        b"{}".as_slice()
    } else {
        &bytes
    };
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("Invalid request body: {e}")))
}

/// `{"items": [...], "nextToken": ...}` with `maxResults` / `nextToken` (an offset) applied.
pub(crate) fn page(items: Vec<Value>, raw_query: Option<&str>) -> Result<Value, ApiError> {
    let query = Query::parse(raw_query);
    let start = match query.get("nextToken") {
        None | Some("") => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| bad_request(format!("Invalid nextToken {token}")))?,
    };
    let max = match query.get("maxResults") {
        None | Some("") => usize::MAX,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| *m > 0)
            .ok_or_else(|| bad_request(format!("Invalid maxResults {m}")))?,
    };
    let end = start.saturating_add(max).min(items.len());
    let slice: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut out = json!({ "items": slice });
    if end < items.len() {
        out["nextToken"] = json!(end.to_string());
    }
    Ok(out)
}
