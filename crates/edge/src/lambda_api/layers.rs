//! `/2018-10-31/layers…`: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn
//! (`?find=LayerVersion&Arn=`), ListLayerVersions, ListLayers, DeleteLayerVersion and the layer
//! version permissions (Add/Get/RemoveLayerVersionPermission). The layers live in the lambda layer
//! (`nubo_lambda::control::layers`); this module checks the model and renders the shapes.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use bytes::Bytes;
use http::StatusCode;
use nubo_lambda::control::layers::{
    parse_version_arn, LayerPermission, LayerSpec, LayerVersionRecord,
};
use nubo_lambda::control::validate;
use nubo_wire::{AwsError, Scope, Violation, Violations};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_body, page, registry};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::{EdgeState, RequestScope};

const LAYER_NAME: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";
const LAYER_VERSION_ARN: &str = "((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))";
const STATEMENT_ID: &str = "([a-zA-Z0-9-_]+)";
const PRINCIPAL: &str = "\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root";
const ORGANIZATION_ID: &str = "o-[a-z0-9]{10,32}";
const MAX_LAYER_ZIP: usize = 50 * 1024 * 1024;

/// `Content`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
}

/// PublishLayerVersion's body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    description: Option<String>,
    content: Option<ContentInput>,
    compatible_runtimes: Option<Vec<String>>,
    compatible_architectures: Option<Vec<String>>,
    license_info: Option<String>,
}

/// AddLayerVersionPermission's body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermissionInput {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    organization_id: Option<String>,
}

fn word_chars(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `{LayerName}` (a name or the layer's ARN) → (scope, name): an ARN names its own scope.
fn layer_name(raw: &str, scope: &Scope) -> Result<(Scope, String), ApiError> {
    let mut violations = Violations::new();
    if raw.len() > 140 {
        violations.push(Violation::max_length(raw, "layerName", 140));
    }
    let parsed = if word_chars(raw) {
        Some((scope.clone(), raw.to_owned()))
    } else {
        parse_version_arn(&format!("{raw}:1")).map(|(scope, name, _)| (scope, name))
    };
    if parsed.is_none() {
        violations.push(Violation::pattern(raw, "layerName", LAYER_NAME));
    }
    violations.into_result()?;
    parsed.ok_or_else(|| ApiError(AwsError::service("a checked layer name went missing")))
}

fn version_number(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| {
        ApiError(AwsError::invalid_parameter(format!(
            "Invalid version number: {raw}"
        )))
    })
}

/// `GetLayerVersionResponse` / `PublishLayerVersionResponse`.
fn layer_version(
    record: &LayerVersionRecord,
    scope: &Scope,
    state: &EdgeState,
    host: &str,
) -> Value {
    let mut body = json!({
        "Content": {
            "Location": state.code_urls.location(host, &record.code.sha256_hex),
            "CodeSha256": record.code.sha256_base64,
            "CodeSize": record.code.size,
        },
        "LayerArn": record.layer_arn(scope),
        "LayerVersionArn": record.version_arn(scope),
        "Description": record.description,
        "CreatedDate": record.created_date,
        "Version": record.version,
        "CompatibleRuntimes": record.compatible_runtimes,
        "CompatibleArchitectures": record.compatible_architectures,
    });
    if let Some(license) = &record.license_info {
        body["LicenseInfo"] = json!(license);
    }
    body
}

/// `LayerVersionsListItem`.
fn list_item(record: &LayerVersionRecord, scope: &Scope) -> Value {
    let mut item = json!({
        "LayerVersionArn": record.version_arn(scope),
        "Version": record.version,
        "Description": record.description,
        "CreatedDate": record.created_date,
        "CompatibleRuntimes": record.compatible_runtimes,
        "CompatibleArchitectures": record.compatible_architectures,
    });
    if let Some(license) = &record.license_info {
        item["LicenseInfo"] = json!(license);
    }
    item
}

fn host(req: &Request) -> String {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:4750")
        .to_owned()
}

/// A zip named by bucket and key, from Nubo's own S3 (what CreateFunction and
/// PublishLayerVersion accept instead of `ZipFile`), with AWS's error when it cannot be read.
pub(crate) async fn zip_from_s3(
    state: &EdgeState,
    bucket: &str,
    key: &str,
) -> Result<Bytes, ApiError> {
    let refuse = |code: &str, message: &str| {
        ApiError(AwsError::invalid_parameter(format!(
            "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
        )))
    };
    let read = match state
        .objects
        .get_object(bucket, key, &Default::default(), None)
        .await
    {
        Ok(read) => read,
        Err(e) => {
            let aws = crate::s3_api::errors::from_objects(e);
            return Err(refuse(aws.code, &aws.message));
        }
    };
    if read.record.size > MAX_LAYER_ZIP as u64 {
        return Err(ApiError(AwsError::invalid_parameter(format!(
            "Unzipped size must be smaller than {} bytes",
            nubo_store::MAX_UNZIPPED_BYTES
        ))));
    }
    let mut body = read.body;
    let mut bytes = Vec::with_capacity(read.record.size as usize);
    while let Some(piece) = body.next_piece().await.map_err(|e| {
        refuse(
            "InternalError",
            &crate::s3_api::errors::from_objects(e).message,
        )
    })? {
        bytes.extend_from_slice(&piece);
    }
    Ok(Bytes::from(bytes))
}

/// PublishLayerVersion's input → (spec, zip): every model violation first.
async fn publish_input(
    state: &EdgeState,
    input: PublishInput,
) -> Result<(LayerSpec, Bytes), ApiError> {
    let mut model = Violations::new();
    let description = model.check(validate::description(
        input.description.as_deref().unwrap_or(""),
    ));
    let runtimes = input.compatible_runtimes.unwrap_or_default();
    if runtimes.len() > 15 {
        model.push(Violation::max_length(
            format!("{runtimes:?}"),
            "compatibleRuntimes",
            15,
        ));
    }
    for runtime in &runtimes {
        model.check(validate::runtime(runtime).map_err(|_| {
            Violation::enum_set(
                runtime,
                "compatibleRuntimes",
                nubo_lambda::runtimes::SUPPORTED,
            )
        }));
    }
    let architectures = input.compatible_architectures.unwrap_or_default();
    if architectures.len() > 2 {
        model.push(Violation::max_length(
            format!("{architectures:?}"),
            "compatibleArchitectures",
            2,
        ));
    }
    for architecture in &architectures {
        if architecture != "x86_64" && architecture != "arm64" {
            model.push(Violation::enum_set(
                architecture,
                "compatibleArchitectures",
                &["x86_64", "arm64"],
            ));
        }
    }
    if let Some(license) = &input.license_info {
        if license.len() > 512 {
            model.push(Violation::max_length(license, "licenseInfo", 512));
        }
    }
    if input.content.is_none() {
        model.push(Violation::required("content"));
    }
    model.into_result()?;
    let content = input.content.unwrap_or_default();
    let zip = match (&content.zip_file, &content.s3_bucket, &content.s3_key) {
        (Some(_), _, _) => validate::zip_package(content.zip_file.as_deref(), None, None)?,
        (None, Some(bucket), Some(key)) => zip_from_s3(state, bucket, key).await?,
        _ => {
            return Err(ApiError(AwsError::invalid_parameter(
                "Please provide a source for function code.",
            )))
        }
    };
    let spec = LayerSpec {
        description: description.unwrap_or_default(),
        compatible_runtimes: runtimes,
        compatible_architectures: architectures,
        license_info: input.license_info,
    };
    Ok((spec, zip))
}

/// `POST /2018-10-31/layers/{LayerName}/versions` → 201.
pub(crate) async fn publish(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(layer): Path<String>,
    req: Request,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    let host = host(&req);
    let input: PublishInput = json_body(req, "PublishLayerVersion").await?;
    let (spec, zip) = publish_input(&state, input).await?;
    let record = registry(&state)
        .publish_layer_version(&scope, &name, spec, zip)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &layer_version(&record, &scope, &state, &host),
    ))
}

