//! botocore's SQS shapes (`sqs/2012-11-05`, json protocol): inputs as clients send them, outputs
//! as they expect them. The query protocol is translated into the same inputs (`query.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `MessageAttributeValue` (user and system attributes).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageAttributeValue {
    #[serde(default)]
    pub(crate) data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) string_value: Option<String>,
    /// Base64 on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) binary_value: Option<String>,
    /// "Not implemented. Reserved for future use." (accepted and ignored, as SQS does).
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    pub(crate) string_list_values: Option<Vec<String>>,
    /// As `StringListValues`.
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    pub(crate) binary_list_values: Option<Vec<String>>,
}

pub(crate) type Attributes = BTreeMap<String, String>;
pub(crate) type MessageAttributeMap = BTreeMap<String, MessageAttributeValue>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueueUrlInput {
    pub(crate) queue_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateQueueInput {
    pub(crate) queue_name: Option<String>,
    #[serde(default)]
    pub(crate) attributes: Attributes,
    #[serde(default, rename = "tags")]
    pub(crate) tags: Attributes,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueueUrlOutput {
    pub(crate) queue_url: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueUrlInput {
    pub(crate) queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    pub(crate) queue_owner_aws_account_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListQueuesInput {
    pub(crate) queue_name_prefix: Option<String>,
    pub(crate) next_token: Option<String>,
    pub(crate) max_results: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListQueuesOutput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) queue_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDeadLetterSourceQueuesInput {
    pub(crate) queue_url: Option<String>,
    pub(crate) next_token: Option<String>,
    pub(crate) max_results: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ListDeadLetterSourceQueuesOutput {
    #[serde(rename = "queueUrls")]
    pub(crate) queue_urls: Vec<String>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueAttributesInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) attribute_names: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttributesOutput {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) attributes: Attributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SetQueueAttributesInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) attributes: Attributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagQueueInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) tags: Attributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagQueueInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) tag_keys: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagsOutput {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) tags: Attributes,
}

/// The members `SendMessage` and a `SendMessageBatch` entry share.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageInput {
    pub(crate) message_body: Option<String>,
    pub(crate) delay_seconds: Option<i64>,
    #[serde(default)]
    pub(crate) message_attributes: MessageAttributeMap,
    #[serde(default)]
    pub(crate) message_system_attributes: MessageAttributeMap,
    pub(crate) message_deduplication_id: Option<String>,
    pub(crate) message_group_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendMessageInput {
    pub(crate) queue_url: Option<String>,
    #[serde(flatten)]
    pub(crate) message: MessageInput,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct SendMessageOutput {
    #[serde(rename = "MD5OfMessageBody")]
    pub(crate) md5_of_message_body: String,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) md5_of_message_attributes: Option<String>,
    #[serde(rename = "MessageId")]
    pub(crate) message_id: String,
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    pub(crate) sequence_number: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendMessageBatchEntry {
    pub(crate) id: Option<String>,
    #[serde(flatten)]
    pub(crate) message: MessageInput,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendMessageBatchInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) entries: Vec<SendMessageBatchEntry>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct SendMessageBatchResultEntry {
    #[serde(rename = "Id")]
    pub(crate) id: String,
    #[serde(flatten)]
    pub(crate) sent: SendMessageOutput,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchResultErrorEntry {
    pub(crate) id: String,
    pub(crate) sender_fault: bool,
    pub(crate) code: String,
    pub(crate) message: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchOutput<T> {
    pub(crate) successful: Vec<T>,
    pub(crate) failed: Vec<BatchResultErrorEntry>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct IdEntry {
    pub(crate) id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiveMessageInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) attribute_names: Vec<String>,
    #[serde(default)]
    pub(crate) message_system_attribute_names: Vec<String>,
    #[serde(default)]
    pub(crate) message_attribute_names: Vec<String>,
    pub(crate) max_number_of_messages: Option<i64>,
    pub(crate) visibility_timeout: Option<i64>,
    pub(crate) wait_time_seconds: Option<i64>,
    #[allow(dead_code)]
    pub(crate) receive_request_attempt_id: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct MessageOutput {
    #[serde(rename = "MessageId")]
    pub(crate) message_id: String,
    #[serde(rename = "ReceiptHandle")]
    pub(crate) receipt_handle: String,
    #[serde(rename = "MD5OfBody")]
    pub(crate) md5_of_body: String,
    #[serde(rename = "Body")]
    pub(crate) body: String,
    #[serde(rename = "Attributes", skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) attributes: Attributes,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) md5_of_message_attributes: Option<String>,
    #[serde(
        rename = "MessageAttributes",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub(crate) message_attributes: MessageAttributeMap,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiveMessageOutput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) messages: Vec<MessageOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteMessageInput {
    pub(crate) queue_url: Option<String>,
    pub(crate) receipt_handle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiptEntry {
    pub(crate) id: Option<String>,
    pub(crate) receipt_handle: Option<String>,
    pub(crate) visibility_timeout: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiptBatchInput {
    pub(crate) queue_url: Option<String>,
    #[serde(default)]
    pub(crate) entries: Vec<ReceiptEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ChangeMessageVisibilityInput {
    pub(crate) queue_url: Option<String>,
    pub(crate) receipt_handle: Option<String>,
    pub(crate) visibility_timeout: Option<i64>,
}

/// Operations without output members.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Empty {}
