//! Resource-based policies of functions: AddPermission, GetPolicy, RemovePermission, and the one
//! question every invoking service asks — may this principal invoke this function?
//!
//! A policy belongs to a function and qualifier: the unqualified function (which `$LATEST`
//! shares, as on AWS: "We currently do not support adding policies for $LATEST."), a published
//! version or an alias. It lives in the function's [`FunctionState`] (so a lookup on the invoke
//! path is one read of the registry, with no allocation and no store) and is stored as one
//! document per qualifier in [`POLICIES`], `{account}/{region}/{function}/{qualifier}`, written in
//! the same commits as the function: deleting the function, the version or the alias deletes its
//! policy. The statements are kept as AWS renders them (GetPolicy returns them as written) and
//! compiled once, when written or loaded, with `nubo_identity`'s policy language.
//!
//! Evaluation ([`Registry::authorize_invoke`]) is IAM's: an explicit `Deny` anywhere wins; in the
//! function's account the caller's identity policies *or* the function's policy may allow;
//! across accounts the function's policy must allow as well; services (`apigateway.amazonaws.com`,
//! `s3.amazonaws.com`) and anonymous callers have no identity policies, so only the function's
//! policy can let them in.

use std::sync::Arc;

use nubo_identity::policy::{parse_resource_policy, AccessDenied, ConditionKeys, Policy};
use nubo_identity::Caller;
use nubo_store::Change;
use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::collections::{self, POLICIES};
use super::functions::new_revision;
use super::records::LATEST;
use super::registry::{FunctionState, Registry};
use crate::ControlError;

/// AWS's limit on a function policy's size (bytes of its JSON).
pub const POLICY_SIZE_LIMIT: usize = 20 * 1024;

/// The stored shape of a policy: its statements as GetPolicy renders them, and its revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPolicy {
    statements: Vec<Value>,
    revision_id: String,
}

/// One function's (or version's, or alias's) resource-based policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "StoredPolicy", into = "StoredPolicy")]
pub struct FunctionPolicy {
    statements: Vec<Value>,
    revision_id: String,
    compiled: Arc<Policy>,
}

impl TryFrom<StoredPolicy> for FunctionPolicy {
    type Error = String;

    fn try_from(stored: StoredPolicy) -> Result<Self, String> {
        Self::new(stored.statements, stored.revision_id)
    }
}

impl From<FunctionPolicy> for StoredPolicy {
    fn from(policy: FunctionPolicy) -> Self {
        Self {
            statements: policy.statements,
            revision_id: policy.revision_id,
        }
    }
}

impl FunctionPolicy {
    pub(super) fn new(statements: Vec<Value>, revision_id: String) -> Result<Self, String> {
        let compiled = parse_resource_policy(&Self::render(&statements))
            .map_err(|e| format!("a function policy does not compile: {e}"))?;
        Ok(Self {
            statements,
            revision_id,
            compiled: Arc::new(compiled),
        })
    }

    fn render(statements: &[Value]) -> String {
        json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
    }

    /// The policy document, as GetPolicy returns it.
    pub fn document(&self) -> String {
        Self::render(&self.statements)
    }

    /// The statements, as the document holds them.
    pub fn statements(&self) -> &[Value] {
        &self.statements
    }

    /// Changes with every AddPermission and RemovePermission.
    pub fn revision_id(&self) -> &str {
        &self.revision_id
    }

    /// The compiled policy the evaluator walks.
    pub fn compiled(&self) -> &Arc<Policy> {
        &self.compiled
    }

    fn sid(statement: &Value) -> Option<&str> {
        statement.get("Sid").and_then(Value::as_str)
    }
}

