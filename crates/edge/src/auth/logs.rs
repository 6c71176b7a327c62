//! CloudWatch Logs' operations and parameters: the operation from `X-Amz-Target`
//! (`Logs_20140328.*`), the group from `logGroupName` or `logGroupIdentifier` (a name or an ARN),
//! the stream from `logStreamName`.

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::protocol::json::TARGET_HEADER;
use nubo_wire::AwsError;
use serde_json::Value;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};
use crate::logs_api::{OPERATIONS, TARGET_PREFIX};

/// CloudWatch Logs' authorizer.
pub(crate) struct LogsAuthorizer;

/// PutLogEvents takes up to 1 MB of events; JSON overhead on top.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

impl Authorizer for LogsAuthorizer {
    fn route(&self, parts: &Parts) -> Option<Matched> {
        let target = parts.headers.get(TARGET_HEADER)?.to_str().ok()?;
        let (prefix, operation) = target.rsplit_once('.')?;
        if prefix != TARGET_PREFIX {
            return None;
        }
        let operation = OPERATIONS.iter().find(|op| **op == operation)?;
        Some(Matched {
            operation,
            labels: Vec::new(),
            body_limit: BODY_LIMIT,
        })
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        let body: Value = serde_json::from_slice(asked.body).unwrap_or(Value::Null);
        let text = |member: &str| {
            body.get(member)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let group = text("logGroupName").or_else(|| {
            text("logGroupIdentifier").map(|id| match id.split_once(":log-group:") {
                Some((_, rest)) => rest.trim_end_matches(":*"),
                None => id,
            })
        });
        // A missing member names an impossible resource; the handler then answers with the
        // model's validation error for callers the policy lets through.
        Ok(vec![
            ("LogGroupName", group.unwrap_or("-").to_owned()),
            (
                "LogStreamName",
                text("logStreamName").unwrap_or("-").to_owned(),
            ),
        ])
    }
}
