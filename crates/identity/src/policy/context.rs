//! What a request is judged on: who asks ([`Principal`]), for which action on which resource, and
//! the condition keys the request carries ([`ConditionKeys`]). Keys about the principal
//! (`aws:PrincipalArn`, `aws:username`, …) and the clock (`aws:CurrentTime`, `aws:EpochTime`) are
//! answered from the principal and `now` without being stored.

use std::borrow::Cow;

use time::OffsetDateTime;

/// What kind of caller a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account itself (`arn:aws:iam::123456789012:root`).
    Account,
    /// An IAM user.
    User,
    /// A session of a role (AssumeRole, or an execution environment's credentials).
    AssumedRole,
    /// An AWS service acting on its own behalf (`apigateway.amazonaws.com`).
    Service,
    /// No credentials at all (a public Function URL).
    Anonymous,
}

/// The caller, as the evaluator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The kind of caller.
    pub kind: PrincipalKind,
    /// The ARN in `AccessDenied` messages and `aws:PrincipalArn`: `arn:aws:iam::A:user/alice`,
    /// `arn:aws:sts::A:assumed-role/role/session`, the service name for services, `*` for anonymous.
    pub arn: String,
    /// The principal's account (empty for services and anonymous callers).
    pub account: String,
    /// `aws:userid`: `AIDA…` for users, `AROA…:session` for role sessions.
    pub id: String,
    /// `aws:username` (users only).
    pub user_name: Option<String>,
    /// For role sessions: the role's ARN, which resource policies may name instead of the session.
    pub role_arn: Option<String>,
}

impl Principal {
    /// An IAM user.
    pub fn user(account: &str, path: &str, name: &str, user_id: &str) -> Self {
        Self {
            kind: PrincipalKind::User,
            arn: format!("arn:aws:iam::{account}:user{path}{name}"),
            account: account.to_owned(),
            id: user_id.to_owned(),
            user_name: Some(name.to_owned()),
            role_arn: None,
        }
    }

    /// A session of role `role_name` (its ARN without the path, as STS writes it).
    pub fn assumed_role(
        account: &str,
        role_arn: &str,
        role_name: &str,
        role_id: &str,
        session: &str,
    ) -> Self {
        Self {
            kind: PrincipalKind::AssumedRole,
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
            account: account.to_owned(),
            id: format!("{role_id}:{session}"),
            user_name: None,
            role_arn: Some(role_arn.to_owned()),
        }
    }

    /// The account root.
    pub fn account_root(account: &str) -> Self {
        Self {
            kind: PrincipalKind::Account,
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_owned(),
            id: account.to_owned(),
            user_name: None,
            role_arn: None,
        }
    }

    /// An AWS service principal such as `apigateway.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self {
            kind: PrincipalKind::Service,
            arn: name.to_owned(),
            account: String::new(),
            id: name.to_owned(),
            user_name: None,
            role_arn: None,
        }
    }

    /// An unsigned caller.
    pub fn anonymous() -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            arn: "*".to_owned(),
            account: String::new(),
            id: "anonymous".to_owned(),
            user_name: None,
            role_arn: None,
        }
    }
}

/// Condition keys a request carries, e.g. `aws:SourceArn`, `aws:SecureTransport`,
/// `lambda:FunctionArn`. Names are case-insensitive (stored lower-cased); a key may be multivalued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionKeys {
    entries: Vec<(String, Vec<String>)>,
}

impl ConditionKeys {
    /// Sets `key` to one value.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, vec![value.into()]);
        self
    }

    /// Sets `key` to its values (replacing any earlier ones).
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = values,
            None => self.entries.push((key, values)),
        }
    }

    fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }
}

/// The values of one key in a request.
#[derive(Debug, Clone)]
pub enum KeyValues<'a> {
    /// A key answered from the principal or the clock.
    One(Cow<'a, str>),
    /// A key the request carries.
    Many(&'a [String]),
}

impl KeyValues<'_> {
    /// The values, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&str>, &[String]) = match self {
            Self::One(v) => (Some(v.as_ref()), &[]),
            Self::Many(v) => (None, v),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }

    /// Whether there are no values (a multivalued key sent empty).
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Many(v) if v.is_empty())
    }
}

/// One authorization question: may `principal` perform `action` on `resource`?
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// `service:Operation` as AWS spells it, e.g. `lambda:InvokeFunction`.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions without one.
    pub resource: &'a str,
    /// The request's condition keys.
    pub keys: &'a ConditionKeys,
    /// The time of the request (`aws:CurrentTime`).
    pub now: OffsetDateTime,
}

impl<'a> RequestContext<'a> {
    /// The values of condition key `key` (case-insensitive), or `None` when the request lacks it.
    pub fn values(&self, key: &str) -> Option<KeyValues<'a>> {
        if let Some(values) = self.keys.get(key) {
            return Some(KeyValues::Many(values));
        }
        let (prefix, name) = key.split_once(':')?;
        if !prefix.eq_ignore_ascii_case("aws") {
            return None;
        }
        let p = self.principal;
        let anonymous = p.kind == PrincipalKind::Anonymous;
        let value: Cow<'a, str> = match name.to_ascii_lowercase().as_str() {
            "principalarn" if !anonymous && p.kind != PrincipalKind::Service => {
                Cow::Borrowed(p.role_arn.as_deref().unwrap_or(&p.arn))
            }
            "principalaccount" if !p.account.is_empty() => Cow::Borrowed(&p.account),
            "userid" if !anonymous => Cow::Borrowed(&p.id),
            "username" => Cow::Borrowed(p.user_name.as_deref()?),
            "principaltype" => Cow::Borrowed(match p.kind {
                PrincipalKind::Account => "Account",
                PrincipalKind::User => "User",
                PrincipalKind::AssumedRole => "AssumedRole",
                PrincipalKind::Service => "Service",
                PrincipalKind::Anonymous => "Anonymous",
            }),
            "principalservicename" if p.kind == PrincipalKind::Service => Cow::Borrowed(&p.arn),
            "currenttime" => Cow::Owned(
                self.now
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            "epochtime" => Cow::Owned(self.now.unix_timestamp().to_string()),
            _ => return None,
        };
        Some(KeyValues::One(value))
    }

    /// The first value of `key`, for policy variables.
    pub fn single_value(&self, key: &str) -> Option<Cow<'a, str>> {
        match self.values(key)? {
            KeyValues::One(value) => Some(value),
            KeyValues::Many(values) => values.first().map(|v| Cow::Borrowed(v.as_str())),
        }
    }
}
