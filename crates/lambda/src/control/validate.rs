//! Lambda's rules for function members, with AWS's error types and messages, in one place.
//!
//! Two kinds, checked in this order as Lambda does: a member outside its model constraints (length,
//! range, pattern, enum) is a [`Violation`] — the edge gathers every one of a request into one
//! `ValidationException` ("2 validation errors detected: …") — and only a request whose members
//! all fit the model reaches the semantic rules, which refuse a value with an
//! `InvalidParameterValueException` ([`ControlError::InvalidParameter`]).

use std::collections::BTreeMap;

use base64::Engine;
use bytes::Bytes;
use nubo_wire::{Scope, Violation, Violations};

use crate::control::records::LoggingSettings;
use crate::runtimes;
use crate::ControlError;

/// Tags one function may carry.
pub const MAX_TAGS: usize = 50;
/// Decoded client context limit.
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

/// Bounds from `lambda-limits.md`.
pub const MEMORY_MB: (u32, u32) = (128, 10_240);
/// Seconds.
pub const TIMEOUT_SECONDS: (u32, u32) = (1, 900);
/// MB.
pub const EPHEMERAL_MB: (u32, u32) = (512, 10_240);
/// Bytes of the variables as JSON (`{"KEY":"value",…}`).
pub const ENVIRONMENT_BYTES: usize = 4096;
/// Direct upload of a zip (50 MB).
pub const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;
/// The `RoleArn` shape's pattern.
pub const ROLE_PATTERN: &str = "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";

/// A `RevisionId` precondition that no longer holds.
pub const REVISION_MISMATCH: &str = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id";

/// Variables the platform sets; users cannot.
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
];

/// A `ValidationException` for every violation gathered, or `Ok` when there were none.
pub fn report(violations: Violations) -> Result<(), ControlError> {
    match violations.message() {
        Some(message) => Err(ControlError::Validation(message)),
        None => Ok(()),
    }
}

fn in_range(value: i64, member: &str, (min, max): (u32, u32)) -> Result<u32, Violation> {
    Violation::range(value, member, i64::from(min), i64::from(max)).map(|v| v as u32)
}

/// MemorySize.
pub fn memory_mb(value: i64) -> Result<u32, Violation> {
    in_range(value, "memorySize", MEMORY_MB)
}

/// Timeout.
pub fn timeout_seconds(value: i64) -> Result<u32, Violation> {
    in_range(value, "timeout", TIMEOUT_SECONDS)
}

/// EphemeralStorage.Size.
pub fn ephemeral_mb(value: i64) -> Result<u32, Violation> {
    in_range(value, "ephemeralStorage.size", EPHEMERAL_MB)
}

/// Runtime, as the model sees it: any identifier Lambda knows, current or deprecated.
pub fn runtime(value: &str) -> Result<(), Violation> {
    if runtimes::is_supported(value) || runtimes::DEPRECATED.contains(&value) {
        Ok(())
    } else {
        Err(Violation::enum_set(value, "runtime", runtimes::SUPPORTED))
    }
}

/// Runtime, as Lambda's rules see it: deprecated ones are refused for new code.
pub fn supported_runtime(value: &str) -> Result<String, ControlError> {
    if runtimes::DEPRECATED.contains(&value) {
        return Err(ControlError::InvalidParameter(format!(
            "The runtime parameter of {value} is no longer supported for creating or updating AWS Lambda functions. \
             We recommend you use a supported runtime while creating or updating functions."
        )));
    }
    Ok(value.to_owned())
}

/// Role: an IAM role ARN.
pub fn role(value: &str) -> Result<String, Violation> {
    if role_account(value).is_some() {
        Ok(value.to_owned())
    } else {
        Err(Violation::pattern(value, "role", ROLE_PATTERN))
    }
}

