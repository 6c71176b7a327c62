//! Validation of function members against Lambda's constraints, with AWS's error types and messages.
//!
//! Members botocore cannot check client-side (upper bounds, enums, patterns) fail with
//! `ValidationException`; values Lambda itself refuses fail with `InvalidParameterValueException`.

use std::collections::BTreeMap;

use crate::runtimes;
use crate::ControlError;

/// Bounds from `lambda-limits.md`.
pub const MEMORY_MB: (u32, u32) = (128, 10_240);
/// Seconds.
pub const TIMEOUT_SECONDS: (u32, u32) = (1, 900);
/// MB.
pub const EPHEMERAL_MB: (u32, u32) = (512, 10_240);
/// Total bytes of keys + values.
pub const ENVIRONMENT_BYTES: usize = 4096;
/// Direct upload of a zip (50 MB).
pub const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;

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
];

fn constraint(value: impl std::fmt::Display, member: &str, rule: &str) -> ControlError {
    ControlError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"
    ))
}

fn in_range(value: u32, member: &str, (min, max): (u32, u32)) -> Result<u32, ControlError> {
    if value < min {
        return Err(constraint(
            value,
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(constraint(
            value,
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(value)
}

/// MemorySize.
pub fn memory_mb(value: i64) -> Result<u32, ControlError> {
    in_range(clamp_u32(value), "memorySize", MEMORY_MB)
}

/// Timeout.
pub fn timeout_seconds(value: i64) -> Result<u32, ControlError> {
    in_range(clamp_u32(value), "timeout", TIMEOUT_SECONDS)
}

/// EphemeralStorage.Size.
pub fn ephemeral_mb(value: i64) -> Result<u32, ControlError> {
    in_range(clamp_u32(value), "ephemeralStorage.size", EPHEMERAL_MB)
}

fn clamp_u32(value: i64) -> u32 {
    value.clamp(0, u32::MAX as i64) as u32
}

/// Runtime: on AWS's current list; deprecated ones are refused as AWS does.
pub fn runtime(value: &str) -> Result<String, ControlError> {
    if runtimes::is_supported(value) {
        return Ok(value.to_owned());
    }
    if runtimes::DEPRECATED.contains(&value) {
        return Err(ControlError::InvalidParameter(format!(
            "The runtime parameter of {value} is no longer supported for creating or updating AWS Lambda functions. \
             We recommend you use a supported runtime while creating or updating functions."
        )));
    }
    Err(constraint(
        value,
        "runtime",
        &format!(
            "Member must satisfy enum value set: [{}]",
            runtimes::SUPPORTED.join(", ")
        ),
    ))
}

/// Role: an IAM role ARN.
pub fn role(value: &str) -> Result<String, ControlError> {
    let ok = (|| {
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
            .then_some(())
    })()
    .is_some();
    if ok {
        Ok(value.to_owned())
    } else {
        Err(constraint(value, "role", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"))
    }
}

/// Handler: up to 128 non-space characters.
pub fn handler(value: &str) -> Result<String, ControlError> {
    if value.len() > 128 {
        return Err(constraint(
            value,
            "handler",
            "Member must have length less than or equal to 128",
        ));
    }
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(constraint(
            value,
            "handler",
            "Member must satisfy regular expression pattern: [^\\s]+",
        ));
    }
    Ok(value.to_owned())
}

/// Description: up to 256 characters.
pub fn description(value: &str) -> Result<String, ControlError> {
    if value.chars().count() > 256 {
        return Err(constraint(
            value,
            "description",
            "Member must have length less than or equal to 256",
        ));
    }
    Ok(value.to_owned())
}

/// Environment variables: key pattern, reserved keys, 4 KB total.
pub fn environment(variables: &BTreeMap<String, String>) -> Result<(), ControlError> {
    for key in variables.keys() {
        let mut chars = key.chars();
        let pattern_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !pattern_ok {
            return Err(constraint(
                "[PROTECTED]",
                "environment.variables",
                "Member must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            ));
        }
    }
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
    let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > ENVIRONMENT_BYTES {
        return Err(ControlError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided exceeded the 4KB limit. String measured: {}",
            serde_json::to_string(variables).unwrap_or_default()
        )));
    }
    Ok(())
}

/// Architectures: exactly one of `x86_64` / `arm64`.
pub fn architectures(values: &[String]) -> Result<Vec<String>, ControlError> {
    match values {
        [] => Ok(vec!["x86_64".into()]),
        [one] if one == "x86_64" || one == "arm64" => Ok(vec![one.clone()]),
        [one] => Err(constraint(
            one,
            "architectures",
            "Member must satisfy enum value set: [x86_64, arm64]",
        )),
        _ => Err(constraint(
            format!("{values:?}"),
            "architectures",
            "Member must have length less than or equal to 1",
        )),
    }
}

/// Tracing mode.
pub fn tracing_mode(value: &str) -> Result<String, ControlError> {
    match value {
        "Active" | "PassThrough" => Ok(value.to_owned()),
        _ => Err(constraint(
            value,
            "tracingConfig.mode",
            "Member must satisfy enum value set: [Active, PassThrough]",
        )),
    }
}

/// Log format.
pub fn log_format(value: &str) -> Result<String, ControlError> {
    match value {
        "Text" | "JSON" => Ok(value.to_owned()),
        _ => Err(constraint(
            value,
            "loggingConfig.logFormat",
            "Member must satisfy enum value set: [JSON, Text]",
        )),
    }
}

/// Function name for creation (plain names only).
pub fn function_name(value: &str) -> Result<String, ControlError> {
    if nubo_wire::arn::is_valid_function_name(value) {
        Ok(value.to_owned())
    } else {
        Err(constraint(value, "functionName", "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<impl std::fmt::Debug, ControlError>) -> &'static str {
        match r {
            Err(ControlError::Validation(_)) => "ValidationException",
            Err(ControlError::InvalidParameter(_)) => "InvalidParameterValueException",
            Err(_) => "other",
            Ok(_) => "ok",
        }
    }

    #[test]
    fn numeric_bounds() {
        assert_eq!(code(memory_mb(128)), "ok");
        assert_eq!(code(memory_mb(10_241)), "ValidationException");
        assert_eq!(code(memory_mb(64)), "ValidationException");
        assert_eq!(code(timeout_seconds(901)), "ValidationException");
        assert_eq!(code(timeout_seconds(0)), "ValidationException");
        assert_eq!(code(ephemeral_mb(511)), "ValidationException");
    }

    #[test]
    fn runtimes_and_roles() {
        assert_eq!(code(runtime("python3.14")), "ok");
        assert_eq!(code(runtime("nodejs24.x")), "ok");
        assert_eq!(code(runtime("provided.al2023")), "ok");
        assert_eq!(code(runtime("cobol1")), "ValidationException");
        assert_eq!(code(runtime("python2.7")), "InvalidParameterValueException");
        assert_eq!(
            code(role("arn:aws:iam::123456789012:role/lambda-role")),
            "ok"
        );
        assert_eq!(code(role("notarole")), "ValidationException");
        assert_eq!(code(role("arn:aws:iam::123:role/x")), "ValidationException");
    }

    #[test]
    fn environment_rules() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            code(environment(&vars(&[("GREETING", "hi")])).map(|_| ())),
            "ok"
        );
        assert_eq!(
            code(environment(&vars(&[("AWS_REGION", "x")])).map(|_| ())),
            "InvalidParameterValueException"
        );
        assert_eq!(
            code(environment(&vars(&[("BIG", &"x".repeat(4094))])).map(|_| ())),
            "InvalidParameterValueException"
        );
        assert_eq!(
            code(environment(&vars(&[("1BAD", "x")])).map(|_| ())),
            "ValidationException"
        );
    }
}
