//! Queue operations: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes,
//! tags, PurgeQueue, ListDeadLetterSourceQueues.

use std::collections::BTreeMap;

use base64::Engine as _;
use nubo_queues::attributes::READ_ONLY;
use nubo_queues::{Queue, QueueRegistry};
use nubo_wire::AwsError;

use super::errors::{aws, missing, SqsErrors};
use super::shapes::*;
use super::{now_ms, queue_of, queue_url};
use crate::registry::OperationContext;

pub(crate) async fn create_queue(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: CreateQueueInput,
) -> Result<QueueUrlOutput, AwsError> {
    let name = input.queue_name.ok_or_else(|| missing("QueueName"))?;
    let queue = sqs
        .create(&ctx.scope, &name, &input.attributes, input.tags)
        .await
        .map_err(aws)?;
    Ok(QueueUrlOutput {
        queue_url: queue_url(&ctx, &queue),
    })
}

pub(crate) async fn get_queue_url(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: GetQueueUrlInput,
) -> Result<QueueUrlOutput, AwsError> {
    let name = input.queue_name.ok_or_else(|| missing("QueueName"))?;
    let account = input
        .queue_owner_aws_account_id
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| ctx.scope.account_id.clone());
    let queue = sqs.get(&ctx.scope, &account, &name).map_err(aws)?;
    Ok(QueueUrlOutput {
        queue_url: queue_url(&ctx, &queue),
    })
}

fn page_size(max_results: Option<i64>) -> Result<Option<usize>, AwsError> {
    match max_results {
        None => Ok(None),
        Some(n) if (1..=1000).contains(&n) => Ok(Some(n as usize)),
        Some(n) => Err(SqsErrors::invalid_parameter_value(format!(
            "Value {n} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
        ))),
    }
}

/// One page of queues after the token's name.
fn page(
    ctx: &OperationContext,
    queues: Vec<std::sync::Arc<Queue>>,
    next_token: Option<String>,
    size: Option<usize>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let after = match next_token.filter(|t| !t.is_empty()) {
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    SqsErrors::invalid_parameter_value("Invalid or expired next token.")
                })?,
        ),
        None => None,
    };
    let mut rest: Vec<_> = queues
        .into_iter()
        .filter(|q| {
            after
                .as_deref()
                .is_none_or(|a| q.meta().record.name.as_str() > a)
        })
        .collect();
    let limit = size.unwrap_or(1000);
    let more = rest.len() > limit;
    rest.truncate(limit);
    let token = (more && size.is_some())
        .then(|| rest.last())
        .flatten()
        .map(|q| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&q.meta().record.name));
    Ok((rest.iter().map(|q| queue_url(ctx, q)).collect(), token))
}

pub(crate) async fn list_queues(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: ListQueuesInput,
) -> Result<ListQueuesOutput, AwsError> {
    let size = page_size(input.max_results)?;
    let prefix = input.queue_name_prefix.unwrap_or_default();
    let queues = sqs.list(&ctx.scope, &prefix);
    let (queue_urls, next_token) = page(&ctx, queues, input.next_token, size)?;
    Ok(ListQueuesOutput {
        queue_urls,
        next_token,
    })
}

pub(crate) async fn list_dead_letter_source_queues(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: ListDeadLetterSourceQueuesInput,
) -> Result<ListDeadLetterSourceQueuesOutput, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let size = page_size(input.max_results)?;
    let sources = sqs.dead_letter_sources(&queue.arn());
    let (queue_urls, next_token) = page(&ctx, sources, input.next_token, size)?;
    Ok(ListDeadLetterSourceQueuesOutput {
        queue_urls,
        next_token,
    })
}

pub(crate) async fn delete_queue(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: QueueUrlInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    sqs.delete(&queue).await.map_err(aws)?;
    Ok(Empty {})
}

pub(crate) async fn purge_queue(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: QueueUrlInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    sqs.purge(&queue).await.map_err(aws)?;
    Ok(Empty {})
}

/// Every attribute name GetQueueAttributes knows for a queue of this kind.
fn known(name: &str, fifo: bool) -> bool {
    const SETTABLE: &[&str] = &[
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "Policy",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
    ];
    const FIFO: &[&str] = &[
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
    ];
    SETTABLE.contains(&name) || READ_ONLY.contains(&name) || (fifo && FIFO.contains(&name))
}

pub(crate) async fn get_queue_attributes(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: GetQueueAttributesInput,
) -> Result<AttributesOutput, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let meta = queue.meta();
    let fifo = meta.settings.fifo;
    let all = input.attribute_names.iter().any(|n| n == "All");
    for name in &input.attribute_names {
        if name != "All" && !known(name, fifo) {
            return Err(SqsErrors::invalid_attribute_name(format!(
                "Unknown Attribute {name}."
            )));
        }
    }
    let wanted = |name: &str| all || input.attribute_names.iter().any(|n| n == name);
    let mut attributes = BTreeMap::new();
    for (name, value) in &meta.record.attributes {
        if wanted(name) {
            attributes.insert(name.clone(), value.clone());
        }
    }
    let counts = queue.counts(now_ms());
    let computed = [
        ("QueueArn", meta.record.arn()),
        ("ApproximateNumberOfMessages", counts.visible.to_string()),
        (
            "ApproximateNumberOfMessagesNotVisible",
            counts.in_flight.to_string(),
        ),
        (
            "ApproximateNumberOfMessagesDelayed",
            counts.delayed.to_string(),
        ),
        ("CreatedTimestamp", meta.record.created.to_string()),
        ("LastModifiedTimestamp", meta.record.modified.to_string()),
    ];
    for (name, value) in computed {
        if wanted(name) {
            attributes.insert(name.to_owned(), value);
        }
    }
    Ok(AttributesOutput { attributes })
}

pub(crate) async fn set_queue_attributes(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: SetQueueAttributesInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    sqs.set_attributes(&queue, &input.attributes)
        .await
        .map_err(aws)?;
    Ok(Empty {})
}

pub(crate) async fn tag_queue(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: TagQueueInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    if input.tags.is_empty() {
        return Err(missing("Tags"));
    }
    sqs.tag(&queue, input.tags).await.map_err(aws)?;
    Ok(Empty {})
}

pub(crate) async fn untag_queue(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: UntagQueueInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    if input.tag_keys.is_empty() {
        return Err(missing("TagKeys"));
    }
    sqs.untag(&queue, &input.tag_keys).await.map_err(aws)?;
    Ok(Empty {})
}

pub(crate) async fn list_queue_tags(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: QueueUrlInput,
) -> Result<TagsOutput, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    Ok(TagsOutput {
        tags: queue.meta().record.tags.clone(),
    })
}
