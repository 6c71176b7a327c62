//! CloudWatch Logs (botocore's `logs/2014-03-28`, json 1.1, `X-Amz-Target: Logs_20140328.*`)
//! over the store's [`Logs`]: groups (`groups.rs`: create, describe, delete, retention),
//! streams and events (`events.rs`: create and describe streams, PutLogEvents, GetLogEvents,
//! FilterLogEvents), filter patterns (`filter.rs`).
//!
//! Groups belong to an account and region, as CloudWatch's do: the store key is
//! `{account}:{region}:{name}` (`nubo_observe::scoped_group`), the scope the request's.

mod delimited;
mod events;
pub(crate) mod filter;
mod groups;

use std::sync::Arc;

use nubo_store::{Logs, StoreError};
use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::{AwsError, Scope};

use crate::auth::logs::LogsAuthorizer;
use crate::registry::{JsonOperations, OperationContext, Service};
use crate::EdgeState;

/// The json target prefix.
pub(crate) const TARGET_PREFIX: &str = "Logs_20140328";

/// The operations served, by botocore's name.
pub(crate) const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "DeleteLogGroup",
    "DescribeLogGroups",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "CreateLogStream",
    "DescribeLogStreams",
    "PutLogEvents",
    "GetLogEvents",
    "FilterLogEvents",
];

nubo_wire::error_table! {
    /// CloudWatch Logs' codes.
    pub(crate) struct LogsErrors {
        resource_not_found => ("ResourceNotFoundException", BAD_REQUEST),
        already_exists => ("ResourceAlreadyExistsException", BAD_REQUEST),
        invalid_parameter => ("InvalidParameterException", BAD_REQUEST),
        validation => ("ValidationException", BAD_REQUEST),
        service_unavailable => ("ServiceUnavailableException", INTERNAL_SERVER_ERROR),
    }
}

fn store_error(err: StoreError) -> AwsError {
    match err {
        StoreError::Invalid(message) => LogsErrors::invalid_parameter(message),
        other => {
            tracing::error!(error = %other, "a CloudWatch Logs operation failed in the store");
            LogsErrors::service_unavailable("The service cannot complete the request.")
        }
    }
}

fn group_not_found() -> AwsError {
    LogsErrors::resource_not_found("The specified log group does not exist.")
}

/// A required member, present and non-empty.
fn required(value: Option<String>, member: &str) -> Result<String, AwsError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        LogsErrors::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// A log group name as the model allows it: 1–512 of `[\.\-_/#A-Za-z0-9]`.
fn check_group_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LogsErrors::validation(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )))
    }
}

/// A stream name: 1–512 characters without `:` or `*`.
fn check_stream_name(name: &str) -> Result<(), AwsError> {
    if !name.is_empty() && name.len() <= 512 && !name.contains([':', '*']) {
        Ok(())
    } else {
        Err(LogsErrors::validation(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"
        )))
    }
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (a name or an ARN).
fn group_name(name: Option<String>, identifier: Option<String>) -> Result<String, AwsError> {
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        check_group_name(&name)?;
        return Ok(name);
    }
    let identifier = required(identifier, "logGroupName")?;
    let name = match identifier.split_once(":log-group:") {
        Some((_, rest)) => rest.trim_end_matches(":*").to_owned(),
        None => identifier,
    };
    check_group_name(&name)?;
    Ok(name)
}

/// The store key of a group in the request's scope.
fn key(scope: &Scope, group: &str) -> String {
    nubo_observe::scoped_group(&scope.account_id, &scope.region, group)
}

/// `arn:aws:logs:{region}:{account}:log-group:{name}`.
fn group_arn(scope: &Scope, group: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{group}",
        scope.region, scope.account_id
    )
}

/// Whether the group exists in the store.
async fn group_exists(logs: &dyn Logs, key: &str) -> Result<bool, AwsError> {
    Ok(logs
        .describe_groups(key)
        .await
        .map_err(store_error)?
        .iter()
        .any(|g| g.name == key))
}

/// A page size between 1 and `max`, `default` when absent.
fn page_limit(limit: Option<i64>, max: i64, default: usize) -> Result<usize, AwsError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(LogsErrors::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

macro_rules! operation {
    ($json:ident, $logs:expr, $name:literal, $handler:path) => {
        let logs = $logs.clone();
        $json = $json.operation(
            concat!("Logs_20140328.", $name),
            move |ctx: OperationContext, input| {
                let logs = logs.clone();
                async move { $handler(&*logs, ctx, input).await }
            },
        );
    };
}

/// The CloudWatch Logs service.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let logs: Arc<dyn Logs> = state.logs.clone();
    let mut json = JsonOperations::new(JsonVersion::V1_1);
    operation!(json, logs, "CreateLogGroup", groups::create_log_group);
    operation!(json, logs, "DeleteLogGroup", groups::delete_log_group);
    operation!(json, logs, "DescribeLogGroups", groups::describe_log_groups);
    operation!(
        json,
        logs,
        "PutRetentionPolicy",
        groups::put_retention_policy
    );
    operation!(
        json,
        logs,
        "DeleteRetentionPolicy",
        groups::delete_retention_policy
    );
    operation!(json, logs, "CreateLogStream", events::create_log_stream);
    operation!(
        json,
        logs,
        "DescribeLogStreams",
        events::describe_log_streams
    );
    operation!(json, logs, "PutLogEvents", events::put_log_events);
    operation!(json, logs, "GetLogEvents", events::get_log_events);
    operation!(json, logs, "FilterLogEvents", events::filter_log_events);
    Service::new("logs")
        .json(json)
        .authorized_by(LogsAuthorizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_named_by_name_or_arn() {
        assert_eq!(
            group_name(Some("/aws/lambda/f".into()), None).unwrap(),
            "/aws/lambda/f"
        );
        assert_eq!(
            group_name(
                None,
                Some("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*".into())
            )
            .unwrap(),
            "/aws/lambda/f"
        );
        assert!(group_name(None, None).is_err());
        assert!(group_name(Some("bad name".into()), None).is_err());
    }
}
