//! Versions and aliases: PublishVersion, ListVersionsByFunction, Create/Get/Update/Delete/ListAliases.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use http::StatusCode;
use nubo_lambda::{AliasRecord, LATEST};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::function_configuration;
use super::{json_body, max_items, required};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishVersionInput {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoutingConfigInput {
    additional_version_weights: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<RoutingConfigInput>,
    revision_id: Option<String>,
}

/// The unqualified function a `{FunctionName}` path segment names.
fn function_name(state: &EdgeState, function: &str) -> Result<String, ApiError> {
    let registry = state.invoker.registry();
    let reference = FunctionRef::parse(function, registry.scope())?;
    Ok(registry.resolve(&reference.name, None)?.name.clone())
}

/// `POST /2015-03-31/functions/{FunctionName}/versions` → 201.
pub(crate) async fn publish(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    req: Request,
) -> ApiResult {
    let name = function_name(&state, &function)?;
    let input: PublishVersionInput = json_body(req.into_body(), "PublishVersion").await?;
    if let Some(d) = &input.description {
        nubo_lambda::control::validate::description(d)?;
    }
    let registry = state.invoker.registry();
    let version = registry
        .publish_version(
            &name,
            input.code_sha256.as_deref(),
            input.revision_id.as_deref(),
            input.description,
        )
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &function_configuration(&version, registry.scope(), true),
    ))
}

/// `GET /2015-03-31/functions/{FunctionName}/versions` → `{Versions, NextMarker}`.
pub(crate) async fn list_versions(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let name = function_name(&state, &function)?;
    let limit = max_items(&query, 50, 10_000)?;
    let registry = state.invoker.registry();
    let all = registry.versions_of(&name).unwrap_or_default();
    // The marker is the last version returned; `$LATEST` sorts first.
    let start = match query.get("Marker").filter(|m| !m.is_empty()) {
        Some(marker) => all
            .iter()
            .position(|v| v.version == marker)
            .map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = all[start..]
        .iter()
        .take(limit)
        .map(|v| function_configuration(v, registry.scope(), true))
        .collect();
    let mut body = json!({ "Versions": page });
    if start + limit < all.len() {
        body["NextMarker"] = json!(all[start + limit - 1].version);
    }
    Ok(json(StatusCode::OK, &body))
}

/// botocore's `AliasConfiguration`.
pub(crate) fn alias_configuration(alias: &AliasRecord, scope: &Scope) -> Value {
    let mut body = json!({
        "AliasArn": nubo_wire::arn::qualified_function_arn(scope, &alias.function_name, &alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    });
    if !alias.additional_version_weights.is_empty() {
        body["RoutingConfig"] =
            json!({ "AdditionalVersionWeights": alias.additional_version_weights });
    }
    body
}

fn check_alias_name(alias: &str) -> Result<(), ApiError> {
    let valid = (1..=128).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !alias.bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{alias}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        ))))
    }
}

fn check_version(version: &str) -> Result<(), ApiError> {
    if version == LATEST || (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{version}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"
        ))))
    }
}

/// `POST /2015-03-31/functions/{FunctionName}/aliases` → 201.
pub(crate) async fn create_alias(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    req: Request,
) -> ApiResult {
    let name = function_name(&state, &function)?;
    let input: AliasInput = json_body(req.into_body(), "CreateAlias").await?;
    let alias = input.name.ok_or_else(|| required("name"))?;
    let version = input
        .function_version
        .ok_or_else(|| required("functionVersion"))?;
    check_alias_name(&alias)?;
    check_version(&version)?;
    let description = input.description.unwrap_or_default();
    nubo_lambda::control::validate::description(&description)?;
    let weights = input
        .routing_config
        .and_then(|r| r.additional_version_weights)
        .unwrap_or_default();
    let registry = state.invoker.registry();
    let created = registry
        .create_alias(&name, &alias, &version, description, weights)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &alias_configuration(&created, registry.scope()),
    ))
}

fn alias_not_found(state: &EdgeState, name: &str, alias: &str) -> ApiError {
    ApiError(AwsError::resource_not_found(format!(
        "Alias not found: {}",
        nubo_wire::arn::qualified_function_arn(state.invoker.registry().scope(), name, alias)
    )))
}

/// `GET /2015-03-31/functions/{FunctionName}/aliases/{Name}`.
pub(crate) async fn get_alias(
    State(state): State<Arc<EdgeState>>,
    Path((function, alias)): Path<(String, String)>,
) -> ApiResult {
    let name = function_name(&state, &function)?;
    let registry = state.invoker.registry();
    let found = registry
        .alias(&name, &alias)
        .ok_or_else(|| alias_not_found(&state, &name, &alias))?;
    Ok(json(
        StatusCode::OK,
        &alias_configuration(&found, registry.scope()),
    ))
}

/// `PUT /2015-03-31/functions/{FunctionName}/aliases/{Name}`.
pub(crate) async fn update_alias(
    State(state): State<Arc<EdgeState>>,
    Path((function, alias)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let name = function_name(&state, &function)?;
    let input: AliasInput = json_body(req.into_body(), "UpdateAlias").await?;
    if let Some(v) = &input.function_version {
        check_version(v)?;
    }
    if let Some(d) = &input.description {
        nubo_lambda::control::validate::description(d)?;
    }
    let registry = state.invoker.registry();
    let updated = registry
        .update_alias(
            &name,
            &alias,
            input.function_version,
            input.description,
            input
                .routing_config
                .map(|r| r.additional_version_weights.unwrap_or_default()),
            input.revision_id.as_deref(),
        )
        .await?;
    Ok(json(
        StatusCode::OK,
        &alias_configuration(&updated, registry.scope()),
    ))
}

/// `DELETE /2015-03-31/functions/{FunctionName}/aliases/{Name}` → 204.
pub(crate) async fn delete_alias(
    State(state): State<Arc<EdgeState>>,
    Path((function, alias)): Path<(String, String)>,
) -> ApiResult {
    let name = function_name(&state, &function)?;
    state.invoker.registry().delete_alias(&name, &alias).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /2015-03-31/functions/{FunctionName}/aliases` → `{Aliases, NextMarker}`.
pub(crate) async fn list_aliases(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let name = function_name(&state, &function)?;
    let limit = max_items(&query, 50, 10_000)?;
    let registry = state.invoker.registry();
    let version = query.get("FunctionVersion");
    let marker = query.get("Marker").filter(|m| !m.is_empty());
    let all: Vec<_> = registry
        .aliases_of(&name)
        .into_iter()
        .filter(|a| {
            version.is_none_or(|v| {
                a.function_version == v || a.additional_version_weights.contains_key(v)
            })
        })
        .filter(|a| marker.is_none_or(|m| a.name.as_str() > m))
        .collect();
    let page: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|a| alias_configuration(a, registry.scope()))
        .collect();
    let mut body = json!({ "Aliases": page });
    if all.len() > limit {
        body["NextMarker"] = json!(all[limit - 1].name);
    }
    Ok(json(StatusCode::OK, &body))
}
