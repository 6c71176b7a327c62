//! SQS's operations and parameters: the json binding names its operation by `X-Amz-Target`
//! (`AmazonSQS.SendMessage`), the query binding by `Action`; the queue's name comes from
//! `QueueName` or the last path segment of `QueueUrl` (json body or form), else from the request
//! path (query requests sent to the queue URL).

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::protocol::json::TARGET_HEADER;
use nubo_wire::AwsError;
use serde_json::Value;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};
use crate::sqs_api::{parse_queue_url, MAX_BODY, OPERATIONS, TARGET_PREFIX};

/// SQS's authorizer.
pub(crate) struct SqsAuthorizer;

impl Authorizer for SqsAuthorizer {
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
            body_limit: MAX_BODY,
        })
    }

    fn default_body_limit(&self) -> usize {
        MAX_BODY
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        let json: Option<Value> = match asked.form {
            Some(_) => None,
            None => serde_json::from_slice(asked.body).ok(),
        };
        let member = |name: &str| -> Option<String> {
            match &json {
                Some(body) => body.get(name).and_then(Value::as_str).map(str::to_owned),
                None => asked.field(name).map(str::to_owned),
            }
        };
        let name = member("QueueName")
            .filter(|n| !n.is_empty())
            .or_else(|| {
                member("QueueUrl")
                    .as_deref()
                    .and_then(parse_queue_url)
                    .map(|(_, name)| name.to_owned())
            })
            .or_else(|| parse_queue_url(asked.parts.uri.path()).map(|(_, name)| name.to_owned()));
        Ok(name
            .map(|name| vec![("QueueName", name)])
            .unwrap_or_default())
    }
}