/// The account of a role ARN that matches the pattern.
fn role_account(value: &str) -> Option<&str> {
    let rest = value.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    if !partition.is_empty() && !partition.starts_with("aws") {
        return None;
    }
    let rest = rest.strip_prefix("iam::")?;
    let (account, rest) = rest.split_once(':')?;
    let path = rest.strip_prefix("role/")?;
    let path_ok = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c));
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && path_ok)
        .then_some(account)
}

/// A function's role must be in its own account: Lambda cannot pass another account's role.
pub fn role_in_account(role: &str, scope: &Scope) -> Result<(), ControlError> {
    match role_account(role) {
        Some(account) if account != scope.account_id => Err(ControlError::InvalidParameter(
            "Cross-account pass role is not allowed.".into(),
        )),
        _ => Ok(()),
    }
}

/// Handler: up to 128 non-space characters.
pub fn handler(value: &str) -> Result<String, Violation> {
    if value.len() > 128 {
        return Err(Violation::max_length(value, "handler", 128));
    }
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(Violation::pattern(value, "handler", "[^\\s]+"));
    }
    Ok(value.to_owned())
}

/// Description: up to 256 characters.
pub fn description(value: &str) -> Result<String, Violation> {
    if value.chars().count() > 256 {
        return Err(Violation::max_length(value, "description", 256));
    }
    Ok(value.to_owned())
}

