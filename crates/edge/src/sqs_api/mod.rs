//! SQS (botocore's `sqs/2012-11-05`): the json protocol current SDKs and the AWS CLI speak
//! (`X-Amz-Target: AmazonSQS.*`, JSON 1.0, `awsQueryCompatible`: errors carry their legacy code
//! in `x-amzn-query-error`) and the query protocol older SDKs send (`Action=…`, answered in XML;
//! `query.rs` translates both ways), over one set of handlers: queue operations in `queues.rs`,
//! message operations in `messages.rs`, the domain in `nubo_queues`.
//!
//! Queues are named by URL, `http://{Host}/{account}/{name}`: built from the request's own
//! `Host`, so a URL works as returned, and read back by its path only (any host reaches the same
//! queue). Query requests may also be sent to the queue URL itself without a `QueueUrl` member.

mod errors;
mod messages;
mod query;
mod queues;
pub(crate) mod shapes;

use std::sync::Arc;

use nubo_queues::{Queue, QueueRegistry};
use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::AwsError;

use crate::auth::sqs::SqsAuthorizer;
use crate::registry::{JsonOperations, OperationContext, QueryOperations, Service};
use crate::EdgeState;

pub(crate) use errors::query_code;

/// SQS's reply namespace (query protocol).
pub(crate) const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// The json target prefix.
pub(crate) const TARGET_PREFIX: &str = "AmazonSQS";
/// The largest request body: ten messages of the largest size, base64 and JSON overhead.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

/// The operations served, by botocore's name.
pub(crate) const OPERATIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "PurgeQueue",
    "ListDeadLetterSourceQueues",
];

pub(crate) fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

/// `http://{Host}/{account}/{name}`.
pub(crate) fn queue_url(ctx: &OperationContext, queue: &Queue) -> String {
    let meta = queue.meta();
    let host = ctx.host.as_deref().unwrap_or("localhost");
    format!("http://{host}/{}/{}", meta.record.account, meta.record.name)
}

/// `(account, name)` from a queue URL's path (or a bare `/{account}/{name}` path).
pub(crate) fn parse_queue_url(url: &str) -> Option<(&str, &str)> {
    let path = match url.find("://") {
        Some(at) => {
            let rest = &url[at + 3..];
            &rest[rest.find('/')?..]
        }
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut segments = path.trim_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(account), Some(name), None) if !account.is_empty() && !name.is_empty() => {
            Some((account, name))
        }
        _ => None,
    }
}

/// The queue a request names: its `QueueUrl`, else (query requests sent to the queue URL) its
/// path.
pub(crate) fn queue_of(
    sqs: &QueueRegistry,
    ctx: &OperationContext,
    url: Option<&str>,
) -> Result<Arc<Queue>, AwsError> {
    let (account, name) = match url.filter(|u| !u.is_empty()) {
        Some(url) => parse_queue_url(url).ok_or_else(|| {
            errors::SqsErrors::invalid_address(format!(
                "The address {url} is not valid for this endpoint."
            ))
        })?,
        None => parse_queue_url(&ctx.path).ok_or_else(|| errors::missing("QueueUrl"))?,
    };
    sqs.get(&ctx.scope, account, name).map_err(errors::aws)
}

/// Registers one operation in both bindings.
macro_rules! operation {
    ($json:ident, $query:ident, $sqs:expr, $name:literal, $handler:path) => {
        let sqs = $sqs.clone();
        $json = $json.operation(
            concat!("AmazonSQS.", $name),
            move |ctx: OperationContext, input| {
                let sqs = sqs.clone();
                async move { $handler(&sqs, ctx, input).await }
            },
        );
        let sqs = $sqs.clone();
        $query = $query.operation(
            $name,
            move |ctx: OperationContext, request: QueryRequest| {
                let sqs = sqs.clone();
                async move {
                    let input = query::input(&request)?;
                    let output = $handler(&sqs, ctx, input).await?;
                    query::output($name, &output)
                }
            },
        );
    };
}

/// The SQS service.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let sqs = state.queues.clone();
    let mut json = JsonOperations::new(JsonVersion::V1_0)
        .max_body(MAX_BODY)
        .query_compatible(query_code);
    let mut query = QueryOperations::new(NAMESPACE).error_codes(query_code);
    operation!(json, query, sqs, "CreateQueue", queues::create_queue);
    operation!(json, query, sqs, "GetQueueUrl", queues::get_queue_url);
    operation!(json, query, sqs, "ListQueues", queues::list_queues);
    operation!(json, query, sqs, "DeleteQueue", queues::delete_queue);
    operation!(json, query, sqs, "PurgeQueue", queues::purge_queue);
    operation!(
        json,
        query,
        sqs,
        "GetQueueAttributes",
        queues::get_queue_attributes
    );
    operation!(
        json,
        query,
        sqs,
        "SetQueueAttributes",
        queues::set_queue_attributes
    );
    operation!(json, query, sqs, "TagQueue", queues::tag_queue);
    operation!(json, query, sqs, "UntagQueue", queues::untag_queue);
    operation!(json, query, sqs, "ListQueueTags", queues::list_queue_tags);
    operation!(
        json,
        query,
        sqs,
        "ListDeadLetterSourceQueues",
        queues::list_dead_letter_source_queues
    );
    operation!(json, query, sqs, "SendMessage", messages::send_message);
    operation!(
        json,
        query,
        sqs,
        "SendMessageBatch",
        messages::send_message_batch
    );
    operation!(
        json,
        query,
        sqs,
        "ReceiveMessage",
        messages::receive_message
    );
    operation!(json, query, sqs, "DeleteMessage", messages::delete_message);
    operation!(
        json,
        query,
        sqs,
        "DeleteMessageBatch",
        messages::delete_message_batch
    );
    operation!(
        json,
        query,
        sqs,
        "ChangeMessageVisibility",
        messages::change_message_visibility
    );
    operation!(
        json,
        query,
        sqs,
        "ChangeMessageVisibilityBatch",
        messages::change_message_visibility_batch
    );
    Service::new("sqs")
        .json(json)
        .query(query)
        .authorized_by(SqsAuthorizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_are_read_by_their_path() {
        assert_eq!(
            parse_queue_url("http://127.0.0.1:4750/000000000000/q1"),
            Some(("000000000000", "q1"))
        );
        assert_eq!(
            parse_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/a.fifo"),
            Some(("123456789012", "a.fifo"))
        );
        assert_eq!(
            parse_queue_url("/000000000000/q"),
            Some(("000000000000", "q"))
        );
        assert_eq!(parse_queue_url("http://h/"), None);
        assert_eq!(parse_queue_url("http://h/a/b/c"), None);
        assert_eq!(parse_queue_url("q1"), None);
    }
}
