//! DynamoDB's and DynamoDB Streams' operations and parameters: the operation from
//! `X-Amz-Target` (`DynamoDB_20120810.*`, `DynamoDBStreams_20120810.*`), the table from
//! `TableName` (a tag operation's `ResourceArn`, a batch's first table; a Query or Scan of an
//! index names `{table}/index/{index}`), the stream from `StreamArn` or the shard iterator.

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::protocol::json::TARGET_HEADER;
use nubo_wire::AwsError;
use serde_json::Value;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};
use crate::dynamodb_api::{MAX_BODY, OPERATIONS, STREAMS_PREFIX, STREAM_OPERATIONS, TARGET_PREFIX};

/// DynamoDB's authorizer.
pub(crate) struct DynamoDbAuthorizer;

impl Authorizer for DynamoDbAuthorizer {
    fn route(&self, parts: &Parts) -> Option<Matched> {
        let target = parts.headers.get(TARGET_HEADER)?.to_str().ok()?;
        let (prefix, operation) = target.rsplit_once('.')?;
        let table = match prefix {
            TARGET_PREFIX => OPERATIONS,
            STREAMS_PREFIX => STREAM_OPERATIONS,
            _ => return None,
        };
        let operation = table.iter().find(|op| **op == operation)?;
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
        let body: Value = serde_json::from_slice(asked.body).unwrap_or(Value::Null);
        let text = |member: &str| {
            body.get(member)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let mut parameters = Vec::new();
        let table = text("TableName")
            .map(str::to_owned)
            .or_else(|| {
                text("ResourceArn")
                    .and_then(|arn| arn.split_once(":table/"))
                    .map(|(_, name)| name.to_owned())
            })
            .or_else(|| {
                body.get("RequestItems")
                    .and_then(Value::as_object)
                    .and_then(|items| items.keys().next().cloned())
            });
        if let Some(table) = table {
            let resource = match text("IndexName") {
                Some(index) => format!("{table}/index/{index}"),
                None => table,
            };
            parameters.push(("TableName", resource));
        }
        let stream = text("StreamArn")
            .or_else(|| text("ShardIterator").and_then(crate::dynamodb_api::iterator_stream));
        if let Some(stream) = stream {
            parameters.push(("StreamArn", stream.to_owned()));
        }
        Ok(parameters)
    }
}
