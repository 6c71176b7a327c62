//! IAM (query protocol, botocore's `iam/2010-05-08`): users and access keys ([`users`]), roles
//! ([`roles`]), managed policies and their versions ([`policies`]), groups ([`groups`]), and the
//! inline and attached policies of each. Handlers are thin: they read the form, call one
//! `IdentityRegistry` method and write the output in the model's member order; `IamError`s become
//! IAM's codes in one `From`. Authorization happened before ([`crate::auth::iam`]).
//!
//! Wire details IAM clients rely on: dates are ISO 8601 to the second (`2026-01-02T03:04:05Z`),
//! lists are `<Name><member>…</member></Name>`, policy documents are returned URL-encoded (botocore
//! decodes them into dicts), and list calls page with `MaxItems` and an opaque `Marker`.

mod groups;
mod policies;
mod roles;
mod users;

use std::future::Ready;
use std::sync::Arc;

use http::StatusCode;
use nubo_identity::model::{Group, Role, User};
use nubo_identity::{Caller, IdentityRegistry};
use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::xml::XmlWriter;
use nubo_wire::AwsError;
use time::OffsetDateTime;

use crate::auth::iam::IamAuthorizer;
use crate::registry::{OperationContext, QueryOperations, Service};
use crate::EdgeState;

/// IAM's reply namespace.
pub(crate) const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// What an IAM handler returns: the writer of its output members.
pub(crate) type Out = Result<Box<dyn Fn(&mut XmlWriter) + Send>, AwsError>;

/// An IAM handler.
type Handler = fn(&IdentityRegistry, &Call<'_>) -> Out;

/// Wraps an output writer.
pub(crate) fn output(write: impl Fn(&mut XmlWriter) + Send + 'static) -> Out {
    Ok(Box::new(write))
}

/// One IAM call: the form and the caller.
pub(crate) struct Call<'a> {
    pub(crate) request: &'a QueryRequest,
    pub(crate) caller: Option<&'a Caller>,
}

impl Call<'_> {
    /// A member that may be absent.
    pub(crate) fn optional(&self, name: &str) -> Option<&str> {
        self.request.str(name).filter(|v| !v.is_empty())
    }

    /// A member the model requires.
    pub(crate) fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.optional(name).ok_or_else(|| {
            crate::auth::missing(&lower_first(name), nubo_wire::sigv4::AuthFamily::Query)
        })
    }

    /// `UserName`, or the calling user's own name (GetUser, the access-key calls).
    pub(crate) fn user_or_caller(&self) -> Result<String, AwsError> {
        if let Some(name) = self.optional("UserName") {
            return Ok(name.to_owned());
        }
        self.caller
            .and_then(|c| c.principal.user_name.clone())
            .ok_or_else(|| {
                validation("Must specify userName when calling with non-User credentials")
            })
    }

    /// A boolean member (`true`/`false`).
    pub(crate) fn flag(&self, name: &str) -> Result<bool, AwsError> {
        match self.optional(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(validation(format!(
                "1 validation error detected: Value '{other}' at '{}' failed to satisfy constraint: Member must be a boolean",
                lower_first(name)
            ))),
        }
    }

    /// An integer member.
    pub(crate) fn integer(&self, name: &str) -> Result<Option<i64>, AwsError> {
        self.optional(name)
            .map(|raw| {
                raw.parse::<i64>().map_err(|_| {
                    validation(format!(
                        "1 validation error detected: Value '{raw}' at '{}' failed to satisfy constraint: Member must be a number",
                        lower_first(name)
                    ))
                })
            })
            .transpose()
    }
}

/// IAM's `ValidationError`.
pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", StatusCode::BAD_REQUEST, message)
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Adapts a synchronous handler to the query binding. Registry writes block on the store inside
/// (see `identity_store`), which the multi-threaded runtime allows.
fn handler(
    identity: &Arc<IdentityRegistry>,
    f: Handler,
) -> impl Fn(OperationContext, QueryRequest) -> Ready<Out> + Send + Sync + 'static {
    let identity = identity.clone();
    move |context: OperationContext, request: QueryRequest| {
        let call = Call {
            request: &request,
            caller: context.caller.as_deref(),
        };
        std::future::ready(f(&identity, &call))
    }
}

