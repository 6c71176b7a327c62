//! The decision (IAM User Guide, "Policy evaluation logic"), for the policy types Nubo has:
//!
//! 1. An explicit `Deny` in any applicable policy wins.
//! 2. Same account: an `Allow` in an identity-based policy *or* in the resource-based policy
//!    suffices. Cross-account: both must allow.
//! 3. Otherwise the request is implicitly denied.
//!
//! A resource policy that names an *account* (`"AWS": "123456789012"`) delegates to that account's
//! identity policies: within the account it grants only the root, across accounts it lets the
//! account's principals through to their own identity policies. The account root is allowed
//! everything in its own account. Services and anonymous callers have no identity policies, so only
//! the resource policy can grant them anything.

use std::sync::Arc;

use http::StatusCode;
use nubo_wire::sigv4::AuthFamily;
use nubo_wire::AwsError;

use super::context::{Principal, PrincipalKind, RequestContext};
use super::{Effect, Patterns, Policy, PrincipalId, PrincipalMatch, PrincipalSpec, Statement};

/// Which kind of policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to the principal (user, group, role).
    Identity,
    /// Attached to the resource (a function's policy, a role's trust policy).
    Resource,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// A `Deny` statement of this kind matched.
    ExplicitDeny(PolicyKind),
    /// Nothing allowed it; the kind is the policy that would have had to.
    ImplicitDeny(PolicyKind),
}

/// The policies that apply to one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySet<'a> {
    /// The principal's identity-based policies (inline, managed, groups').
    pub identity: &'a [Arc<Policy>],
    /// The resource's policy, if it has one.
    pub resource: Option<&'a Policy>,
    /// The account that owns the resource (`None`: the principal's own account).
    pub resource_account: Option<&'a str>,
}

fn patterns_match(patterns: &Patterns, value: &str, context: &RequestContext<'_>) -> bool {
    match patterns {
        Patterns::Any(list) => list.iter().any(|p| p.matches(value, context)),
        Patterns::NoneOf(list) => !list.iter().any(|p| p.matches(value, context)),
    }
}

fn principal_listed(spec: &PrincipalSpec, principal: &Principal, same_account: bool) -> bool {
    let PrincipalSpec::Listed(ids) = spec else {
        return true;
    };
    ids.iter().any(|id| match id {
        PrincipalId::Account(account) => {
            *account == principal.account
                && (principal.kind == PrincipalKind::Account
                    || (!same_account
                        && matches!(
                            principal.kind,
                            PrincipalKind::User | PrincipalKind::AssumedRole
                        )))
        }
        PrincipalId::Arn(arn) => {
            *arn == principal.arn || principal.role_arn.as_deref() == Some(arn)
        }
        PrincipalId::Service(service) => {
            principal.kind == PrincipalKind::Service && *service == principal.arn
        }
        PrincipalId::Federated(_) => false,
    })
}

fn applies(statement: &Statement, context: &RequestContext<'_>, same_account: bool) -> bool {
    if !patterns_match(&statement.actions, context.action, context) {
        return false;
    }
    if let Some(resources) = &statement.resources {
        if !patterns_match(resources, context.resource, context) {
            return false;
        }
    }
    let principal_ok = match &statement.principal {
        None => true,
        Some(PrincipalMatch::Is(spec)) => principal_listed(spec, context.principal, same_account),
        Some(PrincipalMatch::IsNot(spec)) => {
            !principal_listed(spec, context.principal, same_account)
        }
    };
    if !principal_ok {
        return false;
    }
    statement.conditions.iter().all(|c| c.holds(context))
}

/// Whether any statement of `effect` in `policy` applies.
fn any(policy: &Policy, effect: Effect, context: &RequestContext<'_>, same_account: bool) -> bool {
    policy
        .statements
        .iter()
        .any(|s| s.effect == effect && applies(s, context, same_account))
}

