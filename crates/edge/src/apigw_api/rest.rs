//! REST APIs (apigateway v1, rest-json, signed as `apigateway`): `/restapis…` and `/tags/{arn}`.
//! Records render as their camelCase serialization (epoch-second timestamps); lists are
//! `{"item": [...], "position": ...}` with `limit`/`position` (an offset).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::routing::{get, post, put};
use axum::Router;
use http::StatusCode;
use nubo_gateway::rest_api::model::RestApiDocument;
use nubo_gateway::rest_api::ops::{self, DeploymentInput, StageInput};
use nubo_gateway::rest_api::patch::{patch, PatchInput};
use nubo_gateway::rest_api::RestApiInput;
use nubo_gateway::GatewayError;
use nubo_wire::Scope;
use serde::Serialize;
use serde_json::{json, Value};

use super::{bad_request, body};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

type St = State<Arc<EdgeState>>;

/// The REST API routes.
pub(super) fn routes(router: Router<Arc<EdgeState>>) -> Router<Arc<EdgeState>> {
    const METHOD: &str = "/restapis/{api}/resources/{resource}/methods/{method}";
    router
        .route("/restapis", post(create_api).get(list_apis))
        .route(
            "/restapis/{api}",
            get(get_api).delete(delete_api).patch(update_api),
        )
        .route("/restapis/{api}/resources", get(list_resources))
        .route(
            "/restapis/{api}/resources/{resource}",
            get(get_resource)
                .post(create_resource)
                .delete(delete_resource),
        )
        .route(
            METHOD,
            put(put_method).get(get_method).delete(delete_method),
        )
        .route(
            &format!("{METHOD}/integration"),
            put(put_integration).get(get_integration),
        )
        .route(
            &format!("{METHOD}/responses/{{status}}"),
            put(put_method_response).get(get_method_response),
        )
        .route(
            &format!("{METHOD}/integration/responses/{{status}}"),
            put(put_integration_response).get(get_integration_response),
        )
        .route(
            "/restapis/{api}/deployments",
            post(create_deployment).get(list_deployments),
        )
        .route(
            "/restapis/{api}/deployments/{id}",
            get(get_deployment).delete(delete_deployment),
        )
        .route(
            "/restapis/{api}/stages",
            post(create_stage).get(list_stages),
        )
        .route(
            "/restapis/{api}/stages/{stage}",
            get(get_stage).delete(delete_stage).patch(update_stage),
        )
        .route(
            "/restapis/{api}/authorizers",
            post(create_authorizer).get(list_authorizers),
        )
        .route(
            "/restapis/{api}/authorizers/{id}",
            get(get_authorizer).delete(delete_authorizer),
        )
        .route(
            "/tags/{arn}",
            put(tag_resource).get(get_tags).delete(untag_resource),
        )
}

fn value(record: &impl Serialize) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// `{"item": [...], "position": "..."}` with `limit` and `position` applied.
pub(super) fn items(all: Vec<Value>, raw_query: Option<&str>) -> Result<Value, ApiError> {
    let query = Query::parse(raw_query);
    let start = match query.get("position") {
        None | Some("") => 0,
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| bad_request(format!("Invalid position {p}")))?,
    };
    let limit = match query.get("limit") {
        None | Some("") => 500,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| bad_request(format!("Invalid limit {l}")))?,
    };
    let end = start.saturating_add(limit).min(all.len());
    let page = all
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut out = json!({ "item": page });
    if end < all.len() {
        out["position"] = json!(end.to_string());
    }
    Ok(out)
}

fn api(state: &EdgeState, scope: &Scope, id: &str) -> Result<Arc<RestApiDocument>, ApiError> {
    Ok(state.gateway.rest().get(scope, id)?)
}

async fn create_api(
    State(state): St,
    RequestScope(scope): RequestScope,
    req: Request,
) -> ApiResult {
    let input: RestApiInput = body(req.into_body()).await?;
    let gateway = &state.gateway;
    let doc = gateway
        .rest()
        .create(&scope, input, |id| gateway.is_http_api(id))
        .await?;
    Ok(json(StatusCode::CREATED, &value(&doc.api)))
}

async fn list_apis(
    State(state): St,
    RequestScope(scope): RequestScope,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let all = state
        .gateway
        .rest()
        .list(&scope)
        .iter()
        .map(|d| value(&d.api))
        .collect();
    Ok(json(StatusCode::OK, &items(all, query.as_deref())?))
}

