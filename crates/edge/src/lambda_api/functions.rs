//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode,
//! UpdateFunctionConfiguration, DeleteFunction.
//!
//! Inputs are checked as Lambda checks them: every member against its model constraints first,
//! all failures in one `ValidationException`; then Lambda's own rules, one
//! `InvalidParameterValueException` at a time.

use std::sync::Arc;

use axum::extract::{Request, State};
use bytes::Bytes;
use http::StatusCode;
use nubo_lambda::control::records::{ConfigurationUpdate, FunctionSpec};
use nubo_lambda::control::validate;
use nubo_wire::arn::{FunctionRef, InputShapes, NameShape, NamedFunction, RequestedFunction};
use nubo_wire::{AwsError, FunctionName, Scope, Violation, Violations};
use serde_json::{json, Value};

use super::reference::Function;
use super::shapes::{
    function_configuration, CreateFunctionInput, UpdateCodeInput, UpdateConfigurationInput,
};
use super::{json_body, page, registry};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::{EdgeState, RequestScope};

/// A member that is required by the model.
fn present<T>(value: Option<T>, member: &str, model: &mut Violations) -> Option<T> {
    if value.is_none() {
        model.push(Violation::required(member));
    }
    value
}

/// CreateFunction's input → the function to create: model constraints, then Lambda's rules.
fn spec_from(
    input: CreateFunctionInput,
    scope: &Scope,
    s3_zip: Option<Bytes>,
) -> Result<(FunctionSpec, Bytes), ApiError> {
    let mut model = Violations::new();
    let raw_name = present(input.function_name.as_deref(), "functionName", &mut model);
    let named = raw_name.and_then(|n| {
        model.absorb(NamedFunction::check(
            n,
            NameShape::FunctionName,
            "functionName",
        ))
    });
    if let Some(runtime) = input.runtime.as_deref() {
        model.check(validate::runtime(runtime));
    }
    let role = present(input.role.as_deref(), "role", &mut model)
        .and_then(|role| model.check(validate::role(role)));
    let handler = input
        .handler
        .as_deref()
        .and_then(|h| model.check(validate::handler(h)));
    let code = present(input.code.as_ref(), "code", &mut model);
    let description = model.check(validate::description(
        input.description.as_deref().unwrap_or(""),
    ));
    let timeout = model.check(validate::timeout_seconds(input.timeout.unwrap_or(3)));
    let memory = model.check(validate::memory_mb(input.memory_size.unwrap_or(128)));
    if let Some(package_type) = input.package_type.as_deref() {
        model.check(validate::package_type(package_type));
    }
    let environment_set = input.environment.is_some();
    let environment = input.environment.unwrap_or_default().variables;
    model.check(validate::environment_keys(&environment));
    let tracing_mode = model.check(validate::tracing_mode(
        input
            .tracing_config
            .and_then(|t| t.mode)
            .as_deref()
            .unwrap_or("PassThrough"),
    ));
    let architectures = model.check(validate::architectures(
        &input.architectures.unwrap_or_default(),
    ));
    let ephemeral = model.check(validate::ephemeral_mb(
        input.ephemeral_storage.map(|e| e.size).unwrap_or(512),
    ));
    let logging_config = input.logging_config.unwrap_or_default();
    let log_format = model.check(validate::log_format(
        logging_config.log_format.as_deref().unwrap_or("Text"),
    ));
    let logging = validate::logging(
        logging_config.application_log_level.as_deref(),
        logging_config.system_log_level.as_deref(),
        logging_config.log_group.as_deref(),
        &mut model,
    );
    model.into_result()?;
    let (
        Some(named),
        Some(role),
        Some(code),
        Some(description),
        Some(timeout_seconds),
        Some(memory_mb),
        Some(tracing_mode),
        Some(architectures),
        Some(ephemeral_storage_mb),
        Some(log_format),
    ) = (
        named,
        role,
        code,
        description,
        timeout,
        memory,
        tracing_mode,
        architectures,
        ephemeral,
        log_format,
    )
    else {
        return Err(ApiError(AwsError::service("a checked member went missing")));
    };

    // Lambda's own rules.
    validate::unqualified_for_create(named.qualifier)?;
    // The model allows 140 characters; a function's own name holds 64, and Lambda says so in
    // the model's words, as an invalid parameter.
    let raw_name = raw_name.unwrap_or_default();
    if named.name.chars().count() > 64 {
        return Err(ApiError(AwsError::invalid_parameter(
            Violations::from(Violation::max_length(raw_name, "functionName", 64))
                .message()
                .unwrap_or_default(),
        )));
    }
    // CreateFunction also accepts an ARN naming a function of this scope.
    let name = match named.account.or(named.region) {
        Some(_) => {
            RequestedFunction::parse(raw_name, None, scope, InputShapes::FUNCTION_NAME)?
                .to_ref(scope)?
                .name
        }
        None => FunctionName::new(named.name)?,
    };
    validate::zip_package_type(input.package_type.as_deref())?;
    let runtime = validate::runtime_and_handler(input.runtime.as_deref(), handler.as_deref())?;
    validate::role_in_account(&role, scope)?;
    validate::environment(&environment)?;
    let tags = input.tags.unwrap_or_default();
    validate::tags(false, tags.len())?;
    let zip = match s3_zip {
        Some(zip) => zip,
        None => validate::zip_package(
            code.zip_file.as_deref(),
            code.s3_bucket.as_deref().or(code.s3_key.as_deref()),
            code.image_uri.as_deref(),
        )?,
    };
    let spec = FunctionSpec {
        name,
        runtime,
        role,
        handler,
        description,
        timeout_seconds,
        memory_mb,
        ephemeral_storage_mb,
        environment,
        environment_set,
        tags,
        architectures,
        tracing_mode,
        layers: input.layers.unwrap_or_default(),
        dead_letter_target: input
            .dead_letter_config
            .and_then(|d| d.target_arn)
            .filter(|t| !t.is_empty()),
        log_format,
        logging,
    };
    Ok((spec, zip))
}

