//! Authorization tables: for each operation Nubo serves, the IAM action(s) AWS checks and the
//! resource ARN each is checked against (the Service Authorization Reference), one declarative
//! table per service.
//!
//! A resource is a template: `{Name}` is a request parameter (required), `{Name=default}` one with
//! a default (IAM paths default to `/`), `{:Name}` appends `:value` when the parameter is present
//! (Lambda's qualifier), `{region}` and `{account}` come from the request's scope. A check with `when` applies only if that parameter is present
//! (`iam:PassRole` on `UpdateFunctionConfiguration` only when it changes the role).
//!
//! The edge fills the parameters in the form the template wants: Lambda's `FunctionName` as the
//! bare name (after `FunctionRef::parse` has read ARNs and `name:qualifier`), the qualifier from
//! either place, IAM's `UserPath`/`RolePath` from the registry for existing entities.

mod apigateway;
mod dynamodb;
mod events;
mod execute_api;
mod iam;
mod lambda;
mod logs;
mod monitoring;
mod s3;
mod sqs;
mod sts;

use nubo_wire::Scope;

/// One authorization an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// `service:Action` (for API Gateway, `apigateway:METHOD`).
    pub action: &'static str,
    /// The resource template.
    pub resource: &'static str,
    /// Only when this parameter is present.
    pub when: Option<&'static str>,
}

/// An operation and the checks it needs (all must pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The operation, as botocore names it (`Invoke`, `CreateApi`, `AssumeRole`).
    pub operation: &'static str,
    /// The checks, in order.
    pub checks: &'static [Check],
}

/// A check with one resource, shorthand for the tables.
pub(crate) const fn check(action: &'static str, resource: &'static str) -> Check {
    Check {
        action,
        resource,
        when: None,
    }
}

/// A check that applies only when `parameter` is present.
pub(crate) const fn check_when(
    action: &'static str,
    resource: &'static str,
    parameter: &'static str,
) -> Check {
    Check {
        action,
        resource,
        when: Some(parameter),
    }
}

/// One question for the evaluator: `action` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// `service:Action`.
    pub action: &'static str,
    /// The resource ARN, or `*`.
    pub resource: String,
}

/// Why the tables could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// No table for the signing name.
    #[error("no authorization table for service {0}")]
    UnknownService(String),
    /// The service has no such operation.
    #[error("no authorization rule for {service}:{operation}")]
    UnknownOperation {
        /// The signing name.
        service: String,
        /// The operation.
        operation: String,
    },
    /// A template needs a parameter the edge did not supply (a bug in the caller).
    #[error("{operation} needs parameter {parameter} to name its resource")]
    MissingParameter {
        /// The operation.
        operation: &'static str,
        /// The parameter.
        parameter: String,
    },
}

/// The table for a signing name (`lambda`, `apigateway`, `iam`, `sts`, `sqs`, `events`, `s3`).
pub fn rules(service: &str) -> Option<&'static [Rule]> {
    match service {
        "lambda" => Some(lambda::RULES),
        "apigateway" => Some(apigateway::RULES),
        "iam" => Some(iam::RULES),
        "sts" => Some(sts::RULES),
        "sqs" => Some(sqs::RULES),
        "events" => Some(events::RULES),
        "s3" => Some(s3::RULES),
        "logs" => Some(logs::RULES),
        "monitoring" => Some(monitoring::RULES),
        "execute-api" => Some(execute_api::RULES),
        "dynamodb" => Some(dynamodb::RULES),
        _ => None,
    }
}

/// The rule for one operation.
pub fn rule(service: &str, operation: &str) -> Result<&'static Rule, TableError> {
    rules(service)
        .ok_or_else(|| TableError::UnknownService(service.to_owned()))?
        .iter()
        .find(|r| r.operation == operation)
        .ok_or_else(|| TableError::UnknownOperation {
            service: service.to_owned(),
            operation: operation.to_owned(),
        })
}

/// What `operation` must be authorized for, given the request's `scope` and `parameters`.
pub fn authorization_requests(
    service: &str,
    operation: &str,
    scope: &Scope,
    parameters: &[(&str, &str)],
) -> Result<Vec<AuthorizationRequest>, TableError> {
    let rule = rule(service, operation)?;
    let param = |name: &str| {
        parameters
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    };
    rule.checks
        .iter()
        .filter(|c| c.when.is_none_or(|p| param(p).is_some()))
        .map(|c| {
            Ok(AuthorizationRequest {
                action: c.action,
                resource: expand(c.resource, rule.operation, scope, &param)?,
            })
        })
        .collect()
}

fn expand<'p>(
    template: &str,
    operation: &'static str,
    scope: &Scope,
    param: &impl Fn(&str) -> Option<&'p str>,
) -> Result<String, TableError> {
    let mut out = String::with_capacity(template.len() + 48);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or(rest.len());
        let name = &rest[open + 1..close];
        match name {
            "region" => out.push_str(&scope.region),
            "account" => out.push_str(&scope.account_id),
            optional if optional.starts_with(':') => {
                if let Some(value) = param(&optional[1..]) {
                    out.push(':');
                    out.push_str(value);
                }
            }
            with_default if with_default.contains('=') => {
                let (name, default) = with_default.split_once('=').expect("contains '='");
                out.push_str(param(name).unwrap_or(default));
            }
            required => {
                out.push_str(param(required).ok_or_else(|| TableError::MissingParameter {
                    operation,
                    parameter: required.to_owned(),
                })?)
            }
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
