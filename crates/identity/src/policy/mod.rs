//! The IAM policy language: documents parsed once into typed, pre-compiled statements
//! ([`parse`]), the request they are judged against ([`context`]), conditions ([`condition`]) and
//! the decision ([`evaluate`]).
//!
//! Parsing happens when a policy is written (PutRolePolicy, CreatePolicy, AddPermission, start-up);
//! evaluation, on every request, only walks the compiled form: action patterns are lower-cased
//! once, wildcards are matched in place, and nothing is allocated unless a pattern holds a policy
//! variable.

pub mod condition;
pub mod context;
pub mod evaluate;
pub mod parse;
mod pattern;

pub use condition::{Condition, ConditionOperator};
pub use context::{ConditionKeys, Principal, PrincipalKind, RequestContext};
pub use evaluate::{evaluate, AccessDenied, Decision, PolicyKind, PolicySet};
pub use parse::{parse_identity_policy, parse_resource_policy, parse_trust_policy, PolicyError};
pub use pattern::{wildcard_match, wildcard_match_ignore_case, Pattern};

/// `Version` of a policy document. Policy variables exist only in `2012-10-17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17` (current).
    V2012,
    /// `2008-10-17`, or no `Version` at all: `${…}` is literal text.
    V2008,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants, unless something denies.
    Allow,
    /// Denies, whatever grants.
    Deny,
}

/// A list of patterns, either matched (`Action`, `Resource`) or excluded (`NotAction`,
/// `NotResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// `Action` / `Resource`: any pattern matches.
    Any(Vec<Pattern>),
    /// `NotAction` / `NotResource`: no pattern matches.
    NoneOf(Vec<Pattern>),
}

/// Who a resource-based or trust policy statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// `"*"` or `{"AWS": "*"}`: everyone, signed or not.
    Everyone,
    /// Specific principals.
    Listed(Vec<PrincipalId>),
}

/// One principal named in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalId {
    /// `{"AWS": "123456789012"}` or `arn:aws:iam::123456789012:root`: the account (whose own
    /// identity policies then decide).
    Account(String),
    /// `{"AWS": "arn:…"}`: a user, role or assumed-role session.
    Arn(String),
    /// `{"Service": "lambda.amazonaws.com"}`.
    Service(String),
    /// `{"Federated": "…"}` (accepted and kept; Nubo has no federation).
    Federated(String),
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalMatch {
    /// `Principal`.
    Is(PrincipalSpec),
    /// `NotPrincipal`.
    IsNot(PrincipalSpec),
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal`/`NotPrincipal` (resource and trust policies only).
    pub principal: Option<PrincipalMatch>,
    /// `Action`/`NotAction`, lower-cased.
    pub actions: Patterns,
    /// `Resource`/`NotResource`; `None` in trust policies, where the role itself is the resource.
    pub resources: Option<Patterns>,
    /// `Condition` clauses, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Version`.
    pub version: PolicyVersion,
    /// `Id`, if any.
    pub id: Option<String>,
    /// The statements.
    pub statements: Vec<Statement>,
}
