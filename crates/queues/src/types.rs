//! The plain data of queues and messages: a queue's stored record and parsed settings, what a
//! send asks for and answers, what a receive hands out, and message counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attributes::{AttributeMap, QueueSettings};
use crate::message::{MessageAttributes, MessageContent};

/// A queue's stored document (collection `sqs-queue`, key `{account}/{region}/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueRecord {
    /// The queue's name (`.fifo` for FIFO queues).
    pub name: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The store queue holding its messages: unique per incarnation, so a queue created again
    /// under a deleted one's name never sees messages a crash left behind.
    pub store_queue: String,
    /// Settable attributes, as echoed.
    pub attributes: AttributeMap,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Epoch seconds.
    pub created: i64,
    /// Epoch seconds.
    pub modified: i64,
}

impl QueueRecord {
    /// `arn:aws:sqs:{region}:{account}:{name}`.
    pub fn arn(&self) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account, self.name)
    }

    /// The store key.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.name)
    }
}

/// A record with the settings parsed from it.
#[derive(Debug, Clone)]
pub struct QueueMeta {
    /// The document.
    pub record: QueueRecord,
    /// Its attributes, typed.
    pub settings: QueueSettings,
}

/// What a client sends.
#[derive(Debug, Clone, Default)]
pub struct SendInput {
    /// `MessageBody`.
    pub body: String,
    /// `MessageAttributes`.
    pub attributes: MessageAttributes,
    /// `DelaySeconds` (per message; standard queues only).
    pub delay: Option<u32>,
    /// `MessageGroupId`.
    pub group: Option<String>,
    /// `MessageDeduplicationId`.
    pub deduplication_id: Option<String>,
    /// The `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// `SenderId`.
    pub sender: String,
}

/// What `SendMessage` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// `MessageId`.
    pub message_id: String,
    /// `MD5OfMessageBody`.
    pub body_md5: String,
    /// `MD5OfMessageAttributes`.
    pub attributes_md5: Option<String>,
    /// `SequenceNumber` (FIFO).
    pub sequence_number: Option<String>,
}

/// A message handed to a consumer.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// `MessageId`.
    pub message_id: String,
    /// `ReceiptHandle`.
    pub receipt_handle: String,
    /// Body, attributes, digests, group, sequence.
    pub content: Arc<MessageContent>,
    /// `SentTimestamp`, epoch ms.
    pub sent_ms: i64,
    /// `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// `ApproximateFirstReceiveTimestamp`, epoch ms.
    pub first_receive_ms: i64,
}

/// Message counts for the `ApproximateNumberOf…` attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Visible.
    pub visible: usize,
    /// Received and in flight.
    pub in_flight: usize,
    /// Delayed (never received, not yet visible).
    pub delayed: usize,
}

/// FIFO sequence numbers as SQS shows them: 20 digits.
pub fn format_sequence(sequence: u64) -> String {
    format!("{sequence:020}")
}