async fn get_api(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(json(StatusCode::OK, &value(&api(&state, &scope, &id)?.api)))
}

async fn update_api(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            doc.api = patch(
                &doc.api,
                &input.patch_operations,
                &[
                    "name",
                    "description",
                    "version",
                    "apiKeySource",
                    "binaryMediaTypes",
                    "disableExecuteApiEndpoint",
                ],
            )?;
            if !matches!(doc.api.api_key_source.as_str(), "HEADER" | "AUTHORIZER") {
                return Err(GatewayError::bad_request("Invalid apiKeySource"));
            }
            Ok(doc.api.clone())
        })
        .await?;
    Ok(json(StatusCode::OK, &value(&record)))
}

async fn update_stage(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, stage)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            let current = doc
                .stages
                .get(&stage)
                .ok_or_else(|| GatewayError::not_found("Stage", &stage))?;
            let mut next: nubo_gateway::rest_api::model::StageRecord = patch(
                current,
                &input.patch_operations,
                &[
                    "description",
                    "variables",
                    "deploymentId",
                    "cacheClusterEnabled",
                    "tracingEnabled",
                    "methodSettings",
                ],
            )?;
            if !doc.deployments.contains_key(&next.deployment_id) {
                return Err(GatewayError::not_found("Deployment", &next.deployment_id));
            }
            next.last_updated_date = nubo_gateway::rest_api::model::now_epoch();
            doc.stages.insert(stage.clone(), next.clone());
            Ok(next)
        })
        .await?;
    Ok(json(StatusCode::OK, &value(&record)))
}

async fn delete_api(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
) -> ApiResult {
    state.gateway.rest().delete(&scope, &id).await?;
    Ok(empty(StatusCode::ACCEPTED))
}

async fn list_resources(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let mut all: Vec<&_> = doc.resources.values().collect();
    all.sort_by(|a, b| a.path.cmp(&b.path));
    let all = all.into_iter().map(value).collect();
    Ok(json(StatusCode::OK, &items(all, query.as_deref())?))
}

async fn get_resource(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource)): Path<(String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    Ok(json(
        StatusCode::OK,
        &value(ops::resource(&doc, &resource)?),
    ))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ResourceInput {
    path_part: Option<String>,
}

async fn create_resource(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, parent)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let input: ResourceInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            ops::create_resource(doc, &parent, input.path_part)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn delete_resource(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::delete_resource(doc, &resource))
        .await?;
    Ok(empty(StatusCode::ACCEPTED))
}

async fn put_method(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let input = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            ops::put_method(doc, &resource, &method, input)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn get_method(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    Ok(json(
        StatusCode::OK,
        &value(ops::method(&doc, &resource, &method)?),
    ))
}

async fn delete_method(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
) -> ApiResult {
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            ops::delete_method(doc, &resource, &method)
        })
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn put_integration(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let input = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            ops::put_integration(doc, &resource, &method, input)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn get_integration(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method)): Path<(String, String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    Ok(json(
        StatusCode::OK,
        &value(ops::integration(&doc, &resource, &method)?),
    ))
}

async fn put_method_response(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method, status)): Path<(String, String, String, String)>,
    req: Request,
) -> ApiResult {
    let input = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            ops::put_method_response(doc, &resource, &method, &status, input)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn get_method_response(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method, status)): Path<(String, String, String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let response = ops::method(&doc, &resource, &method)?
        .method_responses
        .get(&status)
        .ok_or_else(|| GatewayError::not_found("Response", &status))?;
    Ok(json(StatusCode::OK, &value(response)))
}

async fn put_integration_response(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method, status)): Path<(String, String, String, String)>,
    req: Request,
) -> ApiResult {
    let input = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            ops::put_integration_response(doc, &resource, &method, &status, input)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn get_integration_response(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, resource, method, status)): Path<(String, String, String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let response = ops::integration(&doc, &resource, &method)?
        .integration_responses
        .get(&status)
        .ok_or_else(|| GatewayError::not_found("Response", &status))?;
    Ok(json(StatusCode::OK, &value(response)))
}

async fn create_deployment(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: DeploymentInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::create_deployment(doc, input))
        .await?;
    Ok(json(StatusCode::CREATED, &record.render()))
}

async fn list_deployments(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let all = doc.deployments.values().map(|d| d.render()).collect();
    Ok(json(StatusCode::OK, &items(all, query.as_deref())?))
}

