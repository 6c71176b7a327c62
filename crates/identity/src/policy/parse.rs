//! Policy documents (JSON) → compiled [`Policy`], refusing what IAM refuses with its
//! `MalformedPolicyDocument` texts (IAM User Guide "Troubleshooting IAM policies", and the
//! messages IAM returns: "Syntax errors in policy.", "The policy failed legacy parsing",
//! "Policy document should not specify a principal.", "Has prohibited field Resource", …).

use serde_json::{Map, Value};

use super::condition::{Condition, ConditionOperator};
use super::pattern::Pattern;
use super::{
    Effect, Patterns, Policy, PolicyVersion, PrincipalId, PrincipalMatch, PrincipalSpec, Statement,
};

/// A document IAM would refuse; the message is IAM's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// The `MalformedPolicyDocument` message.
    pub message: String,
}

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError {
        message: message.into(),
    }
}

fn syntax() -> PolicyError {
    malformed("Syntax errors in policy.")
}

/// Where a document is used; the rules for `Principal` and `Resource` differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Attached to a user, group or role: no `Principal`, `Resource` required.
    Identity,
    /// On a resource (a function's policy): `Principal` and `Resource` required.
    Resource,
    /// A role's trust (assume-role) policy: `Principal` required, `Resource` prohibited.
    Trust,
}

/// Parses a policy for a user, group or role (inline or managed).
pub fn parse_identity_policy(document: &str) -> Result<Policy, PolicyError> {
    parse(document, Use::Identity)
}

/// Parses a resource-based policy (a function's policy).
pub fn parse_resource_policy(document: &str) -> Result<Policy, PolicyError> {
    parse(document, Use::Resource)
}

/// Parses a role's trust policy.
pub fn parse_trust_policy(document: &str) -> Result<Policy, PolicyError> {
    parse(document, Use::Trust)
}

fn parse(document: &str, usage: Use) -> Result<Policy, PolicyError> {
    let value: Value = serde_json::from_str(document).map_err(|_| syntax())?;
    let Value::Object(root) = value else {
        return Err(syntax());
    };
    let mut version = PolicyVersion::V2008;
    let mut id = None;
    let mut statements = None;
    for (key, value) in &root {
        match key.as_str() {
            "Version" => {
                version = match value.as_str() {
                    Some("2012-10-17") => PolicyVersion::V2012,
                    Some("2008-10-17") => PolicyVersion::V2008,
                    _ => return Err(malformed("The policy failed legacy parsing")),
                }
            }
            "Id" => id = Some(value.as_str().ok_or_else(syntax)?.to_owned()),
            "Statement" => statements = Some(value),
            _ => return Err(syntax()),
        }
    }
    let statements = match statements.ok_or_else(syntax)? {
        Value::Array(items) if !items.is_empty() => items.iter().collect::<Vec<_>>(),
        object @ Value::Object(_) => vec![object],
        _ => return Err(syntax()),
    };
    let statements = statements
        .into_iter()
        .map(|s| statement(s, usage, version))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        version,
        id,
        statements,
    })
}

/// A string or a non-empty array of strings.
fn strings(value: &Value) -> Result<Vec<&str>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().ok_or_else(syntax))
            .collect(),
        _ => Err(syntax()),
    }
}