/// Environment variable names: the model's key pattern (values are never echoed: they may be
/// secrets).
pub fn environment_keys(variables: &BTreeMap<String, String>) -> Result<(), Violation> {
    for key in variables.keys() {
        let mut chars = key.chars();
        let pattern_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !pattern_ok {
            return Err(Violation::new(
                "[PROTECTED]",
                "environment.variables",
                "Member must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            ));
        }
    }
    Ok(())
}

/// Environment variables, as Lambda's rules see them: no reserved keys, 4 KB in total.
pub fn environment(variables: &BTreeMap<String, String>) -> Result<(), ControlError> {
    let reserved: Vec<&str> = variables
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_VARIABLES.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(ControlError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided contains reserved keys that are currently not supported for modification. Reserved keys used \
             in this request: {}",
            reserved.join(", ")
        )));
    }
    // Lambda measures the variables as JSON, braces and quotes included.
    let measured = serde_json::to_string(variables).unwrap_or_default();
    if measured.len() > ENVIRONMENT_BYTES {
        return Err(ControlError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

/// Architectures: exactly one of `x86_64` / `arm64`.
pub fn architectures(values: &[String]) -> Result<Vec<String>, Violation> {
    match values {
        [] => Ok(vec!["x86_64".into()]),
        [one] if one == "x86_64" || one == "arm64" => Ok(vec![one.clone()]),
        [one] => Err(Violation::enum_set(
            one,
            "architectures",
            &["x86_64", "arm64"],
        )),
        _ => Err(Violation::max_length(
            format!("{values:?}"),
            "architectures",
            1,
        )),
    }
}

/// Tracing mode.
pub fn tracing_mode(value: &str) -> Result<String, Violation> {
    match value {
        "Active" | "PassThrough" => Ok(value.to_owned()),
        _ => Err(Violation::enum_set(
            value,
            "tracingConfig.mode",
            &["Active", "PassThrough"],
        )),
    }
}

/// Log format.
pub fn log_format(value: &str) -> Result<String, Violation> {
    match value {
        "Text" | "JSON" => Ok(value.to_owned()),
        _ => Err(Violation::enum_set(
            value,
            "loggingConfig.logFormat",
            &["JSON", "Text"],
        )),
    }
}

/// `LoggingConfig`'s levels and group, against the model (enums; the group's length and pattern).
pub fn logging(
    application: Option<&str>,
    system: Option<&str>,
    group: Option<&str>,
    violations: &mut Violations,
) -> LoggingSettings {
    const APPLICATION: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    const SYSTEM: &[&str] = &["DEBUG", "INFO", "WARN"];
    let mut settings = LoggingSettings::default();
    if let Some(level) = application {
        if APPLICATION.contains(&level) {
            settings.application_log_level = Some(level.to_owned());
        } else {
            violations.push(Violation::enum_set(
                level,
                "loggingConfig.applicationLogLevel",
                APPLICATION,
            ));
        }
    }
    if let Some(level) = system {
        if SYSTEM.contains(&level) {
            settings.system_log_level = Some(level.to_owned());
        } else {
            violations.push(Violation::enum_set(
                level,
                "loggingConfig.systemLogLevel",
                SYSTEM,
            ));
        }
    }
    if let Some(group) = group {
        let member = "loggingConfig.logGroup";
        let length = group.chars().count();
        let mut fits = true;
        if length == 0 {
            violations.push(Violation::min_length(group, member, 1));
            fits = false;
        } else if length > 512 {
            violations.push(Violation::max_length(group, member, 512));
            fits = false;
        }
        if !group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#".contains(c))
        {
            violations.push(Violation::pattern(group, member, "[\\.\\-_/#A-Za-z0-9]+"));
            fits = false;
        }
        if fits {
            settings.log_group = Some(group.to_owned());
        }
    }
    settings
}

/// Package type: the model's enum (Nubo runs `Zip` only; the edge refuses `Image` afterwards).
pub fn package_type(value: &str) -> Result<(), Violation> {
    match value {
        "Zip" | "Image" => Ok(()),
        _ => Err(Violation::enum_set(value, "packageType", &["Zip", "Image"])),
    }
}

/// The deployment package of CreateFunction / UpdateFunctionCode: a zip given inline (`ZipFile`,
/// base64 as the JSON carries it). S3 and container images are Nubo's refusals.
pub fn zip_package(
    zip_file: Option<&str>,
    s3_bucket: Option<&str>,
    image_uri: Option<&str>,
) -> Result<Bytes, ControlError> {
    let refuse = |m: &str| Err(ControlError::InvalidParameter(m.into()));
    if let Some(zip) = zip_file {
        return base64::engine::general_purpose::STANDARD
            .decode(zip)
            .map(Bytes::from)
            .or_else(|_| refuse("Could not unzip uploaded file. Please check your file, then try to upload again."));
    }
    if image_uri.is_some() {
        return refuse(
            "Container image functions are not supported by Nubo; upload a .zip package",
        );
    }
    if s3_bucket.is_some() {
        return refuse("Nubo does not serve S3 yet; upload the package directly as ZipFile");
    }
    refuse("Please provide a source for function code.")
}

/// CreateFunction names a function, never one of its versions or aliases.
pub fn unqualified_for_create(qualifier: Option<&str>) -> Result<(), ControlError> {
    match qualifier {
        Some(_) => Err(ControlError::InvalidParameter(
            "Function name cannot carry a qualifier when creating a function".into(),
        )),
        None => Ok(()),
    }
}

/// Nubo runs `.zip` packages only.
pub fn zip_package_type(package_type: Option<&str>) -> Result<(), ControlError> {
    match package_type {
        Some(kind) if kind != "Zip" => Err(ControlError::InvalidParameter(
            "Container image functions are not supported by Nubo; use PackageType Zip".into(),
        )),
        _ => Ok(()),
    }
}

/// A `.zip` package needs a runtime, and a managed runtime needs a handler.
pub fn runtime_and_handler(
    runtime: Option<&str>,
    handler: Option<&str>,
) -> Result<String, ControlError> {
    let Some(runtime) = runtime else {
        return Err(ControlError::InvalidParameter(
            "Runtime is required for .zip file deployment packages.".into(),
        ));
    };
    let runtime = supported_runtime(runtime)?;
    if handler.is_none() && !matches!(runtimes::family(&runtime), runtimes::Family::Provided) {
        return Err(ControlError::InvalidParameter(format!(
            "Handler is required for the {runtime} runtime."
        )));
    }
    Ok(runtime)
}

/// Tags live on the function itself, at most [`MAX_TAGS`] of them.
pub fn tags(qualified: bool, count: usize) -> Result<(), ControlError> {
    if qualified {
        return Err(ControlError::InvalidParameter(
            "Tags are not supported on function versions or aliases; use the unqualified function ARN".into(),
        ));
    }
    if count > MAX_TAGS {
        return Err(ControlError::InvalidParameter(
            "Number of tags exceeds resource tag limit.".into(),
        ));
    }
    Ok(())
}

/// `X-Amz-Client-Context`: base64 of a JSON object, at most [`MAX_CLIENT_CONTEXT_BYTES`] decoded;
/// returns the decoded text.
pub fn client_context(raw: Option<&str>) -> Result<Option<String>, ControlError> {
    let Some(raw) = raw else { return Ok(None) };
    let invalid = || {
        ControlError::InvalidParameter(
            "Client context must be a valid Base64-encoded JSON object.".into(),
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| invalid())?;
    if decoded.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(ControlError::InvalidParameter(format!(
            "Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes."
        )));
    }
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|_| invalid())?;
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_bounds() {
        assert!(memory_mb(128).is_ok());
        assert!(memory_mb(10_241).is_err());
        assert!(memory_mb(64).is_err());
        assert!(timeout_seconds(901).is_err());
        assert!(timeout_seconds(0).is_err());
        assert!(ephemeral_mb(511).is_err());
        assert_eq!(
            memory_mb(64).unwrap_err().to_string(),
            "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
        );
    }

    #[test]
    fn runtimes_and_roles() {
        assert!(runtime("python3.14").is_ok());
        assert!(runtime("nodejs24.x").is_ok());
        assert!(runtime("provided.al2023").is_ok());
        assert!(runtime("cobol1").is_err());
        // In the model, refused by Lambda's rules.
        assert!(runtime("python2.7").is_ok());
        assert!(matches!(
            supported_runtime("python2.7"),
            Err(ControlError::InvalidParameter(_))
        ));
        assert!(role("arn:aws:iam::123456789012:role/lambda-role").is_ok());
        assert!(role("notarole").is_err());
        assert!(role("arn:aws:iam::123:role/x").is_err());
        let home = Scope::default();
        assert!(role_in_account("arn:aws:iam::000000000000:role/r", &home).is_ok());
        assert!(matches!(
            role_in_account("arn:aws:iam::123456789012:role/r", &home),
            Err(ControlError::InvalidParameter(m)) if m == "Cross-account pass role is not allowed."
        ));
    }

    #[test]
    fn environment_rules() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(environment(&vars(&[("GREETING", "hi")])).is_ok());
        for reserved in ["AWS_REGION", "TZ"] {
            assert!(matches!(
                environment(&vars(&[(reserved, "x")])),
                Err(ControlError::InvalidParameter(m)) if m.ends_with(reserved)
            ));
        }
        assert!(matches!(
            environment(&vars(&[("BIG", &"x".repeat(4094))])),
            Err(ControlError::InvalidParameter(_))
        ));
        assert!(environment_keys(&vars(&[("1BAD", "x")])).is_err());
        // Measured as JSON: {"BIG":"…"} of exactly 4096 bytes passes, one more does not.
        let exact = "x".repeat(4096 - r#"{"BIG":""}"#.len());
        assert!(environment(&vars(&[("BIG", &exact)])).is_ok());
        assert!(environment(&vars(&[("BIG", &format!("{exact}x"))])).is_err());
    }

    #[test]
    fn logging_levels_and_group() {
        let mut violations = Violations::new();
        let settings = logging(Some("DEBUG"), None, Some("/custom/group"), &mut violations);
        assert!(violations.is_empty());
        assert_eq!(settings.application_log_level.as_deref(), Some("DEBUG"));
        assert_eq!(settings.log_group.as_deref(), Some("/custom/group"));
        logging(
            Some("LOUD"),
            Some("TRACE"),
            Some("bad group"),
            &mut violations,
        );
        let message = violations.message().unwrap();
        assert!(
            message.starts_with("3 validation errors detected: "),
            "{message}"
        );
        assert!(message.contains("at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]"));
    }
}