/// AddPermission's input, checked against the model by the edge.
#[derive(Debug, Clone, Default)]
pub struct Permission {
    /// `StatementId`: unique within the policy.
    pub statement_id: String,
    /// `Action`: `lambda:InvokeFunction`, `lambda:*`, `*`, …
    pub action: String,
    /// `Principal`: `*`, an account id, an ARN, or a service principal.
    pub principal: String,
    /// `SourceArn` (an `ArnLike` condition on `AWS:SourceArn`).
    pub source_arn: Option<String>,
    /// `SourceAccount` (`StringEquals` on `AWS:SourceAccount`).
    pub source_account: Option<String>,
    /// `EventSourceToken` (`StringEquals` on `lambda:EventSourceToken`).
    pub event_source_token: Option<String>,
    /// `PrincipalOrgID` (`StringEquals` on `aws:PrincipalOrgID`).
    pub principal_org_id: Option<String>,
    /// `FunctionUrlAuthType` (`StringEquals` on `lambda:FunctionUrlAuthType`).
    pub function_url_auth_type: Option<String>,
    /// `InvokedViaFunctionUrl` (`Bool` on `lambda:InvokedViaFunctionUrl`).
    pub invoked_via_function_url: Option<bool>,
    /// `RevisionId`: apply only if the policy is still at this revision.
    pub revision_id: Option<String>,
}

impl Permission {
    /// The statement AWS writes for this permission on `resource` (the function's ARN, qualified
    /// when the permission is on a version or alias).
    fn statement(&self, resource: &str) -> Result<Value, ControlError> {
        let mut statement = Map::new();
        statement.insert("Sid".into(), json!(self.statement_id));
        statement.insert("Effect".into(), json!("Allow"));
        statement.insert("Principal".into(), principal(&self.principal)?);
        statement.insert("Action".into(), json!(self.action));
        statement.insert("Resource".into(), json!(resource));
        let mut conditions = Map::new();
        let mut add = |operator: &str, key: &str, value: Value| {
            let block = conditions
                .entry(operator.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(block) = block {
                block.insert(key.to_owned(), value);
            }
        };
        if let Some(account) = &self.source_account {
            add("StringEquals", "AWS:SourceAccount", json!(account));
        }
        if let Some(token) = &self.event_source_token {
            add("StringEquals", "lambda:EventSourceToken", json!(token));
        }
        if let Some(org) = &self.principal_org_id {
            add("StringEquals", "aws:PrincipalOrgID", json!(org));
        }
        if let Some(auth_type) = &self.function_url_auth_type {
            add(
                "StringEquals",
                "lambda:FunctionUrlAuthType",
                json!(auth_type),
            );
        }
        if let Some(via_url) = self.invoked_via_function_url {
            add(
                "Bool",
                "lambda:InvokedViaFunctionUrl",
                json!(via_url.to_string()),
            );
        }
        if let Some(arn) = &self.source_arn {
            add("ArnLike", "AWS:SourceArn", json!(arn));
        }
        if !conditions.is_empty() {
            statement.insert("Condition".into(), Value::Object(conditions));
        }
        Ok(Value::Object(statement))
    }
}

/// AddPermission's `Principal` as a policy's: `*`, `{"AWS": "arn:aws:iam::ACCOUNT:root"}` for an
/// account id, `{"AWS": ARN}`, or `{"Service": NAME}`.
fn principal(principal: &str) -> Result<Value, ControlError> {
    if principal == "*" {
        return Ok(json!("*"));
    }
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(json!({ "AWS": format!("arn:aws:iam::{principal}:root") }));
    }
    if principal.starts_with("arn:aws:iam::") || principal.starts_with("arn:aws:sts::") {
        return Ok(json!({ "AWS": principal }));
    }
    if !principal.starts_with("arn:") && principal.contains('.') {
        return Ok(json!({ "Service": principal }));
    }
    Err(ControlError::InvalidParameter(
        "The provided principal was invalid. Please check the principal and try again.".into(),
    ))
}

/// The key a reference's policy is kept under in the function's state: its qualifier, `$LATEST`
/// for the unqualified function.
fn slot(function: &FunctionRef) -> &str {
    function.qualifier.as_deref().unwrap_or(LATEST)
}

/// The resource a reference's policy statements name: the unqualified ARN for the function (and
/// `$LATEST`), else the qualified one.
fn resource(function: &FunctionRef) -> String {
    match function.qualifier.as_deref() {
        None | Some(LATEST) => function.unqualified_arn(),
        Some(_) => function.arn(),
    }
}

