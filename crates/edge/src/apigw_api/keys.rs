//! REST APIs' API keys and usage plans: `/apikeys…`, `/usageplans…` (keys, usage).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::routing::{delete, get, post};
use axum::Router;
use http::StatusCode;
use nubo_gateway::rest_api::keys::{ApiKeyInput, UsagePlanInput, UsageRegistry};
use nubo_gateway::rest_api::patch::PatchInput;
use serde_json::Value;

use super::rest::items;
use super::{bad_request, body};
use crate::query::Query;
use crate::response::{empty, json, ApiResult};
use crate::scope::RequestScope;
use crate::EdgeState;

type St = State<Arc<EdgeState>>;

/// The key and plan routes.
pub(super) fn routes(router: Router<Arc<EdgeState>>) -> Router<Arc<EdgeState>> {
    router
        .route("/apikeys", post(create_key).get(list_keys))
        .route(
            "/apikeys/{key}",
            get(get_key).delete(delete_key).patch(update_key),
        )
        .route("/usageplans", post(create_plan).get(list_plans))
        .route(
            "/usageplans/{plan}",
            get(get_plan).delete(delete_plan).patch(update_plan),
        )
        .route(
            "/usageplans/{plan}/keys",
            post(create_plan_key).get(list_plan_keys),
        )
        .route("/usageplans/{plan}/keys/{key}", delete(delete_plan_key))
        .route("/usageplans/{plan}/usage", get(get_usage))
}

fn flag(query: &Query, name: &str) -> bool {
    query.get(name) == Some("true")
}

async fn create_key(
    State(state): St,
    RequestScope(scope): RequestScope,
    req: Request,
) -> ApiResult {
    let input: ApiKeyInput = body(req.into_body()).await?;
    let key = state.gateway.usage().create_key(&scope, input).await?;
    Ok(json(StatusCode::CREATED, &key.render(true)))
}

async fn list_keys(
    State(state): St,
    RequestScope(scope): RequestScope,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let include = flag(&query, "includeValues");
    let name = query.get("name").filter(|n| !n.is_empty());
    let customer = query.get("customerId").filter(|n| !n.is_empty());
    let all = state
        .gateway
        .usage()
        .keys(&scope)
        .iter()
        .filter(|k| name.is_none_or(|n| k.name.starts_with(n)))
        .filter(|k| customer.is_none_or(|c| k.customer_id.as_deref() == Some(c)))
        .map(|k| k.render(include))
        .collect();
    Ok(json(StatusCode::OK, &items(all, raw.as_deref())?))
}

async fn get_key(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let include = flag(&Query::parse(raw.as_deref()), "includeValue");
    let key = state.gateway.usage().key(&scope, &id)?;
    Ok(json(StatusCode::OK, &key.render(include)))
}

async fn update_key(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let key = state
        .gateway
        .usage()
        .update_key(&scope, &id, &input.patch_operations)
        .await?;
    Ok(json(StatusCode::OK, &key.render(false)))
}

async fn update_plan(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    let input: PatchInput = body(req.into_body()).await?;
    let plan = state
        .gateway
        .usage()
        .update_plan(&scope, &id, &input.patch_operations)
        .await?;
    Ok(json(StatusCode::OK, &plan.render()))
}

async fn delete_key(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
) -> ApiResult {
    state.gateway.usage().delete_key(&scope, &id).await?;
    Ok(empty(StatusCode::ACCEPTED))
}

async fn create_plan(
    State(state): St,
    RequestScope(scope): RequestScope,
    req: Request,
) -> ApiResult {
    let input: UsagePlanInput = body(req.into_body()).await?;
    let gateway = &state.gateway;
    let plan = gateway
        .usage()
        .create_plan(&scope, input, |api, stage| {
            gateway
                .rest()
                .get(&scope, api)
                .is_ok_and(|doc| doc.stages.contains_key(stage))
        })
        .await?;
    Ok(json(StatusCode::CREATED, &plan.render()))
}

async fn list_plans(
    State(state): St,
    RequestScope(scope): RequestScope,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let key = query.get("keyId").filter(|k| !k.is_empty());
    let all = state
        .gateway
        .usage()
        .plans(&scope)
        .iter()
        .filter(|p| key.is_none_or(|k| p.keys.iter().any(|x| x == k)))
        .map(|p| p.render())
        .collect();
    Ok(json(StatusCode::OK, &items(all, raw.as_deref())?))
}

async fn get_plan(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
) -> ApiResult {
    let plan = state.gateway.usage().plan(&scope, &id)?;
    Ok(json(StatusCode::OK, &plan.render()))
}

async fn delete_plan(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(id): Path<String>,
) -> ApiResult {
    state.gateway.usage().delete_plan(&scope, &id).await?;
    Ok(empty(StatusCode::ACCEPTED))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PlanKeyInput {
    key_id: Option<String>,
    key_type: Option<String>,
}

async fn create_plan_key(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(plan): Path<String>,
    req: Request,
) -> ApiResult {
    let input: PlanKeyInput = body(req.into_body()).await?;
    let key_id = input
        .key_id
        .ok_or_else(|| bad_request("keyId is required"))?;
    let key_type = input.key_type.unwrap_or_else(|| "API_KEY".into());
    let out = state
        .gateway
        .usage()
        .add_plan_key(&scope, &plan, &key_id, &key_type)
        .await?;
    Ok(json(StatusCode::CREATED, &out))
}

async fn list_plan_keys(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(plan): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let usage = state.gateway.usage();
    let plan = usage.plan(&scope, &plan)?;
    let all: Vec<Value> = plan
        .keys
        .iter()
        .filter_map(|id| usage.key(&scope, id).ok())
        .map(|k| UsageRegistry::plan_key(&k))
        .collect();
    Ok(json(StatusCode::OK, &items(all, raw.as_deref())?))
}

async fn delete_plan_key(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path((plan, key)): Path<(String, String)>,
) -> ApiResult {
    state
        .gateway
        .usage()
        .remove_plan_key(&scope, &plan, &key)
        .await?;
    Ok(empty(StatusCode::ACCEPTED))
}

async fn get_usage(
    State(state): St,
    RequestScope(scope): RequestScope,
    Path(plan): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let start = query
        .get("startDate")
        .ok_or_else(|| bad_request("startDate is required"))?;
    let end = query
        .get("endDate")
        .ok_or_else(|| bad_request("endDate is required"))?;
    let key = query.get("keyId").filter(|k| !k.is_empty());
    let usage = state
        .gateway
        .usage()
        .usage(&scope, &plan, key, start, end)?;
    Ok(json(StatusCode::OK, &usage))
}
