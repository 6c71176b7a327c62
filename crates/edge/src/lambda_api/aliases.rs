//! Aliases: CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use http::StatusCode;
use nubo_lambda::control::aliases::alias_not_found;
use nubo_lambda::control::validate;
use nubo_lambda::AliasRecord;
use nubo_wire::names::{check_version, ALIAS_PATTERN};
use nubo_wire::{AliasName, AwsError, Scope, Violation, Violations};
use serde::Deserialize;
use serde_json::{json, Value};

use super::reference::Unqualified;
use super::{json_body, page, registry};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

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

/// The alias of `/aliases/{alias}` routes.
#[derive(Debug, Deserialize)]
pub(crate) struct AliasPath {
    alias: String,
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

/// The `Alias` shape: 1–128 characters and its pattern, each broken constraint counted.
fn alias_name(value: String, model: &mut Violations) -> Option<AliasName> {
    let length = value.chars().count();
    let characters_fit = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !value.bytes().all(|b| b.is_ascii_digit());
    if length == 0 {
        model.push(Violation::min_length(&value, "name", 1));
    } else if length > 128 {
        model.push(Violation::max_length(&value, "name", 128));
    }
    if !characters_fit {
        model.push(Violation::pattern(&value, "name", ALIAS_PATTERN));
    }
    AliasName::new(value, "name").ok()
}

/// The `VersionWithLatestPublished` shape: 1–1024 characters, `$LATEST`, `$LATEST.PUBLISHED` or
/// a number (what it names is decided against the function: `$LATEST.PUBLISHED` names nothing).
fn function_version(value: String, model: &mut Violations) -> Option<String> {
    const PATTERN: &str = "(\\$LATEST(\\.PUBLISHED)?|[0-9]+)";
    let length = value.chars().count();
    let mut fits = true;
    if length == 0 {
        model.push(Violation::min_length(&value, "functionVersion", 1));
        fits = false;
    } else if length > 1024 {
        model.push(Violation::max_length(&value, "functionVersion", 1024));
        fits = false;
    }
    if value != "$LATEST.PUBLISHED" && check_version(&value, "functionVersion").is_err() {
        model.push(Violation::pattern(&value, "functionVersion", PATTERN));
        fits = false;
    }
    fits.then_some(value)
}

/// `POST /2015-03-31/functions/{FunctionName}/aliases` → 201.
pub(crate) async fn create(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    req: Request,
) -> ApiResult {
    let registry = registry(&state);
    let input: AliasInput = json_body(req, "CreateAlias").await?;
    // Every member against the model at once, as Lambda reports them.
    let mut model = Violations::new();
    let alias = match input.name {
        Some(name) => alias_name(name, &mut model),
        None => {
            model.push(Violation::required("name"));
            None
        }
    };
    let version = match input.function_version {
        Some(version) => function_version(version, &mut model),
        None => {
            model.push(Violation::required("functionVersion"));
            None
        }
    };
    let description = input.description.unwrap_or_default();
    model.check(validate::description(&description));
    model.into_result()?;
    let (Some(alias), Some(version)) = (alias, version) else {
        return Err(ApiError(AwsError::service("a checked member went missing")));
    };
    let weights = input
        .routing_config
        .and_then(|r| r.additional_version_weights)
        .unwrap_or_default();
    let created = registry
        .create_alias(&function, &alias, &version, description, weights)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &alias_configuration(&created, &function.scope),
    ))
}

/// `GET /2015-03-31/functions/{FunctionName}/aliases/{Name}`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    Path(AliasPath { alias }): Path<AliasPath>,
) -> ApiResult {
    let found = registry(&state)
        .alias(&function.scope, &function.name, &alias)
        .ok_or_else(|| ApiError::from(alias_not_found(&function, &alias)))?;
    Ok(json(
        StatusCode::OK,
        &alias_configuration(&found, &function.scope),
    ))
}

/// `PUT /2015-03-31/functions/{FunctionName}/aliases/{Name}`.
pub(crate) async fn update(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    Path(AliasPath { alias }): Path<AliasPath>,
    req: Request,
) -> ApiResult {
    let input: AliasInput = json_body(req, "UpdateAlias").await?;
    let mut model = Violations::new();
    if let Some(v) = &input.function_version {
        function_version(v.clone(), &mut model);
    }
    if let Some(d) = &input.description {
        model.check(validate::description(d));
    }
    model.into_result()?;
    let updated = registry(&state)
        .update_alias(
            &function,
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
        &alias_configuration(&updated, &function.scope),
    ))
}

/// `DELETE /2015-03-31/functions/{FunctionName}/aliases/{Name}` → 204.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    Path(AliasPath { alias }): Path<AliasPath>,
) -> ApiResult {
    registry(&state).delete_alias(&function, &alias).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /2015-03-31/functions/{FunctionName}/aliases` → `{Aliases, NextMarker}`, optionally only
/// those that route to `FunctionVersion`.
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    Unqualified(function, _): Unqualified,
    query: Query,
) -> ApiResult {
    let version = query.get("FunctionVersion");
    let all: Vec<_> = registry(&state)
        .aliases_of(&function.scope, &function.name)
        .into_iter()
        .filter(|a| {
            version.is_none_or(|v| {
                a.function_version == v || a.additional_version_weights.contains_key(v)
            })
        })
        .collect();
    let (page, next) = page(&all, &query, (50, 10_000), |a| a.name.clone())?;
    let aliases: Vec<Value> = page
        .iter()
        .map(|a| alias_configuration(a, &function.scope))
        .collect();
    let mut body = json!({ "Aliases": aliases });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json(StatusCode::OK, &body))
}
