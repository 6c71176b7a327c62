//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode,
//! UpdateFunctionConfiguration, DeleteFunction.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use base64::Engine;
use bytes::Bytes;
use http::StatusCode;
use nubo_lambda::function::{ConfigurationUpdate, FunctionSpec};
use nubo_lambda::runtimes::{family, Family};
use nubo_lambda::{validate, ControlError, FunctionSnapshot};
use nubo_wire::arn::FunctionRef;
use nubo_wire::AwsError;
use serde_json::{json, Value};

use super::shapes::{
    function_configuration, CodeInput, CreateFunctionInput, UpdateCodeInput,
    UpdateConfigurationInput,
};
use super::{json_body, max_items, required};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

/// Resolves `{FunctionName}` + `?Qualifier=` to a snapshot.
pub(crate) fn resolve(
    state: &EdgeState,
    function: &str,
    query: &Query,
) -> Result<(FunctionRef, FunctionSnapshot), ApiError> {
    let registry = state.invoker.registry();
    let reference = FunctionRef::parse(function, registry.scope())?
        .with_query_qualifier(query.get("Qualifier"))?;
    let snapshot = registry.resolve(&reference.name, reference.qualifier.as_deref())?;
    Ok((reference, snapshot))
}

fn registry_reserved(state: &EdgeState, name: &str) -> Option<u32> {
    state
        .invoker
        .registry()
        .get(name)
        .and_then(|f| f.reserved_concurrency)
}

/// The zip bytes of a `Code` / UpdateFunctionCode input.
fn zip_bytes(
    zip_file: Option<&str>,
    s3_bucket: Option<&str>,
    image_uri: Option<&str>,
) -> Result<Bytes, ApiError> {
    if let Some(zip) = zip_file {
        return base64::engine::general_purpose::STANDARD
            .decode(zip)
            .map(Bytes::from)
            .map_err(|_| ApiError(AwsError::invalid_parameter("Could not unzip uploaded file. Please check your file, then try to upload again.")));
    }
    if image_uri.is_some() {
        return Err(ApiError(AwsError::invalid_parameter(
            "Container image functions are not supported by Nubo; upload a .zip package",
        )));
    }
    if s3_bucket.is_some() {
        return Err(ApiError(AwsError::invalid_parameter(
            "Nubo does not serve S3 yet; upload the package directly as ZipFile",
        )));
    }
    Err(ApiError(AwsError::invalid_parameter(
        "Please provide a source for function code.",
    )))
}

