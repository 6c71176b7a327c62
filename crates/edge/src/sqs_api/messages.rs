//! Message operations: SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
//! ChangeMessageVisibility(Batch).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use base64::Engine as _;
use nubo_queues::{
    MessageAttribute, MessageAttributes, QueueError, QueueRegistry, ReceivedMessage, SendInput,
    Sent,
};
use nubo_wire::AwsError;

use super::errors::{aws, missing, query_code, SqsErrors};
use super::queue_of;
use super::shapes::*;
use crate::registry::OperationContext;

/// Entries one batch request may carry.
const MAX_BATCH: usize = 10;

fn integer_in(
    value: Option<i64>,
    name: &str,
    low: i64,
    high: i64,
    reason: &str,
) -> Result<Option<u32>, AwsError> {
    match value {
        None => Ok(None),
        Some(n) if (low..=high).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(SqsErrors::invalid_parameter_value(format!(
            "Value {n} for parameter {name} is invalid. Reason: {reason}"
        ))),
    }
}

fn attribute(name: &str, value: MessageAttributeValue) -> Result<MessageAttribute, AwsError> {
    let data_type = value.data_type.filter(|t| !t.is_empty()).ok_or_else(|| {
        SqsErrors::invalid_parameter_value(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        ))
    })?;
    let binary_value = match value.binary_value {
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| {
                    SqsErrors::invalid_parameter_value(format!(
                        "The message attribute '{name}' has an invalid binary value (not base64)."
                    ))
                })?,
        ),
        None => None,
    };
    Ok(MessageAttribute {
        data_type,
        string_value: value.string_value,
        binary_value,
    })
}

fn send_input(ctx: &OperationContext, input: MessageInput) -> Result<SendInput, AwsError> {
    let body = input.message_body.ok_or_else(|| missing("MessageBody"))?;
    let delay = integer_in(
        input.delay_seconds,
        "DelaySeconds",
        0,
        900,
        "DelaySeconds must be >= 0 and <= 900.",
    )?;
    let mut attributes = MessageAttributes::new();
    for (name, value) in input.message_attributes {
        let converted = attribute(&name, value)?;
        attributes.insert(name, converted);
    }
    let mut trace_header = None;
    for (name, value) in input.message_system_attributes {
        if name != "AWSTraceHeader" || value.data_type.as_deref() != Some("String") {
            return Err(SqsErrors::invalid_parameter_value(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        trace_header = value.string_value;
    }
    Ok(SendInput {
        body,
        attributes,
        delay,
        group: input.message_group_id,
        deduplication_id: input.message_deduplication_id,
        trace_header,
        sender: ctx
            .caller
            .as_ref()
            .map(|c| c.principal.id.clone())
            .unwrap_or_default(),
    })
}

fn sent_output(sent: Sent) -> SendMessageOutput {
    SendMessageOutput {
        md5_of_message_body: sent.body_md5,
        md5_of_message_attributes: sent.attributes_md5,
        message_id: sent.message_id,
        sequence_number: sent.sequence_number,
    }
}

pub(crate) async fn send_message(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: SendMessageInput,
) -> Result<SendMessageOutput, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let send = send_input(&ctx, input.message)?;
    let sent = sqs.send(&queue, send).await.map_err(aws)?;
    Ok(sent_output(sent))
}

/// The checks every batch request shares: 1–10 entries, ids valid and distinct.
fn check_batch<'a>(
    entry_name: &'static str,
    ids: impl ExactSizeIterator<Item = Option<&'a str>>,
) -> Result<Vec<String>, AwsError> {
    if ids.len() == 0 {
        return Err(aws(QueueError::EmptyBatchRequest(entry_name)));
    }
    if ids.len() > MAX_BATCH {
        return Err(aws(QueueError::TooManyEntriesInBatchRequest(ids.len())));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for id in ids {
        let id = id.ok_or_else(|| missing(&format!("{entry_name}.Id")))?;
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(aws(QueueError::InvalidBatchEntryId));
        }
        if !seen.insert(id) {
            return Err(aws(QueueError::BatchEntryIdsNotDistinct(id.to_owned())));
        }
        out.push(id.to_owned());
    }
    Ok(out)
}

fn failed(id: String, err: AwsError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id,
        sender_fault: !err.status.is_server_error(),
        code: query_code(err.code).unwrap_or(err.code).to_owned(),
        message: err.message,
    }
}

