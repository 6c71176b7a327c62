//! EventBridge (botocore's `events/2015-10-07`, json 1.1, `X-Amz-Target: AWSEvents.*`): rules
//! with event patterns or schedules, their targets, and `PutEvents`. Handlers translate the
//! shapes to `nubo_events::EventRules` and back; `EventsError` becomes AWS's codes in one place.

use std::sync::Arc;

use nubo_events::{EventEntry, EventRules, EventsError, RuleInput, TargetRecord};
use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::AwsError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::events::EventsAuthorizer;
use crate::registry::{JsonOperations, OperationContext, Service};
use crate::EdgeState;

/// The json target prefix.
pub(crate) const TARGET_PREFIX: &str = "AWSEvents";

/// The operations served, by botocore's name.
pub(crate) const OPERATIONS: &[&str] = &[
    "PutRule",
    "DescribeRule",
    "ListRules",
    "DeleteRule",
    "EnableRule",
    "DisableRule",
    "PutTargets",
    "RemoveTargets",
    "ListTargetsByRule",
    "PutEvents",
];

nubo_wire::error_table! {
    /// EventBridge's codes.
    pub(crate) struct EventsErrors {
        resource_not_found => ("ResourceNotFoundException", BAD_REQUEST),
        validation => ("ValidationException", BAD_REQUEST),
        invalid_event_pattern => ("InvalidEventPatternException", BAD_REQUEST),
        limit_exceeded => ("LimitExceededException", BAD_REQUEST),
        internal => ("InternalException", INTERNAL_SERVER_ERROR),
    }
}

fn aws(err: EventsError) -> AwsError {
    match err {
        EventsError::NotFound(m) => EventsErrors::resource_not_found(m),
        EventsError::Validation(m) => EventsErrors::validation(m),
        EventsError::InvalidEventPattern(m) => EventsErrors::invalid_event_pattern(m),
        EventsError::LimitExceeded(m) => EventsErrors::limit_exceeded(m),
        EventsError::Store(m) => {
            tracing::error!(error = %m, "an EventBridge operation failed in the store");
            EventsErrors::internal("An internal error occurred.")
        }
    }
}

