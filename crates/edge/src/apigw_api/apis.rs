//! `/v2/apis`: CreateApi (incl. quick create), GetApis, GetApi, UpdateApi, DeleteApi, ImportApi,
//! ReimportApi, ExportApi.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use nubo_gateway::http_api::ApiInput;
use nubo_gateway::http_api::model::ApiRecord;
use nubo_gateway::http_api::openapi;
use serde::Deserialize;
use serde_json::Value;

use super::{bad_request, body, page, render};
use crate::query::Query;
use crate::response::{empty, json, ApiResult};
use crate::EdgeState;

fn api_value(state: &EdgeState, api: &ApiRecord) -> Value {
    let mut value = render(api);
    value["apiEndpoint"] = Value::from(state.gateway.api_endpoint(&api.api_id));
    value
}

pub(super) async fn create(State(state): State<Arc<EdgeState>>, req: Request) -> ApiResult {
    let input: ApiInput = body(req.into_body()).await?;
    let api = state.gateway.apis().create_api(input).await?;
    Ok(json(StatusCode::CREATED, &api_value(&state, &api)))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let items = state
        .gateway
        .apis()
        .list()
        .iter()
        .map(|doc| api_value(&state, &doc.api))
        .collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
) -> ApiResult {
    let doc = state.gateway.apis().get(&api_id)?;
    Ok(json(StatusCode::OK, &api_value(&state, &doc.api)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: ApiInput = body(req.into_body()).await?;
    let api = state.gateway.apis().update_api(&api_id, input).await?;
    Ok(json(StatusCode::OK, &api_value(&state, &api)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
) -> ApiResult {
    state.gateway.apis().delete_api(&api_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize)]
struct ImportBody {
    body: Option<String>,
}

fn fail_on_warnings(query: &Query) -> bool {
    query.get("failOnWarnings") == Some("true")
}

pub(super) async fn import(
    State(state): State<Arc<EdgeState>>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let input: ImportBody = body(req.into_body()).await?;
    let document = input.body.ok_or_else(|| bad_request("Body is required"))?;
    let api =
        openapi::import_api(state.gateway.apis(), &document, fail_on_warnings(&query)).await?;
    Ok(json(StatusCode::CREATED, &api_value(&state, &api)))
}

pub(super) async fn reimport(
    State(state): State<Arc<EdgeState>>,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let input: ImportBody = body(req.into_body()).await?;
    let document = input.body.ok_or_else(|| bad_request("Body is required"))?;
    let api = openapi::reimport_api(
        state.gateway.apis(),
        &api_id,
        &document,
        fail_on_warnings(&query),
    )
    .await?;
    Ok(json(StatusCode::CREATED, &api_value(&state, &api)))
}

pub(super) async fn export(
    State(state): State<Arc<EdgeState>>,
    Path((api_id, specification)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    if specification != "OAS30" {
        return Err(bad_request(format!(
            "Invalid specification {specification}: only OAS30 is supported"
        )));
    }
    let yaml = match query.get("outputType") {
        Some("YAML") => true,
        Some("JSON") | None => false,
        Some(other) => {
            return Err(bad_request(format!(
                "Invalid outputType {other}: must be JSON or YAML"
            )))
        }
    };
    let include_extensions = query.get("includeExtensions") != Some("false");
    let text = openapi::export_api(
        state.gateway.apis(),
        &api_id,
        query.get("stageName").filter(|s| !s.is_empty()),
        include_extensions,
        yaml,
    )?;
    let mut response = Response::new(axum::body::Body::from(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(if yaml {
            "application/yaml"
        } else {
            "application/json"
        }),
    );
    Ok(response)
}