/// Code named by `S3Bucket` + `S3Key`, read from Nubo's own S3.
async fn s3_code(
    state: &EdgeState,
    bucket: Option<&str>,
    key: Option<&str>,
) -> Result<Option<Bytes>, ApiError> {
    match (bucket, key) {
        (Some(bucket), Some(key)) => {
            Ok(Some(super::layers::zip_from_s3(state, bucket, key).await?))
        }
        _ => Ok(None),
    }
}

/// `POST /2015-03-31/functions` → 201 FunctionConfiguration.
pub(crate) async fn create(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    req: Request,
) -> ApiResult {
    let input: CreateFunctionInput = json_body(req, "CreateFunction").await?;
    let registry = registry(&state);
    let publish = input.publish == Some(true);
    let s3_zip = match input.code.as_ref() {
        Some(code) if code.zip_file.is_none() => {
            s3_code(&state, code.s3_bucket.as_deref(), code.s3_key.as_deref()).await?
        }
        _ => None,
    };
    let (spec, zip) = spec_from(input, &scope, s3_zip)?;
    let function = FunctionRef::new(scope.clone(), spec.name.clone(), None);
    let mut created = registry.create(&scope, spec, zip).await?;
    if publish {
        created = registry.publish_with_change(&function).await?;
    }
    let arn_qualifier = publish.then_some(created.version.as_str());
    Ok(json(
        StatusCode::CREATED,
        &function_configuration(&created, &scope, arn_qualifier),
    ))
}