pub(crate) async fn send_message_batch(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: SendMessageBatchInput,
) -> Result<BatchOutput<SendMessageBatchResultEntry>, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let ids = check_batch(
        "SendMessageBatchRequestEntry",
        input.entries.iter().map(|e| e.id.as_deref()),
    )?;
    let limit = queue.meta().settings.max_message_size as usize;
    let total: usize = input
        .entries
        .iter()
        .map(|e| {
            e.message.message_body.as_ref().map_or(0, String::len)
                + e.message
                    .message_attributes
                    .iter()
                    .map(|(n, v)| {
                        n.len()
                            + v.data_type.as_ref().map_or(0, String::len)
                            + v.string_value.as_ref().map_or(0, String::len)
                            + v.binary_value.as_ref().map_or(0, |b| b.len() * 3 / 4)
                    })
                    .sum::<usize>()
        })
        .sum();
    if total > limit {
        return Err(aws(QueueError::BatchRequestTooLong { limit, sent: total }));
    }
    let mut output = BatchOutput::default();
    let mut accepted = Vec::new();
    let mut inputs = Vec::new();
    for (id, entry) in ids.into_iter().zip(input.entries) {
        match send_input(&ctx, entry.message) {
            Ok(send) => {
                accepted.push(id);
                inputs.push(send);
            }
            Err(err) => output.failed.push(failed(id, err)),
        }
    }
    let results = sqs.send_batch(&queue, inputs).await.map_err(aws)?;
    for (id, result) in accepted.into_iter().zip(results) {
        match result {
            Ok(sent) => output.successful.push(SendMessageBatchResultEntry {
                id,
                sent: sent_output(sent),
            }),
            Err(err) => output.failed.push(failed(id, aws(err))),
        }
    }
    Ok(output)
}

/// Which message attributes a receive asked for: `All`, `.*`, names, `prefix.*`.
fn attribute_wanted(names: &[String], name: &str) -> bool {
    names.iter().any(|n| {
        n == "All"
            || n == ".*"
            || n == name
            || n.strip_suffix(".*").is_some_and(|prefix| {
                name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
            })
    })
}

fn system_attributes(names: &[String], message: &ReceivedMessage) -> BTreeMap<String, String> {
    let content = &message.content;
    let candidates = [
        ("SenderId", Some(content.sender.clone())),
        ("SentTimestamp", Some(message.sent_ms.to_string())),
        (
            "ApproximateReceiveCount",
            Some(message.receive_count.to_string()),
        ),
        (
            "ApproximateFirstReceiveTimestamp",
            Some(message.first_receive_ms.to_string()),
        ),
        (
            "SequenceNumber",
            content.sequence.map(nubo_queues::format_sequence),
        ),
        ("MessageDeduplicationId", content.deduplication_id.clone()),
        ("MessageGroupId", content.group.clone()),
        ("AWSTraceHeader", content.trace_header.clone()),
    ];
    candidates
        .into_iter()
        .filter(|(name, _)| names.iter().any(|n| n == "All" || n == name))
        .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v)))
        .collect()
}

pub(crate) async fn receive_message(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: ReceiveMessageInput,
) -> Result<ReceiveMessageOutput, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let max = integer_in(
        input.max_number_of_messages,
        "MaxNumberOfMessages",
        1,
        10,
        "Must be between 1 and 10, if provided.",
    )?
    .unwrap_or(1);
    let visibility = integer_in(
        input.visibility_timeout,
        "VisibilityTimeout",
        0,
        43_200,
        "Must be >= 0 and <= 43200, if provided.",
    )?;
    let wait = integer_in(
        input.wait_time_seconds,
        "WaitTimeSeconds",
        0,
        20,
        "Must be >= 0 and <= 20, if provided.",
    )?
    .map(|s| Duration::from_secs(u64::from(s)));
    let received = sqs
        .receive(&queue, max as usize, visibility, wait)
        .await
        .map_err(aws)?;
    let system_names: Vec<String> = input
        .attribute_names
        .into_iter()
        .chain(input.message_system_attribute_names)
        .collect();
    let messages = received
        .into_iter()
        .map(|message| {
            let message_attributes: MessageAttributeMap = message
                .content
                .attributes
                .iter()
                .filter(|(name, _)| attribute_wanted(&input.message_attribute_names, name))
                .map(|(name, a)| {
                    (
                        name.clone(),
                        MessageAttributeValue {
                            data_type: Some(a.data_type.clone()),
                            string_value: a.string_value.clone(),
                            binary_value: a
                                .binary_value
                                .as_deref()
                                .map(nubo_queues::message::encode_binary),
                            ..MessageAttributeValue::default()
                        },
                    )
                })
                .collect();
            MessageOutput {
                attributes: system_attributes(&system_names, &message),
                md5_of_message_attributes: if message_attributes.is_empty() {
                    None
                } else {
                    message.content.attributes_md5.clone()
                },
                message_attributes,
                message_id: message.message_id,
                receipt_handle: message.receipt_handle,
                md5_of_body: message.content.body_md5.clone(),
                body: message.content.body.clone(),
            }
        })
        .collect();
    Ok(ReceiveMessageOutput { messages })
}

