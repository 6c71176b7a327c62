//! EventBridge's operations and parameters: the operation from `X-Amz-Target` (`AWSEvents.*`),
//! the rule's name from `Name` or `Rule` in the JSON body (`PutEvents` names the default bus).

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::protocol::json::TARGET_HEADER;
use nubo_wire::AwsError;
use serde_json::Value;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};
use crate::events_api::{OPERATIONS, TARGET_PREFIX};

/// EventBridge's authorizer.
pub(crate) struct EventsAuthorizer;

/// PutEvents takes up to 256 KB of entries; the rest is small.
const BODY_LIMIT: usize = 1024 * 1024;

impl Authorizer for EventsAuthorizer {
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
        let name = ["Name", "Rule"]
            .iter()
            .find_map(|member| body.get(member).and_then(Value::as_str))
            .filter(|n| !n.is_empty());
        Ok(name
            .map(|name| vec![("RuleName", name.to_owned())])
            .unwrap_or_default())
    }
}
