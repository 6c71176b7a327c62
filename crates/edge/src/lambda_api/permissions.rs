//! `/2015-03-31/functions/{FunctionName}/policy[/{StatementId}]`: a function's resource-based
//! policy (AddPermission, GetPolicy, RemovePermission), per qualifier. The policies live in the
//! lambda layer (`nubo_lambda::control::permissions`), which also answers who may invoke.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use http::StatusCode;
use nubo_lambda::Permission;
use nubo_wire::{AwsError, Violation, Violations};
use serde::Deserialize;
use serde_json::json;

use super::reference::Function;
use super::{json_body, registry};
use crate::query::Query;
use crate::response::{empty, json, ApiError, ApiResult};
use crate::EdgeState;

/// AddPermission's body (botocore's `AddPermissionRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermissionInput {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    invoked_via_function_url: Option<bool>,
}

const STATEMENT_ID: &str = "([a-zA-Z0-9-_]+)";
const ACTION: &str = "(lambda:[*]|lambda:[a-zA-Z]+|[*])";
const SOURCE_ARN: &str =
    "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";

fn is_action(action: &str) -> bool {
    action == "*"
        || action.strip_prefix("lambda:").is_some_and(|rest| {
            rest == "*" || (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphabetic()))
        })
}

fn is_statement_id(id: &str, extra: &[u8]) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || extra.contains(&b))
}

fn is_source_arn(arn: &str) -> bool {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    fields.len() == 6
        && fields[0] == "arn"
        && fields[1].starts_with("aws")
        && !fields[2].is_empty()
        && (fields[4].is_empty()
            || (fields[4].len() == 12 && fields[4].bytes().all(|b| b.is_ascii_digit())))
}

/// Every model constraint AddPermission's input breaks, counted as AWS reports them; then the
/// domain input.
fn permission(input: AddPermissionInput) -> Result<Permission, AwsError> {
    let mut violations = Violations::new();
    match input.statement_id.as_deref() {
        None => violations.push(Violation::required("statementId")),
        Some("") => violations.push(Violation::new(
            "",
            "statementId",
            "Member must have length greater than or equal to 1",
        )),
        Some(id) if id.len() > 100 => {
            violations.push(Violation::max_length(id, "statementId", 100))
        }
        Some(id) if !is_statement_id(id, b"") => {
            violations.push(Violation::pattern(id, "statementId", STATEMENT_ID))
        }
        Some(_) => {}
    }
    match input.action.as_deref() {
        None => violations.push(Violation::required("action")),
        Some(action) if !is_action(action) => {
            violations.push(Violation::pattern(action, "action", ACTION))
        }
        Some(_) => {}
    }
    match input.principal.as_deref() {
        None => violations.push(Violation::required("principal")),
        Some(p) if p.is_empty() || p.chars().any(char::is_whitespace) => {
            violations.push(Violation::pattern(p, "principal", "[^\\s]+"))
        }
        Some(_) => {}
    }
    if let Some(arn) = input.source_arn.as_deref().filter(|a| !is_source_arn(a)) {
        violations.push(Violation::pattern(arn, "sourceArn", SOURCE_ARN));
    }
    if let Some(account) = input
        .source_account
        .as_deref()
        .filter(|a| !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())))
    {
        violations.push(Violation::pattern(account, "sourceAccount", "\\d{12}"));
    }
    if let Some(org) = input.principal_org_id.as_deref().filter(|o| {
        !(o.len() >= 12
            && o.len() <= 34
            && o.strip_prefix("o-").is_some_and(|rest| {
                rest.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            }))
    }) {
        violations.push(Violation::pattern(
            org,
            "principalOrgID",
            "o-[a-z0-9]{10,32}",
        ));
    }
    if let Some(token) = input.event_source_token.as_deref().filter(|t| {
        t.len() > 256
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }) {
        violations.push(Violation::pattern(
            token,
            "eventSourceToken",
            "[a-zA-Z0-9._\\-]+",
        ));
    }
    if let Some(auth) = input
        .function_url_auth_type
        .as_deref()
        .filter(|a| !matches!(*a, "NONE" | "AWS_IAM"))
    {
        violations.push(Violation::enum_set(
            auth,
            "functionUrlAuthType",
            &["NONE", "AWS_IAM"],
        ));
    }
    violations.into_result()?;
    Ok(Permission {
        statement_id: input.statement_id.unwrap_or_default(),
        action: input.action.unwrap_or_default(),
        principal: input.principal.unwrap_or_default(),
        source_arn: input.source_arn,
        source_account: input.source_account,
        event_source_token: input.event_source_token,
        principal_org_id: input.principal_org_id,
        function_url_auth_type: input.function_url_auth_type,
        invoked_via_function_url: input.invoked_via_function_url,
        revision_id: input.revision_id,
    })
}

/// `POST …/policy`: AddPermission (201 with the statement as a JSON string).
pub(super) async fn add(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let input: AddPermissionInput = json_body(req, "AddPermission").await?;
    let permission = permission(input)?;
    let statement = registry(&state)
        .add_permission(&function, &permission)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({ "Statement": statement.to_string() }),
    ))
}

/// `GET …/policy`: GetPolicy (the document as a JSON string, and its revision).
pub(super) async fn get(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
) -> ApiResult {
    let registry = registry(&state);
    registry.resolve(&function)?;
    let policy = registry.policy(&function).ok_or_else(|| {
        ApiError(AwsError::resource_not_found(
            "The resource you requested does not exist.",
        ))
    })?;
    Ok(json(
        StatusCode::OK,
        &json!({ "Policy": policy.document(), "RevisionId": policy.revision_id() }),
    ))
}

/// `DELETE …/policy/{StatementId}`: RemovePermission (204).
pub(super) async fn remove(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    Path((_, statement_id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    if statement_id.is_empty() || statement_id.len() > 100 || !is_statement_id(&statement_id, b".")
    {
        return Err(Violation::pattern(&statement_id, "statementId", "([a-zA-Z0-9-_.]+)").into());
    }
    let query = Query::parse(req.uri().query());
    registry(&state)
        .remove_permission(&function, &statement_id, query.get("RevisionId"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_constraints_are_counted_together() {
        let err = permission(AddPermissionInput {
            action: Some("s3:GetObject".into()),
            ..AddPermissionInput::default()
        })
        .unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(
            err.message.starts_with("3 validation errors detected"),
            "{}",
            err.message
        );
        assert!(is_action("lambda:InvokeFunction") && is_action("*") && is_action("lambda:*"));
        assert!(is_source_arn(
            "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/x"
        ));
        assert!(is_source_arn("arn:aws:s3:::bucket"));
        assert!(!is_source_arn("bucket"));
    }
}