/// `GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`.
pub(crate) async fn get(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((layer, version)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    let record = registry(&state).layer_version(&scope, &name, version_number(&version)?)?;
    Ok(json(
        StatusCode::OK,
        &layer_version(&record, &scope, &state, &host(&req)),
    ))
}

/// `GET /2018-10-31/layers?find=LayerVersion&Arn=…` (GetLayerVersionByArn), else ListLayers.
pub(crate) async fn list_or_find(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    query: Query,
    req: Request,
) -> ApiResult {
    if query.get("find") == Some("LayerVersion") {
        let Some(arn) = query.get("Arn") else {
            return Err(Violation::required("arn").into());
        };
        let Some((owner, name, version)) = parse_version_arn(arn) else {
            let mut violations = Violations::new();
            if arn.len() > 2048 {
                violations.push(Violation::max_length(arn, "arn", 2048));
            }
            violations.push(Violation::pattern(arn, "arn", LAYER_VERSION_ARN));
            violations.into_result()?;
            return Err(ApiError(AwsError::service("a violation went missing")));
        };
        let record = registry(&state).layer_version(&owner, &name, version)?;
        return Ok(json(
            StatusCode::OK,
            &layer_version(&record, &owner, &state, &host(&req)),
        ));
    }
    let (runtime, architecture) = filters(&query)?;
    let all = registry(&state).layers(&scope, runtime, architecture);
    let (page, next) = page(&all, &query, (50, 50), |l| l.name.clone())?;
    let layers: Vec<Value> = page
        .iter()
        .map(|l| {
            json!({
                "LayerName": l.name,
                "LayerArn": l.layer_arn(&scope),
                "LatestMatchingVersion": list_item(l, &scope),
            })
        })
        .collect();
    let mut body = json!({ "Layers": layers });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json(StatusCode::OK, &body))
}