async fn get_deployment(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, deployment)): Path<(String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let record = doc
        .deployments
        .get(&deployment)
        .ok_or_else(|| GatewayError::not_found("Deployment", &deployment))?;
    Ok(json(StatusCode::OK, &record.render()))
}

async fn delete_deployment(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, deployment)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::delete_deployment(doc, &deployment))
        .await?;
    Ok(empty(StatusCode::ACCEPTED))
}

async fn create_stage(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: StageInput = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::create_stage(doc, input))
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn list_stages(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let query = Query::parse(query.as_deref());
    let deployment = query.get("deploymentId").filter(|d| !d.is_empty());
    let item: Vec<Value> = doc
        .stages
        .values()
        .filter(|s| deployment.is_none_or(|d| s.deployment_id == d))
        .map(value)
        .collect();
    Ok(json(StatusCode::OK, &json!({ "item": item })))
}

async fn get_stage(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, stage)): Path<(String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let record = doc
        .stages
        .get(&stage)
        .ok_or_else(|| GatewayError::not_found("Stage", &stage))?;
    Ok(json(StatusCode::OK, &value(record)))
}

async fn delete_stage(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, stage)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::delete_stage(doc, &stage))
        .await?;
    Ok(empty(StatusCode::ACCEPTED))
}

async fn create_authorizer(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let input = body(req.into_body()).await?;
    let record = state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::create_authorizer(doc, input))
        .await?;
    Ok(json(StatusCode::CREATED, &value(&record)))
}

async fn list_authorizers(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let all = doc.authorizers.values().map(value).collect();
    Ok(json(StatusCode::OK, &items(all, query.as_deref())?))
}

async fn get_authorizer(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, authorizer)): Path<(String, String)>,
) -> ApiResult {
    let doc = api(&state, &scope, &id)?;
    let record = doc
        .authorizers
        .get(&authorizer)
        .ok_or_else(|| GatewayError::not_found("Authorizer", &authorizer))?;
    Ok(json(StatusCode::OK, &value(record)))
}

async fn delete_authorizer(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((id, authorizer)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| ops::delete_authorizer(doc, &authorizer))
        .await?;
    Ok(empty(StatusCode::ACCEPTED))
}

/// What a tag ARN names: `arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]`.
fn tag_target(scope: &Scope, arn: &str) -> Result<(String, Option<String>), ApiError> {
    let prefix = format!("arn:aws:apigateway:{}::/restapis/", scope.region);
    let rest = arn
        .strip_prefix(&prefix)
        .ok_or_else(|| bad_request(format!("Invalid ARN specified in the request: {arn}")))?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [id] => Ok(((*id).to_owned(), None)),
        [id, "stages", stage] => Ok(((*id).to_owned(), Some((*stage).to_owned()))),
        _ => Err(bad_request(format!(
            "Invalid ARN specified in the request: {arn}"
        ))),
    }
}

fn tags_of<'a>(
    doc: &'a mut RestApiDocument,
    stage: Option<&str>,
) -> Result<&'a mut std::collections::BTreeMap<String, String>, GatewayError> {
    match stage {
        None => Ok(&mut doc.api.tags),
        Some(name) => doc
            .stages
            .get_mut(name)
            .map(|s| &mut s.tags)
            .ok_or_else(|| GatewayError::not_found("Stage", name)),
    }
}

#[derive(serde::Deserialize, Default)]
struct TagInput {
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
}

async fn tag_resource(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(arn): Path<String>,
    req: Request,
) -> ApiResult {
    let (id, stage) = tag_target(&scope, &arn)?;
    let input: TagInput = body(req.into_body()).await?;
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            tags_of(doc, stage.as_deref())?.extend(input.tags);
            Ok(())
        })
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn get_tags(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(arn): Path<String>,
) -> ApiResult {
    let (id, stage) = tag_target(&scope, &arn)?;
    let mut doc = (*api(&state, &scope, &id)?).clone();
    let tags = tags_of(&mut doc, stage.as_deref())?;
    Ok(json(StatusCode::OK, &json!({ "tags": tags })))
}

async fn untag_resource(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let (id, stage) = tag_target(&scope, &arn)?;
    let query = Query::parse(query.as_deref());
    let keys: Vec<String> = query
        .all("tagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect();
    state
        .gateway
        .rest()
        .modify(&scope, &id, |doc| {
            let tags = tags_of(doc, stage.as_deref())?;
            for key in &keys {
                tags.remove(key);
            }
            Ok(())
        })
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