fn spec_from(
    input: CreateFunctionInput,
    scope: &nubo_wire::Scope,
) -> Result<(FunctionSpec, Bytes), ApiError> {
    let raw_name = input
        .function_name
        .ok_or_else(|| required("functionName"))?;
    // CreateFunction also accepts an ARN naming this account's function.
    let name = if raw_name.contains(':') {
        let reference = FunctionRef::parse(&raw_name, scope)?;
        if reference.qualifier.is_some() {
            return Err(ApiError(AwsError::invalid_parameter(
                "Function name cannot carry a qualifier when creating a function",
            )));
        }
        reference.name
    } else {
        validate::function_name(&raw_name)?
    };
    let role = validate::role(&input.role.ok_or_else(|| required("role"))?)?;
    if input.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(ApiError(AwsError::invalid_parameter(
            "Container image functions are not supported by Nubo; use PackageType Zip",
        )));
    }
    let runtime = validate::runtime(&input.runtime.ok_or_else(|| {
        ApiError(AwsError::invalid_parameter(
            "Runtime is required for .zip file deployment packages.",
        ))
    })?)?;
    let handler = input
        .handler
        .as_deref()
        .map(validate::handler)
        .transpose()?;
    if handler.is_none() && !matches!(family(&runtime), Family::Provided) {
        return Err(ApiError(AwsError::invalid_parameter(format!(
            "Handler is required for the {runtime} runtime."
        ))));
    }
    let environment = input.environment.unwrap_or_default().variables;
    validate::environment(&environment)?;
    let code: CodeInput = input.code.ok_or_else(|| required("code"))?;
    let zip = zip_bytes(
        code.zip_file.as_deref(),
        code.s3_bucket.as_deref().or(code.s3_key.as_deref()),
        code.image_uri.as_deref(),
    )?;
    let spec = FunctionSpec {
        name,
        runtime,
        role,
        handler,
        description: validate::description(input.description.as_deref().unwrap_or(""))?,
        timeout_seconds: validate::timeout_seconds(input.timeout.unwrap_or(3))?,
        memory_mb: validate::memory_mb(input.memory_size.unwrap_or(128))?,
        ephemeral_storage_mb: validate::ephemeral_mb(
            input.ephemeral_storage.map(|e| e.size).unwrap_or(512),
        )?,
        environment,
        tags: input.tags.unwrap_or_default(),
        architectures: validate::architectures(&input.architectures.unwrap_or_default())?,
        tracing_mode: validate::tracing_mode(
            input
                .tracing_config
                .and_then(|t| t.mode)
                .as_deref()
                .unwrap_or("PassThrough"),
        )?,
        layers: input.layers.unwrap_or_default(),
        dead_letter_target: input
            .dead_letter_config
            .and_then(|d| d.target_arn)
            .filter(|t| !t.is_empty()),
        log_format: validate::log_format(
            input
                .logging_config
                .and_then(|l| l.log_format)
                .as_deref()
                .unwrap_or("Text"),
        )?,
    };
    Ok((spec, zip))
}

/// `POST /2015-03-31/functions` → 201 FunctionConfiguration.
pub(crate) async fn create(State(state): State<Arc<EdgeState>>, req: Request) -> ApiResult {
    let input: CreateFunctionInput = json_body(req.into_body(), "CreateFunction").await?;
    let registry = state.invoker.registry();
    let publish = input.publish == Some(true);
    let (spec, zip) = spec_from(input, registry.scope())?;
    let mut created = registry.create(spec, zip).await?;
    if publish {
        created = registry
            .publish_version(&created.name, None, None, None)
            .await?;
    }
    Ok(json(
        StatusCode::CREATED,
        &function_configuration(&created, registry.scope(), false),
    ))
}

