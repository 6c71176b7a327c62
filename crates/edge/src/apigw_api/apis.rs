//! `/v2/apis`: CreateApi (incl. quick create), GetApis, GetApi, UpdateApi, DeleteApi, ImportApi,
//! ReimportApi, ExportApi, DeleteCorsConfiguration.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use nubo_gateway::http_api::model::ApiRecord;
use nubo_gateway::http_api::openapi;
use nubo_gateway::http_api::ApiInput;
use nubo_wire::Scope;
use serde::Deserialize;
use serde_json::Value;

use super::{bad_request, body, page};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

/// The API's camelCase form plus what is computed: `apiEndpoint`, which carries its region.
fn api_value(state: &EdgeState, scope: &Scope, api: &ApiRecord) -> Value {
    let mut value = serde_json::to_value(api).unwrap_or(Value::Null);
    let endpoint = if api.protocol_type == nubo_gateway::http_api::model::WEBSOCKET {
        state.gateway.socket_endpoint(scope, &api.api_id)
    } else {
        state.gateway.api_endpoint(scope, &api.api_id)
    };
    value["apiEndpoint"] = Value::from(endpoint);
    value
}

pub(super) async fn create(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    req: Request,
) -> ApiResult {
    let input: ApiInput = body(req.into_body()).await?;
    let api = state.gateway.apis().create_api(&scope, input).await?;
    Ok(json(StatusCode::CREATED, &api_value(&state, &scope, &api)))
}

pub(super) async fn list(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let items = state
        .gateway
        .apis()
        .list(&scope)
        .iter()
        .map(|doc| api_value(&state, &scope, &doc.api))
        .collect();
    Ok(json(StatusCode::OK, &page(items, query.as_deref())?))
}

pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
) -> ApiResult {
    let doc = state.gateway.apis().get(&scope, &api_id)?;
    Ok(json(StatusCode::OK, &api_value(&state, &scope, &doc.api)))
}

pub(super) async fn update(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: ApiInput = body(req.into_body()).await?;
    let api = state
        .gateway
        .apis()
        .update_api(&scope, &api_id, input)
        .await?;
    Ok(json(StatusCode::OK, &api_value(&state, &scope, &api)))
}

pub(super) async fn delete(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
) -> ApiResult {
    state.gateway.apis().delete_api(&scope, &api_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// DeleteCorsConfiguration: `DELETE /v2/apis/{apiId}/cors` → 204.
pub(super) async fn delete_cors(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
) -> ApiResult {
    state
        .gateway
        .apis()
        .delete_cors_configuration(&scope, &api_id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize)]
struct ImportBody {
    body: Option<String>,
}

/// An ImportApi / ReimportApi request: the document, and whether warnings fail it.
async fn import_request(query: Option<String>, req: Request) -> Result<(String, bool), ApiError> {
    let fail_on_warnings = Query::parse(query.as_deref()).get("failOnWarnings") == Some("true");
    let input: ImportBody = body(req.into_body()).await?;
    let document = input.body.ok_or_else(|| bad_request("Body is required"))?;
    Ok((document, fail_on_warnings))
}

/// Runs an import on the blocking pool: parsing an OpenAPI document (YAML above all) is CPU work
/// that must not stall the async workers. Its size is bounded by the body limit (6 MB), its depth
/// and alias expansion by the parsers (128 levels; serde_norway's repetition limit).
async fn off_the_workers<T, F, Fut>(state: &Arc<EdgeState>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Arc<EdgeState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let state = state.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work(state)))
        .await
        .map_err(|e| ApiError(nubo_wire::AwsError::service(format!("import failed: {e}"))))
}

pub(super) async fn import(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let (document, strict) = import_request(query, req).await?;
    let import_scope = scope.clone();
    let api = off_the_workers(&state, move |state| async move {
        openapi::import_api(state.gateway.apis(), &import_scope, &document, strict).await
    })
    .await??;
    Ok(json(StatusCode::CREATED, &api_value(&state, &scope, &api)))
}

pub(super) async fn reimport(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(api_id): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let (document, strict) = import_request(query, req).await?;
    let import_scope = scope.clone();
    let api = off_the_workers(&state, move |state| async move {
        openapi::reimport_api(
            state.gateway.apis(),
            &import_scope,
            &api_id,
            &document,
            strict,
        )
        .await
    })
    .await??;
    Ok(json(StatusCode::CREATED, &api_value(&state, &scope, &api)))
}

pub(super) async fn export(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
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
        &scope,
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