fn required(value: Option<String>, member: &str) -> Result<String, AwsError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        EventsErrors::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(EventsErrors::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRuleInput {
    name: Option<String>,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    event_bus_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameInput {
    name: Option<String>,
    event_bus_name: Option<String>,
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRulesInput {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetInput {
    id: Option<String>,
    arn: Option<String>,
    input: Option<String>,
    input_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    #[serde(default)]
    targets: Vec<TargetInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemoveTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    #[serde(default)]
    ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EntryInput {
    source: Option<String>,
    detail_type: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    event_bus_name: Option<String>,
    time: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsInput {
    #[serde(default)]
    entries: Vec<EntryInput>,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Out(Value);

fn describe(rule: &nubo_events::Compiled) -> Value {
    let r = &rule.record;
    let mut body = json!({
        "Name": r.name,
        "Arn": r.arn(),
        "State": if r.enabled { "ENABLED" } else { "DISABLED" },
        "EventBusName": r.event_bus,
        "CreatedBy": r.account,
    });
    for (member, value) in [
        ("EventPattern", &r.event_pattern),
        ("ScheduleExpression", &r.schedule_expression),
        ("Description", &r.description),
        ("RoleArn", &r.role_arn),
    ] {
        if let Some(value) = value {
            body[member] = json!(value);
        }
    }
    body
}

async fn put_rule(
    rules: &EventRules,
    ctx: OperationContext,
    input: PutRuleInput,
) -> Result<Out, AwsError> {
    let name = required(input.name, "name")?;
    check_name(&name)?;
    let enabled = match input.state.as_deref() {
        None | Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(other) => {
            return Err(EventsErrors::validation(format!(
                "1 validation error detected: Value '{other}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
            )))
        }
    };
    let rule = rules
        .put_rule(
            &ctx.scope,
            RuleInput {
                name,
                event_bus: input.event_bus_name,
                event_pattern: input.event_pattern,
                schedule_expression: input.schedule_expression,
                enabled: Some(enabled),
                description: input.description,
                role_arn: input.role_arn,
            },
        )
        .await
        .map_err(aws)?;
    Ok(Out(json!({ "RuleArn": rule.record.arn() })))
}

async fn describe_rule(
    rules: &EventRules,
    ctx: OperationContext,
    input: NameInput,
) -> Result<Out, AwsError> {
    let name = required(input.name, "name")?;
    let rule = rules
        .get(&ctx.scope, input.event_bus_name.as_deref(), &name)
        .map_err(aws)?;
    Ok(Out(describe(&rule)))
}

async fn list_rules(
    rules: &EventRules,
    ctx: OperationContext,
    input: ListRulesInput,
) -> Result<Out, AwsError> {
    let all = rules.list(
        &ctx.scope,
        input.event_bus_name.as_deref(),
        input.name_prefix.as_deref().unwrap_or(""),
    );
    let start = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => all
            .iter()
            .position(|r| r.record.name.as_str() > token)
            .unwrap_or(all.len()),
        None => 0,
    };
    let limit = match input.limit {
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(EventsErrors::validation(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100"
            )))
        }
        None => 100,
    };
    let page: Vec<_> = all[start..].iter().take(limit).collect();
    let mut body = json!({ "Rules": page.iter().map(|r| describe(r)).collect::<Vec<_>>() });
    if start + page.len() < all.len() {
        if let Some(last) = page.last() {
            body["NextToken"] = json!(last.record.name);
        }
    }
    Ok(Out(body))
}

async fn delete_rule(
    rules: &EventRules,
    ctx: OperationContext,
    input: NameInput,
) -> Result<Out, AwsError> {
    let name = required(input.name, "name")?;
    rules
        .delete_rule(
            &ctx.scope,
            input.event_bus_name.as_deref(),
            &name,
            input.force,
        )
        .await
        .map_err(aws)?;
    Ok(Out(json!({})))
}

async fn enable_rule(
    rules: &EventRules,
    ctx: OperationContext,
    input: NameInput,
) -> Result<Out, AwsError> {
    let name = required(input.name, "name")?;
    rules
        .set_enabled(&ctx.scope, input.event_bus_name.as_deref(), &name, true)
        .await
        .map_err(aws)?;
    Ok(Out(json!({})))
}

async fn disable_rule(
    rules: &EventRules,
    ctx: OperationContext,
    input: NameInput,
) -> Result<Out, AwsError> {
    let name = required(input.name, "name")?;
    rules
        .set_enabled(&ctx.scope, input.event_bus_name.as_deref(), &name, false)
        .await
        .map_err(aws)?;
    Ok(Out(json!({})))
}

async fn put_targets(
    rules: &EventRules,
    ctx: OperationContext,
    input: PutTargetsInput,
) -> Result<Out, AwsError> {
    let rule = required(input.rule, "rule")?;
    if input.targets.is_empty() || input.targets.len() > 10 {
        return Err(EventsErrors::validation(
            "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10",
        ));
    }
    let mut targets = Vec::new();
    for target in input.targets {
        targets.push(TargetRecord {
            id: required(target.id, "targets.member.id")?,
            arn: required(target.arn, "targets.member.arn")?,
            input: target.input,
            input_path: target.input_path,
        });
    }
    let failed = rules
        .put_targets(&ctx.scope, input.event_bus_name.as_deref(), &rule, targets)
        .await
        .map_err(aws)?;
    Ok(Out(json!({
        "FailedEntryCount": failed.len(),
        "FailedEntries": failed.iter().map(|(id, code, message)| json!({
            "TargetId": id, "ErrorCode": code, "ErrorMessage": message,
        })).collect::<Vec<_>>(),
    })))
}

async fn remove_targets(
    rules: &EventRules,
    ctx: OperationContext,
    input: RemoveTargetsInput,
) -> Result<Out, AwsError> {
    let rule = required(input.rule, "rule")?;
    rules
        .remove_targets(
            &ctx.scope,
            input.event_bus_name.as_deref(),
            &rule,
            &input.ids,
        )
        .await
        .map_err(aws)?;
    Ok(Out(json!({ "FailedEntryCount": 0, "FailedEntries": [] })))
}

async fn list_targets(
    rules: &EventRules,
    ctx: OperationContext,
    input: ListTargetsInput,
) -> Result<Out, AwsError> {
    let name = required(input.rule, "rule")?;
    let rule = rules
        .get(&ctx.scope, input.event_bus_name.as_deref(), &name)
        .map_err(aws)?;
    let targets: Vec<Value> = rule
        .record
        .targets
        .iter()
        .map(|t| {
            let mut target = json!({ "Id": t.id, "Arn": t.arn });
            if let Some(input) = &t.input {
                target["Input"] = json!(input);
            }
            if let Some(path) = &t.input_path {
                target["InputPath"] = json!(path);
            }
            target
        })
        .collect();
    Ok(Out(json!({ "Targets": targets })))
}

async fn put_events(
    rules: &EventRules,
    ctx: OperationContext,
    input: PutEventsInput,
) -> Result<Out, AwsError> {
    if input.entries.is_empty() || input.entries.len() > 10 {
        return Err(EventsErrors::validation(
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10",
        ));
    }
    let entries = input
        .entries
        .into_iter()
        .map(|e| EventEntry {
            source: e.source,
            detail_type: e.detail_type,
            detail: e.detail,
            resources: e.resources,
            event_bus: e.event_bus_name,
            time: e.time.map(|t| t as i64),
        })
        .collect();
    let results = rules.put_events(&ctx.scope, entries).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let entries: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(id) => json!({ "EventId": id }),
            Err((code, message)) => json!({ "ErrorCode": code, "ErrorMessage": message }),
        })
        .collect();
    Ok(Out(
        json!({ "FailedEntryCount": failed, "Entries": entries }),
    ))
}

macro_rules! operation {
    ($json:ident, $rules:expr, $name:literal, $handler:path) => {
        let rules = $rules.clone();
        $json = $json.operation(
            concat!("AWSEvents.", $name),
            move |ctx: OperationContext, input| {
                let rules = rules.clone();
                async move { $handler(&rules, ctx, input).await }
            },
        );
    };
}

/// The EventBridge service.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let rules = state.events.clone();
    let mut json = JsonOperations::new(JsonVersion::V1_1);
    operation!(json, rules, "PutRule", put_rule);
    operation!(json, rules, "DescribeRule", describe_rule);
    operation!(json, rules, "ListRules", list_rules);
    operation!(json, rules, "DeleteRule", delete_rule);
    operation!(json, rules, "EnableRule", enable_rule);
    operation!(json, rules, "DisableRule", disable_rule);
    operation!(json, rules, "PutTargets", put_targets);
    operation!(json, rules, "RemoveTargets", remove_targets);
    operation!(json, rules, "ListTargetsByRule", list_targets);
    operation!(json, rules, "PutEvents", put_events);
    Service::new("events")
        .json(json)
        .authorized_by(EventsAuthorizer)
}