fn statement(value: &Value, usage: Use, version: PolicyVersion) -> Result<Statement, PolicyError> {
    let Value::Object(fields) = value else {
        return Err(syntax());
    };
    for key in fields.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(syntax());
        }
    }
    let sid = match fields.get("Sid") {
        None => None,
        Some(Value::String(sid)) => {
            if usage == Use::Identity && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(malformed(
                    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                ));
            }
            Some(sid.clone())
        }
        Some(_) => return Err(syntax()),
    };
    let effect = match fields.get("Effect") {
        None => return Err(malformed("Missing required field Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return Err(syntax()),
    };
    let principal = match (fields.get("Principal"), fields.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(syntax()),
        (None, None) => None,
        (Some(p), None) => Some(PrincipalMatch::Is(principal_spec(p)?)),
        (None, Some(p)) => Some(PrincipalMatch::IsNot(principal_spec(p)?)),
    };
    match (usage, &principal) {
        (Use::Identity, Some(_)) => {
            return Err(malformed("Policy document should not specify a principal."))
        }
        (Use::Resource | Use::Trust, None) => {
            return Err(malformed("Missing required field Principal"))
        }
        _ => {}
    }
    let actions = match (fields.get("Action"), fields.get("NotAction")) {
        (Some(_), Some(_)) => return Err(syntax()),
        (None, None) => return Err(malformed("Policy statement must contain actions.")),
        (Some(a), None) => Patterns::Any(actions(a)?),
        (None, Some(a)) => Patterns::NoneOf(actions(a)?),
    };
    let variables = version == PolicyVersion::V2012;
    let resources = match (fields.get("Resource"), fields.get("NotResource")) {
        (Some(_), Some(_)) => return Err(syntax()),
        (Some(_), None) | (None, Some(_)) if usage == Use::Trust => {
            return Err(malformed("Has prohibited field Resource"))
        }
        (None, None) if usage == Use::Trust => None,
        (None, None) => return Err(malformed("Policy statement must contain resources.")),
        (Some(r), None) => Some(Patterns::Any(resources(r, variables)?)),
        (None, Some(r)) => Some(Patterns::NoneOf(resources(r, variables)?)),
    };
    let conditions = match fields.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => conditions(block, variables)?,
        Some(_) => return Err(syntax()),
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

fn actions(value: &Value) -> Result<Vec<Pattern>, PolicyError> {
    strings(value)?
        .into_iter()
        .map(|action| {
            let vendor_ok = action == "*"
                || action
                    .split_once(':')
                    .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
            if vendor_ok {
                Ok(Pattern::action(action))
            } else {
                Err(malformed(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                ))
            }
        })
        .collect()
}

fn resources(value: &Value, variables: bool) -> Result<Vec<Pattern>, PolicyError> {
    strings(value)?
        .into_iter()
        .map(|resource| {
            if resource == "*" || resource.starts_with("arn:") {
                Ok(Pattern::resource(resource, variables))
            } else {
                Err(malformed(format!(
                    "Resource {resource} must be in ARN format or \"*\"."
                )))
            }
        })
        .collect()
}

fn principal_spec(value: &Value) -> Result<PrincipalSpec, PolicyError> {
    if value.as_str() == Some("*") {
        return Ok(PrincipalSpec::Everyone);
    }
    let Value::Object(kinds) = value else {
        return Err(syntax());
    };
    let mut listed = Vec::new();
    for (kind, ids) in kinds {
        for id in strings(ids)? {
            let invalid = || malformed(format!("Invalid principal in policy: \"{kind}\":\"{id}\""));
            match kind.as_str() {
                "AWS" if id == "*" => return Ok(PrincipalSpec::Everyone),
                "AWS" if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
                    listed.push(PrincipalId::Account(id.to_owned()))
                }
                "AWS" => {
                    let account_root = id
                        .strip_prefix("arn:aws:iam::")
                        .and_then(|rest| rest.strip_suffix(":root"));
                    match account_root {
                        Some(account) => listed.push(PrincipalId::Account(account.to_owned())),
                        None if id.starts_with("arn:aws:iam::")
                            || id.starts_with("arn:aws:sts::") =>
                        {
                            listed.push(PrincipalId::Arn(id.to_owned()))
                        }
                        None => return Err(invalid()),
                    }
                }
                "Service" if !id.is_empty() && !id.contains('*') => {
                    listed.push(PrincipalId::Service(id.to_owned()))
                }
                "Federated" | "CanonicalUser" => listed.push(PrincipalId::Federated(id.to_owned())),
                _ => return Err(invalid()),
            }
        }
    }
    if listed.is_empty() {
        return Err(syntax());
    }
    Ok(PrincipalSpec::Listed(listed))
}

fn conditions(block: &Map<String, Value>, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (operator_name, keys) in block {
        let operator = ConditionOperator::parse(operator_name)
            .ok_or_else(|| malformed(format!("Invalid Condition type : {operator_name}")))?;
        let Value::Object(keys) = keys else {
            return Err(syntax());
        };
        for (key, values) in keys {
            if !key.contains(':') {
                return Err(malformed(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                ));
            }
            let values = match values {
                Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                other => vec![scalar(other)?],
            };
            out.push(Condition {
                operator,
                key: key.clone(),
                values,
                variables,
            });
        }
    }
    Ok(out)
}

/// Condition values may be written as strings, booleans or numbers.
fn scalar(value: &Value) -> Result<String, PolicyError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(syntax()),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