/// The IAM service.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let id = &state.identity;
    let operations = QueryOperations::new(NAMESPACE);
    let operations = users::register(operations, id);
    let operations = roles::register(operations, id);
    let operations = policies::register(operations, id);
    let operations = groups::register(operations, id);
    Service::new("iam")
        .query(operations)
        .authorized_by(IamAuthorizer)
}

/// Registers `handler` as `action` (keeps the per-resource registration lists short).
pub(crate) fn with(
    operations: QueryOperations,
    identity: &Arc<IdentityRegistry>,
    action: &'static str,
    f: Handler,
) -> QueryOperations {
    operations.operation(action, handler(identity, f))
}

/// IAM's date form.
pub(crate) fn date(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .map(nubo_wire::timefmt::iso_seconds)
        .unwrap_or_default()
}

/// A policy document as IAM returns it: URL-encoded.
pub(crate) fn encoded(document: &str) -> String {
    nubo_wire::sigv4::uri_encode(document)
}

/// `MaxItems` (1–1000, default 100) and `Marker` (an offset this server handed out).
pub(crate) struct Page {
    start: usize,
    max: usize,
}

impl Page {
    pub(crate) fn of(call: &Call<'_>) -> Result<Self, AwsError> {
        let max = match call.integer("MaxItems")? {
            None => 100,
            Some(n) if (1..=1000).contains(&n) => n as usize,
            Some(n) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"
                )))
            }
        };
        let start = match call.optional("Marker") {
            None => 0,
            Some(marker) => marker.parse().map_err(|_| validation("Invalid Marker."))?,
        };
        Ok(Self { start, max })
    }

    /// This page of `items` and the marker of the next one.
    pub(crate) fn take<T>(&self, items: Vec<T>) -> (Vec<T>, Option<String>) {
        let total = items.len();
        let end = self.start.saturating_add(self.max).min(total);
        let page = items
            .into_iter()
            .skip(self.start)
            .take(end.saturating_sub(self.start))
            .collect();
        (page, (end < total).then(|| end.to_string()))
    }
}

/// Writes `IsTruncated` and `Marker` after a page.
pub(crate) fn truncation(w: &mut XmlWriter, next: &Option<String>) {
    w.text_element("IsTruncated", if next.is_some() { "true" } else { "false" });
    w.optional_element("Marker", next.as_deref());
}

/// `<member>` per item under `name`.
pub(crate) fn members<T>(
    w: &mut XmlWriter,
    name: &str,
    items: &[T],
    write: impl Fn(&mut XmlWriter, &T),
) {
    w.element(name, |w| {
        for item in items {
            w.element("member", |w| write(w, item));
        }
    });
}

/// The `User` shape.
pub(crate) fn user(w: &mut XmlWriter, user: &User) {
    w.text_element("Path", &user.path)
        .text_element("UserName", &user.user_name)
        .text_element("UserId", &user.user_id)
        .text_element("Arn", &user.arn)
        .text_element("CreateDate", &date(user.create_date));
}

/// The `Role` shape.
pub(crate) fn role(w: &mut XmlWriter, role: &Role) {
    w.text_element("Path", &role.path)
        .text_element("RoleName", &role.role_name)
        .text_element("RoleId", &role.role_id)
        .text_element("Arn", &role.arn)
        .text_element("CreateDate", &date(role.create_date))
        .text_element(
            "AssumeRolePolicyDocument",
            &encoded(&role.assume_role_policy_document.text),
        );
    if !role.description.is_empty() {
        w.text_element("Description", &role.description);
    }
    w.text_element("MaxSessionDuration", &role.max_session_duration.to_string());
}

/// The `Group` shape.
pub(crate) fn group(w: &mut XmlWriter, group: &Group) {
    w.text_element("Path", &group.path)
        .text_element("GroupName", &group.group_name)
        .text_element("GroupId", &group.group_id)
        .text_element("Arn", &group.arn)
        .text_element("CreateDate", &date(group.create_date));
}

/// `AttachedPolicies` from a list of ARNs.
pub(crate) fn attached(w: &mut XmlWriter, arns: &[String]) {
    members(w, "AttachedPolicies", arns, |w, arn| {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        w.text_element("PolicyName", name)
            .text_element("PolicyArn", arn);
    });
}

/// `PolicyNames` of inline policies.
pub(crate) fn policy_names(w: &mut XmlWriter, names: &[String]) {
    w.element("PolicyNames", |w| {
        for name in names {
            w.text_element("member", name);
        }
    });
}
