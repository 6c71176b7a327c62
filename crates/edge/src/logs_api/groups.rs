//! Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, Put/DeleteRetentionPolicy.

use nubo_store::Logs;
use nubo_wire::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    check_group_name, group_arn, group_not_found, key, now_ms, page_limit, required, store_error,
    LogsErrors,
};
use crate::registry::OperationContext;

/// The retention periods CloudWatch accepts, in days.
const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupInput {
    log_group_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeGroupsInput {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RetentionInput {
    log_group_name: Option<String>,
    retention_in_days: Option<i64>,
}

fn name_of(input: Option<String>) -> Result<String, AwsError> {
    let name = required(input, "logGroupName")?;
    check_group_name(&name)?;
    Ok(name)
}

pub(super) async fn create_log_group(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: GroupInput,
) -> Result<Value, AwsError> {
    let name = name_of(input.log_group_name)?;
    if !logs
        .create_group(&key(&ctx.scope, &name))
        .await
        .map_err(store_error)?
    {
        return Err(LogsErrors::already_exists(
            "The specified log group already exists",
        ));
    }
    Ok(json!({}))
}

pub(super) async fn delete_log_group(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: GroupInput,
) -> Result<Value, AwsError> {
    let name = name_of(input.log_group_name)?;
    if !logs
        .delete_group(&key(&ctx.scope, &name))
        .await
        .map_err(store_error)?
    {
        return Err(group_not_found());
    }
    Ok(json!({}))
}

pub(super) async fn describe_log_groups(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: DescribeGroupsInput,
) -> Result<Value, AwsError> {
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(LogsErrors::invalid_parameter(
            "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.",
        ));
    }
    let limit = page_limit(input.limit, 50, 50)?;
    let prefix = input.log_group_name_prefix.unwrap_or_default();
    let scope_key = key(&ctx.scope, "");
    let groups = logs
        .describe_groups(&key(&ctx.scope, &prefix))
        .await
        .map_err(store_error)?;
    let after = input.next_token.filter(|t| !t.is_empty());
    let mut page = Vec::new();
    let mut more = false;
    for group in &groups {
        let name = &group.name[scope_key.len()..];
        if after.as_deref().is_some_and(|after| name <= after) {
            continue;
        }
        if let Some(pattern) = &input.log_group_name_pattern {
            if !name.to_lowercase().contains(&pattern.to_lowercase()) {
                continue;
            }
        }
        if page.len() == limit {
            more = true;
            break;
        }
        let arn = group_arn(&ctx.scope, name);
        let mut entry = json!({
            "logGroupName": name,
            "creationTime": group.created_ms,
            "metricFilterCount": 0,
            "arn": format!("{arn}:*"),
            "logGroupArn": arn,
            "storedBytes": group.stored_bytes,
            "logGroupClass": "STANDARD",
        });
        if let Some(days) = group.retention_days {
            entry["retentionInDays"] = json!(days);
        }
        page.push((name.to_owned(), entry));
    }
    let mut body = json!({});
    if more {
        if let Some((name, _)) = page.last() {
            body["nextToken"] = json!(name);
        }
    }
    body["logGroups"] = Value::Array(page.into_iter().map(|(_, e)| e).collect());
    Ok(body)
}

pub(super) async fn put_retention_policy(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: RetentionInput,
) -> Result<Value, AwsError> {
    let name = name_of(input.log_group_name)?;
    let days = input.retention_in_days.ok_or_else(|| {
        LogsErrors::validation(
            "1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let days = u32::try_from(days)
        .ok()
        .filter(|d| RETENTION_DAYS.contains(d))
        .ok_or_else(|| {
            LogsErrors::invalid_parameter(format!(
                "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {RETENTION_DAYS:?}"
            ))
        })?;
    if !logs
        .set_retention(&key(&ctx.scope, &name), Some(days))
        .await
        .map_err(store_error)?
    {
        return Err(group_not_found());
    }
    // Enforce at once as well as in the periodic sweep: what the new policy expires is gone
    // when the call returns.
    logs.expire(now_ms()).await.map_err(store_error)?;
    Ok(json!({}))
}

pub(super) async fn delete_retention_policy(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: GroupInput,
) -> Result<Value, AwsError> {
    let name = name_of(input.log_group_name)?;
    if !logs
        .set_retention(&key(&ctx.scope, &name), None)
        .await
        .map_err(store_error)?
    {
        return Err(group_not_found());
    }
    Ok(json!({}))
}