/// `GET /2015-03-31/functions/{FunctionName}` → `{Configuration, Code, Tags}`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (reference, snapshot) = resolve(&state, &function, &query)?;
    let scope = state.invoker.registry().scope();
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:4750");
    let mut body = json!({
        "Configuration": function_configuration(&snapshot, scope, reference.qualifier.is_some()),
        "Code": {
            "RepositoryType": "S3",
            "Location": state.code_urls.location(host, &snapshot.code.sha256_hex),
        },
    });
    if !snapshot.tags.is_empty() {
        body["Tags"] = json!(snapshot.tags);
    }
    if let Some(n) = registry_reserved(&state, &snapshot.name) {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /2015-03-31/functions/{FunctionName}/configuration`.
pub(crate) async fn get_configuration(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let (reference, snapshot) = resolve(&state, &function, &query)?;
    let scope = state.invoker.registry().scope();
    Ok(json(
        StatusCode::OK,
        &function_configuration(&snapshot, scope, reference.qualifier.is_some()),
    ))
}

/// `GET /2015-03-31/functions` with `Marker` / `MaxItems` → `{Functions, NextMarker}`.
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let max_items = max_items(&query, 50, 10_000)?;
    let registry = state.invoker.registry();
    // The marker is the last name returned: names are unique and ordered, so pages stay stable
    // while functions are added or removed.
    let marker = query.get("Marker").filter(|m| !m.is_empty());
    let all = registry.list();
    let mut page = all
        .iter()
        .filter(|f| marker.is_none_or(|m| f.name.as_str() > m));
    let functions: Vec<Value> = page
        .by_ref()
        .take(max_items)
        .map(|f| function_configuration(f, registry.scope(), false))
        .collect();
    let mut body = json!({ "Functions": functions });
    if page.next().is_some() {
        if let Some(last) = functions.last() {
            body["NextMarker"] = last["FunctionName"].clone();
        }
    }
    Ok(json(StatusCode::OK, &body))
}

/// `PUT /2015-03-31/functions/{FunctionName}/code`.
pub(crate) async fn update_code(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    req: Request,
) -> ApiResult {
    let (_, snapshot) = resolve(&state, &function, &Query::default())?;
    let input: UpdateCodeInput = json_body(req.into_body(), "UpdateFunctionCode").await?;
    if let Some(architectures) = &input.architectures {
        validate::architectures(architectures)?;
    }
    let zip = zip_bytes(
        input.zip_file.as_deref(),
        input.s3_bucket.as_deref().or(input.s3_key.as_deref()),
        input.image_uri.as_deref(),
    )?;
    let registry = state.invoker.registry();
    if input.dry_run == Some(true) {
        return Ok(json(
            StatusCode::OK,
            &function_configuration(&snapshot, registry.scope(), false),
        ));
    }
    let mut updated = registry
        .update_code(&snapshot.name, zip, input.revision_id.as_deref())
        .await?;
    if input.publish == Some(true) {
        updated = registry
            .publish_version(&updated.name, None, None, None)
            .await?;
    }
    Ok(json(
        StatusCode::OK,
        &function_configuration(&updated, registry.scope(), false),
    ))
}

fn update_from(input: UpdateConfigurationInput) -> Result<ConfigurationUpdate, ControlError> {
    let environment = input.environment.map(|e| e.variables);
    if let Some(variables) = &environment {
        validate::environment(variables)?;
    }
    Ok(ConfigurationUpdate {
        runtime: input
            .runtime
            .as_deref()
            .map(validate::runtime)
            .transpose()?,
        role: input.role.as_deref().map(validate::role).transpose()?,
        handler: input
            .handler
            .as_deref()
            .map(validate::handler)
            .transpose()?,
        description: input
            .description
            .as_deref()
            .map(validate::description)
            .transpose()?,
        timeout_seconds: input.timeout.map(validate::timeout_seconds).transpose()?,
        memory_mb: input.memory_size.map(validate::memory_mb).transpose()?,
        ephemeral_storage_mb: input
            .ephemeral_storage
            .map(|e| validate::ephemeral_mb(e.size))
            .transpose()?,
        environment,
        tracing_mode: input
            .tracing_config
            .and_then(|t| t.mode)
            .as_deref()
            .map(validate::tracing_mode)
            .transpose()?,
        layers: input.layers,
        dead_letter_target: input
            .dead_letter_config
            .map(|d| d.target_arn.filter(|t| !t.is_empty())),
        log_format: input
            .logging_config
            .and_then(|l| l.log_format)
            .as_deref()
            .map(validate::log_format)
            .transpose()?,
        revision_id: input.revision_id,
    })
}

/// `PUT /2015-03-31/functions/{FunctionName}/configuration`.
pub(crate) async fn update_configuration(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    req: Request,
) -> ApiResult {
    let (_, snapshot) = resolve(&state, &function, &Query::default())?;
    let input: UpdateConfigurationInput =
        json_body(req.into_body(), "UpdateFunctionConfiguration").await?;
    let update = update_from(input)?;
    let registry = state.invoker.registry();
    let updated = registry
        .update_configuration(&snapshot.name, update)
        .await?;
    Ok(json(
        StatusCode::OK,
        &function_configuration(&updated, registry.scope(), false),
    ))
}

/// `DELETE /2015-03-31/functions/{FunctionName}` → 204.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let registry = state.invoker.registry();
    let reference = FunctionRef::parse(&function, registry.scope())?
        .with_query_qualifier(query.get("Qualifier"))?;
    registry
        .delete(&reference.name, reference.qualifier.as_deref())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