/// The version or alias a policy is attached to must exist.
fn check_target(state: &FunctionState, function: &FunctionRef) -> Result<(), ControlError> {
    let Some(qualifier) = function.qualifier.as_deref() else {
        return Ok(());
    };
    let exists = state.version_named(qualifier).is_some() || state.aliases.contains_key(qualifier);
    if exists {
        Ok(())
    } else {
        Err(Registry::not_found(
            &function.scope,
            &function.name,
            Some(qualifier),
        ))
    }
}

fn check_revision(expected: Option<&str>, current: &str) -> Result<(), ControlError> {
    match expected {
        Some(expected) if expected != current => Err(ControlError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id".into(),
        )),
        _ => Ok(()),
    }
}

impl Registry {
    /// The policy of a function, version or alias (`$LATEST` shares the function's). Reads memory
    /// only and allocates nothing but the returned reference count.
    pub fn policy(&self, function: &FunctionRef) -> Option<Arc<FunctionPolicy>> {
        self.policy_named(
            &function.scope,
            &function.name,
            function.qualifier.as_deref(),
        )
    }

    /// [`Self::policy`] by name and qualifier (the guard has them as text).
    pub fn policy_named(
        &self,
        scope: &Scope,
        name: &str,
        qualifier: Option<&str>,
    ) -> Option<Arc<FunctionPolicy>> {
        let slot = match qualifier {
            Some(LATEST) | None => LATEST,
            Some(qualifier) => qualifier,
        };
        self.read_state(scope, name, |state| state.policies.get(slot).cloned())
    }