/// `CompatibleRuntime` and `CompatibleArchitecture`, model-checked.
fn filters(query: &Query) -> Result<(Option<&str>, Option<&str>), ApiError> {
    let mut model = Violations::new();
    let runtime = query.get("CompatibleRuntime");
    if let Some(r) = runtime {
        model.check(validate::runtime(r).map_err(|_| {
            Violation::enum_set(r, "compatibleRuntime", nubo_lambda::runtimes::SUPPORTED)
        }));
    }
    let architecture = query.get("CompatibleArchitecture");
    if let Some(a) = architecture.filter(|a| *a != "x86_64" && *a != "arm64") {
        model.push(Violation::enum_set(
            a,
            "compatibleArchitecture",
            &["x86_64", "arm64"],
        ));
    }
    model.into_result()?;
    Ok((runtime, architecture))
}

/// `GET /2018-10-31/layers/{LayerName}/versions`, newest first.
pub(crate) async fn list_versions(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path(layer): Path<String>,
    query: Query,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    let (runtime, architecture) = filters(&query)?;
    let all = registry(&state).layer_versions_of(&scope, &name, runtime, architecture);
    let (page, next) = page(&all, &query, (50, 50), |v| v.version.to_string())?;
    let versions: Vec<Value> = page.iter().map(|v| list_item(v, &scope)).collect();
    let mut body = json!({ "LayerVersions": versions });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json(StatusCode::OK, &body))
}

/// `DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}` → 204.
pub(crate) async fn delete(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((layer, version)): Path<(String, String)>,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    registry(&state)
        .delete_layer_version(&scope, &name, version_number(&version)?)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST …/versions/{VersionNumber}/policy` → 201 `{Statement, RevisionId}`.
pub(crate) async fn add_permission(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((layer, version)): Path<(String, String)>,
    query: Query,
    req: Request,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    let version = version_number(&version)?;
    let revision_id = query.get("RevisionId").map(str::to_owned);
    let input: AddPermissionInput = json_body(req, "AddLayerVersionPermission").await?;
    let mut model = Violations::new();
    match input.statement_id.as_deref() {
        None => model.push(Violation::required("statementId")),
        Some(id) if id.len() > 100 => model.push(Violation::max_length(id, "statementId", 100)),
        Some(id) if !word_chars(id) => {
            model.push(Violation::pattern(id, "statementId", STATEMENT_ID))
        }
        Some(_) => {}
    }
    match input.action.as_deref() {
        None => model.push(Violation::required("action")),
        Some("lambda:GetLayerVersion") => {}
        Some(other) => model.push(Violation::pattern(
            other,
            "action",
            "lambda:GetLayerVersion",
        )),
    }
    match input.principal.as_deref() {
        None => model.push(Violation::required("principal")),
        Some(p) if is_principal(p) => {}
        Some(p) => model.push(Violation::pattern(p, "principal", PRINCIPAL)),
    }
    if let Some(org) = input.organization_id.as_deref() {
        let ok = org.len() <= 34
            && org.strip_prefix("o-").is_some_and(|rest| {
                (10..=32).contains(&rest.len())
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !ok {
            model.push(Violation::pattern(org, "organizationId", ORGANIZATION_ID));
        }
    }
    model.into_result()?;
    let principal = input.principal.unwrap_or_default();
    if input.organization_id.is_some() && principal != "*" {
        return Err(ApiError(AwsError::invalid_parameter(
            "OrganizationId is only supported with a wildcard (*) Principal.",
        )));
    }
    let permission = LayerPermission {
        statement_id: input.statement_id.unwrap_or_default(),
        action: input.action.unwrap_or_default(),
        principal,
        organization_id: input.organization_id,
        revision_id,
    };
    let (statement, revision) = registry(&state)
        .add_layer_permission(&scope, &name, version, permission)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"Statement": statement.to_string(), "RevisionId": revision}),
    ))
}

fn is_principal(p: &str) -> bool {
    p == "*"
        || (p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()))
        || p.strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.strip_suffix(":root"))
            .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

/// `GET …/versions/{VersionNumber}/policy` → `{Policy, RevisionId}`.
pub(crate) async fn get_policy(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((layer, version)): Path<(String, String)>,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    let record = registry(&state).layer_version(&scope, &name, version_number(&version)?)?;
    let Some(policy) = &record.policy else {
        return Err(ApiError(AwsError::resource_not_found(
            "No policy is associated with the given resource.",
        )));
    };
    Ok(json(
        StatusCode::OK,
        &json!({"Policy": policy.document(), "RevisionId": policy.revision_id()}),
    ))
}

/// `DELETE …/versions/{VersionNumber}/policy/{StatementId}` → 204.
pub(crate) async fn remove_permission(
    State(state): State<Arc<EdgeState>>,
    RequestScope(scope): RequestScope,
    Path((layer, version, statement)): Path<(String, String, String)>,
    query: Query,
) -> ApiResult {
    let (scope, name) = layer_name(&layer, &scope)?;
    registry(&state)
        .remove_layer_permission(
            &scope,
            &name,
            version_number(&version)?,
            &statement,
            query.get("RevisionId"),
        )
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