/// `GET /2015-03-31/functions/{FunctionName}` → `{Configuration, Code, Tags}`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let registry = registry(&state);
    let snapshot = registry.resolve(&function)?;
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:4750");
    let mut body = json!({
        "Configuration": function_configuration(&snapshot, &function.scope, function.qualifier.as_deref()),
        "Code": {
            "RepositoryType": "S3",
            "Location": state.code_urls.location(host, &snapshot.code.sha256_hex),
        },
    });
    if !snapshot.tags.is_empty() {
        body["Tags"] = json!(snapshot.tags);
    }
    if let (Some(n), _) = registry.concurrency(&function.scope, &function.name) {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /2015-03-31/functions/{FunctionName}/configuration`.
pub(crate) async fn get_configuration(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    let snapshot = registry(&state).resolve(&function)?;
    Ok(json(
        StatusCode::OK,
        &function_configuration(&snapshot, &function.scope, function.qualifier.as_deref()),
    ))
}

/// `GET /2015-03-31/functions` with `Marker` / `MaxItems` → `{Functions, NextMarker}`; with
/// `FunctionVersion=ALL`, every version of every function, each with its qualified ARN. The marker
/// names the last entry returned; entries are unique and ordered, so pages stay stable while
/// functions are added or removed.
pub(crate) async fn list(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    query: Query,
) -> ApiResult {
    let registry = registry(&state);
    let (all, all_versions) = match query.get("FunctionVersion") {
        None => (registry.list(&scope), false),
        Some("ALL") => (registry.list_all_versions(&scope), true),
        Some(other) => {
            return Err(Violation::enum_set(other, "functionVersion", &["ALL"]).into());
        }
    };
    let (page, next) = page(&all, &query, (50, 10_000), |f| {
        if all_versions {
            format!("{}:{}", f.name, f.version)
        } else {
            f.name.clone()
        }
    })?;
    let functions: Vec<Value> = page
        .iter()
        .map(|f| function_configuration(f, &scope, all_versions.then_some(f.version.as_str())))
        .collect();
    let mut body = json!({ "Functions": functions });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json(StatusCode::OK, &body))
}

/// `PUT /2015-03-31/functions/{FunctionName}/code`.
pub(crate) async fn update_code(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let registry = registry(&state);
    registry.resolve(&function)?;
    let function = function.qualified(None);
    let snapshot = registry.function(&function)?;
    let input: UpdateCodeInput = json_body(req, "UpdateFunctionCode").await?;
    if let Some(architectures) = &input.architectures {
        validate::architectures(architectures)?;
    }
    let s3_zip = match &input.zip_file {
        None => s3_code(&state, input.s3_bucket.as_deref(), input.s3_key.as_deref()).await?,
        Some(_) => None,
    };
    let zip = match s3_zip {
        Some(zip) => zip,
        None => validate::zip_package(
            input.zip_file.as_deref(),
            input.s3_bucket.as_deref().or(input.s3_key.as_deref()),
            input.image_uri.as_deref(),
        )?,
    };
    if input.dry_run == Some(true) {
        return Ok(json(
            StatusCode::OK,
            &function_configuration(&snapshot, &function.scope, None),
        ));
    }
    let mut updated = registry
        .update_code(&function, zip, input.revision_id.as_deref())
        .await?;
    let publish = input.publish == Some(true);
    if publish {
        updated = registry.publish_with_change(&function).await?;
    }
    let arn_qualifier = publish.then_some(updated.version.as_str());
    Ok(json(
        StatusCode::OK,
        &function_configuration(&updated, &function.scope, arn_qualifier),
    ))
}

/// UpdateFunctionConfiguration's input → the update: model constraints, then Lambda's rules.
fn update_from(
    input: UpdateConfigurationInput,
    scope: &Scope,
) -> Result<ConfigurationUpdate, ApiError> {
    let mut model = Violations::new();
    let runtime = input.runtime.as_deref();
    if let Some(runtime) = runtime {
        model.check(validate::runtime(runtime));
    }
    let role = input
        .role
        .as_deref()
        .and_then(|r| model.check(validate::role(r)));
    let handler = input
        .handler
        .as_deref()
        .and_then(|h| model.check(validate::handler(h)));
    let description = input
        .description
        .as_deref()
        .and_then(|d| model.check(validate::description(d)));
    let timeout_seconds = input
        .timeout
        .and_then(|t| model.check(validate::timeout_seconds(t)));
    let memory_mb = input
        .memory_size
        .and_then(|m| model.check(validate::memory_mb(m)));
    let environment = input.environment.map(|e| e.variables);
    if let Some(variables) = &environment {
        model.check(validate::environment_keys(variables));
    }
    let tracing_mode = input
        .tracing_config
        .and_then(|t| t.mode)
        .and_then(|m| model.check(validate::tracing_mode(&m)));
    let ephemeral_storage_mb = input
        .ephemeral_storage
        .and_then(|e| model.check(validate::ephemeral_mb(e.size)));
    let logging_config = input.logging_config.unwrap_or_default();
    let log_format = logging_config
        .log_format
        .as_deref()
        .and_then(|f| model.check(validate::log_format(f)));
    let logging = validate::logging(
        logging_config.application_log_level.as_deref(),
        logging_config.system_log_level.as_deref(),
        logging_config.log_group.as_deref(),
        &mut model,
    );
    model.into_result()?;

    let runtime = runtime.map(validate::supported_runtime).transpose()?;
    if let Some(role) = &role {
        validate::role_in_account(role, scope)?;
    }
    if let Some(variables) = &environment {
        validate::environment(variables)?;
    }
    Ok(ConfigurationUpdate {
        runtime,
        role,
        handler,
        description,
        timeout_seconds,
        memory_mb,
        ephemeral_storage_mb,
        environment,
        tracing_mode,
        layers: input.layers,
        dead_letter_target: input
            .dead_letter_config
            .map(|d| d.target_arn.filter(|t| !t.is_empty())),
        log_format,
        logging,
        revision_id: input.revision_id,
    })
}

/// `PUT /2015-03-31/functions/{FunctionName}/configuration`.
pub(crate) async fn update_configuration(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let registry = registry(&state);
    registry.resolve(&function)?;
    let function = function.qualified(None);
    let input: UpdateConfigurationInput = json_body(req, "UpdateFunctionConfiguration").await?;
    let update = update_from(input, &function.scope)?;
    let updated = registry.update_configuration(&function, update).await?;
    Ok(json(
        StatusCode::OK,
        &function_configuration(&updated, &function.scope, None),
    ))
}

/// `DELETE /2015-03-31/functions/{FunctionName}` → 204.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    registry(&state).delete(&function).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
