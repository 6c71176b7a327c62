//! botocore-shaped request and response members for the Lambda API.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use nubo_lambda::control::records::Lifecycle;
use nubo_lambda::FunctionRecord;
use nubo_wire::Scope;

/// `Environment`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentInput {
    /// Variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// `EphemeralStorage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorageInput {
    /// MB.
    pub size: i64,
}

/// `DeadLetterConfig`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterInput {
    /// ARN; empty clears it.
    pub target_arn: Option<String>,
}

/// `TracingConfig`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingInput {
    /// `Active` / `PassThrough`.
    pub mode: Option<String>,
}

/// `LoggingConfig`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingInput {
    /// `Text` / `JSON`.
    pub log_format: Option<String>,
    /// `TRACE` … `FATAL`.
    pub application_log_level: Option<String>,
    /// `DEBUG` / `INFO` / `WARN`.
    pub system_log_level: Option<String>,
    /// A log group name.
    pub log_group: Option<String>,
}

/// `FunctionCode`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CodeInput {
    /// Base64 zip.
    pub zip_file: Option<String>,
    /// S3 bucket.
    pub s3_bucket: Option<String>,
    /// S3 key.
    pub s3_key: Option<String>,
    /// Container image.
    pub image_uri: Option<String>,
}

/// CreateFunction's body.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    /// Name or ARN.
    pub function_name: Option<String>,
    /// Runtime.
    pub runtime: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Code.
    pub code: Option<CodeInput>,
    /// Description.
    pub description: Option<String>,
    /// Seconds.
    pub timeout: Option<i64>,
    /// MB.
    pub memory_size: Option<i64>,
    /// Publish a version.
    pub publish: Option<bool>,
    /// Environment.
    pub environment: Option<EnvironmentInput>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Layers.
    pub layers: Option<Vec<String>>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
    /// `/tmp`.
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    /// `Zip` / `Image`.
    pub package_type: Option<String>,
    /// DLQ.
    pub dead_letter_config: Option<DeadLetterInput>,
    /// Tracing.
    pub tracing_config: Option<TracingInput>,
    /// Logging.
    pub logging_config: Option<LoggingInput>,
}

/// UpdateFunctionCode's body.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCodeInput {
    /// Base64 zip.
    pub zip_file: Option<String>,
    /// S3 bucket.
    pub s3_bucket: Option<String>,
    /// S3 key.
    pub s3_key: Option<String>,
    /// Image.
    pub image_uri: Option<String>,
    /// Publish a version.
    pub publish: Option<bool>,
    /// Validate only.
    pub dry_run: Option<bool>,
    /// Precondition.
    pub revision_id: Option<String>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
}

/// UpdateFunctionConfiguration's body.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfigurationInput {
    /// Role.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Seconds.
    pub timeout: Option<i64>,
    /// MB.
    pub memory_size: Option<i64>,
    /// Environment.
    pub environment: Option<EnvironmentInput>,
    /// Runtime.
    pub runtime: Option<String>,
    /// DLQ.
    pub dead_letter_config: Option<DeadLetterInput>,
    /// Tracing.
    pub tracing_config: Option<TracingInput>,
    /// Precondition.
    pub revision_id: Option<String>,
    /// Layers.
    pub layers: Option<Vec<String>>,
    /// `/tmp`.
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    /// Logging.
    pub logging_config: Option<LoggingInput>,
}

/// TagResource's body.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    /// Tags to add.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `FunctionConfiguration` for a record. `arn_qualifier` is what the ARN ends with, as AWS
/// writes it: the version or alias the request named (GetFunction by alias answers with the
/// alias's ARN and the version it points at), the published version (`Publish`,
/// PublishVersion, `FunctionVersion=ALL`), or nothing.
pub fn function_configuration(
    record: &FunctionRecord,
    scope: &Scope,
    arn_qualifier: Option<&str>,
) -> Value {
    let arn = match arn_qualifier {
        Some(qualifier) => nubo_wire::arn::qualified_function_arn(scope, &record.name, qualifier),
        None => nubo_wire::arn::function_arn(scope, &record.name),
    };
    let mut config = json!({
        "FunctionName": record.name,
        "FunctionArn": arn,
        "Runtime": record.runtime,
        "Role": record.role,
        "CodeSize": record.code.size,
        "Description": record.description,
        "Timeout": record.timeout_seconds,
        "MemorySize": record.memory_mb,
        "LastModified": record.last_modified,
        "CodeSha256": record.code.sha256_base64,
        "Version": record.version,
        "TracingConfig": {"Mode": record.tracing_mode},
        "RevisionId": record.revision_id,
        "PackageType": "Zip",
        "Architectures": record.architectures,
        "EphemeralStorage": {"Size": record.ephemeral_storage_mb},
        "LoggingConfig": logging_config(record),
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "RuntimeVersionConfig": {
            "RuntimeVersionArn": format!("arn:aws:lambda:{}::runtime:nubo-{}", scope.region, record.runtime)
        },
    });
    let Some(object) = config.as_object_mut() else {
        return config;
    };
    lifecycle(record.lifecycle, object);
    if let Some(handler) = &record.handler {
        object.insert("Handler".into(), Value::from(handler.clone()));
    }
    if record.environment_set || !record.environment.is_empty() {
        let variables: Map<String, Value> = record
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        object.insert("Environment".into(), json!({"Variables": variables}));
    }
    if !record.layers.is_empty() {
        let layers: Vec<Value> = record
            .layers
            .iter()
            .map(|layer| json!({"Arn": layer.arn, "CodeSize": layer.code_size}))
            .collect();
        object.insert("Layers".into(), Value::from(layers));
    }
    if let Some(target) = &record.dead_letter_target {
        object.insert("DeadLetterConfig".into(), json!({"TargetArn": target}));
    }
    config
}

/// `State` and `LastUpdateStatus`, with their reasons while a change settles, as AWS words them
/// (an update's reason is, verbatim, "The function is being created.").
fn lifecycle(lifecycle: Lifecycle, object: &mut Map<String, Value>) {
    let members: &[(&str, &str)] = match lifecycle {
        Lifecycle::Creating => &[
            ("State", "Pending"),
            ("StateReason", "The function is being created."),
            ("StateReasonCode", "Creating"),
        ],
        Lifecycle::Updating => &[
            ("State", "Active"),
            ("LastUpdateStatus", "InProgress"),
            ("LastUpdateStatusReason", "The function is being created."),
            ("LastUpdateStatusReasonCode", "Creating"),
        ],
        Lifecycle::Ready => &[("State", "Active"), ("LastUpdateStatus", "Successful")],
    };
    for (key, value) in members {
        object.insert((*key).into(), Value::from(*value));
    }
}

/// `LoggingConfig`: the JSON format fills both log levels with `INFO` unless given; the log group
/// is the custom one, else `/aws/lambda/<name>`.
fn logging_config(record: &FunctionRecord) -> Value {
    let logging = &record.logging;
    let group = logging
        .log_group
        .clone()
        .unwrap_or_else(|| format!("/aws/lambda/{}", record.name));
    let mut config = json!({"LogFormat": record.log_format, "LogGroup": group});
    if record.log_format == "JSON" {
        let level = |given: &Option<String>| given.clone().unwrap_or_else(|| "INFO".into());
        config["ApplicationLogLevel"] = json!(level(&logging.application_log_level));
        config["SystemLogLevel"] = json!(level(&logging.system_log_level));
    }
    config
}