    /// AddPermission: adds a statement to the policy of the function, version or alias the
    /// reference names (which must exist); returns the statement as written.
    pub async fn add_permission(
        &self,
        function: &FunctionRef,
        permission: &Permission,
    ) -> Result<Value, ControlError> {
        if function.qualifier.as_deref() == Some(LATEST) {
            return Err(ControlError::InvalidParameter(
                "We currently do not support adding policies for $LATEST.".into(),
            ));
        }
        let statement = permission.statement(&resource(function))?;
        let key = collections::key(&function.scope, &function.name, slot(function));
        self.modify(function, |state, transaction| {
            check_target(state, function)?;
            let current = state.policies.get(slot(function));
            let mut statements = current.map(|p| p.statements.clone()).unwrap_or_default();
            let current_revision = match current {
                Some(policy) => policy.revision_id.as_str(),
                None => state.latest.revision_id.as_str(),
            };
            check_revision(permission.revision_id.as_deref(), current_revision)?;
            if statements
                .iter()
                .any(|s| FunctionPolicy::sid(s) == Some(permission.statement_id.as_str()))
            {
                return Err(ControlError::Conflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    permission.statement_id
                )));
            }
            statements.push(statement.clone());
            let size = FunctionPolicy::render(&statements).len();
            if size > POLICY_SIZE_LIMIT {
                return Err(ControlError::PolicyLengthExceeded(format!(
                    "The final policy size ({size}) is bigger than the limit ({POLICY_SIZE_LIMIT})."
                )));
            }
            let policy = FunctionPolicy::new(statements, new_revision())
                .map_err(ControlError::InvalidParameter)?;
            transaction.put_json(POLICIES, &key, &policy)?;
            state
                .policies
                .insert(slot(function).to_owned(), Arc::new(policy));
            Ok(statement)
        })
        .await
    }

    /// RemovePermission: removes statement `statement_id`; the policy goes with its last
    /// statement.
    pub async fn remove_permission(
        &self,
        function: &FunctionRef,
        statement_id: &str,
        revision_id: Option<&str>,
    ) -> Result<(), ControlError> {
        let key = collections::key(&function.scope, &function.name, slot(function));
        self.modify(function, |state, transaction| {
            check_target(state, function)?;
            let Some(current) = state.policies.get(slot(function)) else {
                return Err(ControlError::NotFound(
                    "No policy is associated with the given resource.".into(),
                ));
            };
            check_revision(revision_id, &current.revision_id)?;
            let statements: Vec<Value> = current
                .statements
                .iter()
                .filter(|s| FunctionPolicy::sid(s) != Some(statement_id))
                .cloned()
                .collect();
            if statements.len() == current.statements.len() {
                return Err(ControlError::NotFound(format!(
                    "Statement {statement_id} is not found in resource policy."
                )));
            }
            if statements.is_empty() {
                transaction.change(Change::delete(POLICIES, &key));
                state.policies.remove(slot(function));
            } else {
                let policy = FunctionPolicy::new(statements, new_revision())
                    .map_err(ControlError::InvalidParameter)?;
                transaction.put_json(POLICIES, &key, &policy)?;
                state
                    .policies
                    .insert(slot(function).to_owned(), Arc::new(policy));
            }
            Ok(())
        })
        .await
    }

    /// May `caller` perform `action` (`lambda:InvokeFunction`, `lambda:InvokeFunctionUrl`) on the
    /// function, version or alias `function` names, given the caller's identity policies and the
    /// function's own policy? `keys` are the request's condition keys (`aws:SourceArn`,
    /// `aws:SourceAccount`, `lambda:FunctionUrlAuthType`, …).
    ///
    /// The function need not exist: a missing function has no policy, and the caller learns of
    /// it from the invocation that follows.
    pub fn authorize_invoke(
        &self,
        caller: &Caller,
        action: &str,
        function: &FunctionRef,
        keys: &ConditionKeys,
        now: OffsetDateTime,
    ) -> Result<(), AccessDenied> {
        let policy = self.policy(function);
        // `$LATEST` is judged as the function itself, whose policy it shares.
        caller.authorize(
            action,
            &resource(function),
            policy.as_ref().map(|p| p.compiled().as_ref()),
            Some(&function.scope.account_id),
            keys,
            now,
        )
    }

    /// The question other services ask before they invoke a function on an event's behalf: may
    /// AWS service `service` (`s3.amazonaws.com`, `apigateway.amazonaws.com`, …), acting for the
    /// resource `source_arn` owned by account `source_account`, invoke `function`? Only the
    /// function's policy can allow it (`lambda:InvokeFunction`, principal `{"Service": service}`,
    /// conditions on `AWS:SourceArn` / `AWS:SourceAccount`).
    pub fn service_may_invoke(
        &self,
        function: &FunctionRef,
        service: &str,
        source_arn: &str,
        source_account: &str,
    ) -> Result<(), AccessDenied> {
        let keys = ConditionKeys::default()
            .with("aws:SourceArn", source_arn)
            .with("aws:SourceAccount", source_account);
        self.authorize_invoke(
            &Caller::service(service),
            "lambda:InvokeFunction",
            function,
            &keys,
            OffsetDateTime::now_utc(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permission(principal: &str) -> Permission {
        Permission {
            statement_id: "s1".into(),
            action: "lambda:InvokeFunction".into(),
            principal: principal.into(),
            ..Permission::default()
        }
    }

    #[test]
    fn statements_are_written_as_aws_writes_them() {
        let mut p = permission("s3.amazonaws.com");
        p.source_arn = Some("arn:aws:s3:::bucket".into());
        p.source_account = Some("123456789012".into());
        let statement = p
            .statement("arn:aws:lambda:us-east-1:1:function:f")
            .unwrap();
        assert_eq!(
            statement,
            json!({
                "Sid": "s1", "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": "123456789012"},
                    "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
                },
            })
        );
        assert_eq!(
            principal("111122223333").unwrap(),
            json!({"AWS": "arn:aws:iam::111122223333:root"})
        );
        assert_eq!(principal("*").unwrap(), json!("*"));
        assert!(principal("not a principal").is_err());
    }

    #[test]
    fn stored_policies_compile_when_read_back() {
        let statement = permission("*")
            .statement("arn:aws:lambda:us-east-1:111122223333:function:f")
            .unwrap();
        let policy = FunctionPolicy::new(vec![statement], "r1".into()).unwrap();
        let text = serde_json::to_string(&policy).unwrap();
        let back: FunctionPolicy = serde_json::from_str(&text).unwrap();
        assert_eq!(back.document(), policy.document());
        assert_eq!(back.compiled().statements.len(), 1);
        assert!(serde_json::from_str::<FunctionPolicy>(
            r#"{"statements":[{"Effect":"Maybe"}],"revisionId":"x"}"#
        )
        .is_err());
    }
}