pub(crate) async fn delete_message(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: DeleteMessageInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let handle = input
        .receipt_handle
        .ok_or_else(|| missing("ReceiptHandle"))?;
    sqs.delete_message(&queue, &handle).await.map_err(aws)?;
    Ok(Empty {})
}

pub(crate) async fn delete_message_batch(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: ReceiptBatchInput,
) -> Result<BatchOutput<IdEntry>, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let ids = check_batch(
        "DeleteMessageBatchRequestEntry",
        input.entries.iter().map(|e| e.id.as_deref()),
    )?;
    // Entries without a handle fail alone; the others' removals commit in one transaction.
    let handles: Vec<Option<String>> = input
        .entries
        .into_iter()
        .map(|e| e.receipt_handle)
        .collect();
    let present: Vec<&str> = handles.iter().flatten().map(String::as_str).collect();
    let mut committed = sqs.delete_message_batch(&queue, &present).await.into_iter();
    let mut output = BatchOutput::default();
    for (id, handle) in ids.into_iter().zip(&handles) {
        let result = match handle {
            Some(_) => committed.next().unwrap_or(Ok(())).map_err(aws),
            None => Err(missing("ReceiptHandle")),
        };
        match result {
            Ok(()) => output.successful.push(IdEntry { id }),
            Err(err) => output.failed.push(failed(id, err)),
        }
    }
    Ok(output)
}

pub(crate) async fn change_message_visibility(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: ChangeMessageVisibilityInput,
) -> Result<Empty, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let handle = input
        .receipt_handle
        .ok_or_else(|| missing("ReceiptHandle"))?;
    let timeout = visibility(input.visibility_timeout)?;
    sqs.change_visibility(&queue, &handle, timeout)
        .await
        .map_err(aws)?;
    Ok(Empty {})
}

fn visibility(value: Option<i64>) -> Result<u32, AwsError> {
    integer_in(
        Some(value.ok_or_else(|| missing("VisibilityTimeout"))?),
        "VisibilityTimeout",
        0,
        43_200,
        "Must be between 0 and 43200, if provided.",
    )
    .map(|v| v.unwrap_or(0))
}

pub(crate) async fn change_message_visibility_batch(
    sqs: &QueueRegistry,
    ctx: OperationContext,
    input: ReceiptBatchInput,
) -> Result<BatchOutput<IdEntry>, AwsError> {
    let queue = queue_of(sqs, &ctx, input.queue_url.as_deref())?;
    let ids = check_batch(
        "ChangeMessageVisibilityBatchRequestEntry",
        input.entries.iter().map(|e| e.id.as_deref()),
    )?;
    // Entries that fail their own checks fail alone; the others' changes commit in one
    // transaction.
    let checked: Vec<Result<(String, u32), AwsError>> = input
        .entries
        .into_iter()
        .map(|entry| {
            let handle = entry
                .receipt_handle
                .ok_or_else(|| missing("ReceiptHandle"))?;
            Ok((handle, visibility(entry.visibility_timeout)?))
        })
        .collect();
    let valid: Vec<(&str, u32)> = checked
        .iter()
        .flatten()
        .map(|(handle, timeout)| (handle.as_str(), *timeout))
        .collect();
    let mut committed = sqs
        .change_visibility_batch(&queue, &valid)
        .await
        .into_iter();
    let mut output = BatchOutput::default();
    for (id, entry) in ids.into_iter().zip(checked) {
        let result = entry.and_then(|_| committed.next().unwrap_or(Ok(())).map_err(aws));
        match result {
            Ok(()) => output.successful.push(IdEntry { id }),
            Err(err) => output.failed.push(failed(id, err)),
        }
    }
    Ok(output)
}