/// Decides `context` under `policies`.
pub fn evaluate(context: &RequestContext<'_>, policies: &PolicySet<'_>) -> Decision {
    let principal = context.principal;
    let same_account = policies
        .resource_account
        .is_none_or(|account| account == principal.account);

    if policies
        .identity
        .iter()
        .any(|p| any(p, Effect::Deny, context, same_account))
    {
        return Decision::ExplicitDeny(PolicyKind::Identity);
    }
    if policies
        .resource
        .is_some_and(|p| any(p, Effect::Deny, context, same_account))
    {
        return Decision::ExplicitDeny(PolicyKind::Resource);
    }

    let resource_allows = policies
        .resource
        .is_some_and(|p| any(p, Effect::Allow, context, same_account));
    let has_identity = matches!(
        principal.kind,
        PrincipalKind::User | PrincipalKind::AssumedRole | PrincipalKind::Account
    );
    if !has_identity {
        return if resource_allows {
            Decision::Allow
        } else {
            Decision::ImplicitDeny(PolicyKind::Resource)
        };
    }
    // An account's root may do whatever its own account may: everything in it, and across
    // accounts whatever the resource's policy grants the account.
    let identity_allows = principal.kind == PrincipalKind::Account
        || policies
            .identity
            .iter()
            .any(|p| any(p, Effect::Allow, context, same_account));
    match (same_account, identity_allows, resource_allows) {
        (true, true, _) | (true, _, true) | (false, true, true) => Decision::Allow,
        (false, true, false) => Decision::ImplicitDeny(PolicyKind::Resource),
        _ => Decision::ImplicitDeny(PolicyKind::Identity),
    }
}

/// A refusal, with what AWS says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenied {
    /// The caller's ARN.
    pub principal_arn: String,
    /// The action refused.
    pub action: String,
    /// The resource (`*` when the action has none).
    pub resource: String,
    /// Why.
    pub decision: Decision,
}

impl AccessDenied {
    /// A refusal of `context` for `decision` (which must not be `Allow`).
    pub fn new(context: &RequestContext<'_>, decision: Decision) -> Self {
        Self {
            principal_arn: context.principal.arn.clone(),
            action: context.action.to_owned(),
            resource: context.resource.to_owned(),
            decision,
        }
    }

    /// AWS's text (IAM User Guide, "Access denied error message examples"): `User: ARN is not
    /// authorized to perform: ACTION on resource: RESOURCE because no identity-based policy
    /// allows the ACTION action`, or `… with an explicit deny in an identity-based policy`.
    pub fn message(&self) -> String {
        let head = format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            self.principal_arn, self.action, self.resource
        );
        let kind = |k: PolicyKind| match k {
            PolicyKind::Identity => ("an", "identity-based"),
            PolicyKind::Resource => ("a", "resource-based"),
        };
        match self.decision {
            Decision::ExplicitDeny(k) => {
                let (article, name) = kind(k);
                format!("{head} with an explicit deny in {article} {name} policy")
            }
            Decision::ImplicitDeny(k) => {
                let (_, name) = kind(k);
                format!(
                    "{head} because no {name} policy allows the {} action",
                    self.action
                )
            }
            Decision::Allow => head,
        }
    }

    /// The error a service of `family` returns: `AccessDeniedException` (rest-json: Lambda, API
    /// Gateway; JSON 1.x), `AccessDenied` (query: IAM, STS), S3's terse `AccessDenied`.
    pub fn to_aws_error(&self, family: AuthFamily) -> AwsError {
        let status = StatusCode::FORBIDDEN;
        match family {
            AuthFamily::RestJson => AwsError::new("AccessDeniedException", status, self.message()),
            AuthFamily::Json => AwsError::new(
                "AccessDeniedException",
                StatusCode::BAD_REQUEST,
                self.message(),
            ),
            AuthFamily::Query => AwsError::new("AccessDenied", status, self.message()),
            AuthFamily::S3 => AwsError::new("AccessDenied", status, "Access Denied"),
        }
    }
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
