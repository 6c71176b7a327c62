//! Logs keyed by log group and stream, as CloudWatch Logs keeps them.
//!
//! Function logs live in group `/aws/lambda/<name>`, stream `YYYY/MM/DD/[<version>]<env id>`;
//! access logs in the group their stage names. Events are appended in batches (by a writer off
//! the request path) and read back in time order, ties in append order, through a forward token:
//! what FilterLogEvents, GetLogEvents and DescribeLogStreams need.

use async_trait::async_trait;

use crate::StoreError;

/// One log event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Log group (`/aws/lambda/my-function`).
    pub group: String,
    /// Log stream (`2026/01/31/[$LATEST]3f2a…`).
    pub stream: String,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// The line, without its newline.
    pub message: String,
}

/// A stored event, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLogEvent {
    /// The event.
    pub event: LogEvent,
    /// When the store took it, epoch milliseconds (CloudWatch's `ingestionTime`).
    pub ingestion_ms: i64,
    /// The store's id for it, unique and stable (CloudWatch's `eventId`; a follower polling
    /// overlapping ranges drops what it has seen by it).
    pub id: String,
}

/// Which events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Log group.
    pub group: String,
    /// Only these streams (empty: every stream of the group).
    pub streams: Vec<String>,
    /// Only events at or after this time, epoch milliseconds.
    pub start_ms: Option<i64>,
    /// Only events before this time, epoch milliseconds.
    pub end_ms: Option<i64>,
    /// At most this many events in the page (1–10 000; `None`: 10 000, CloudWatch's default).
    pub limit: Option<usize>,
    /// Continue after the page that returned this token.
    pub token: Option<String>,
}

/// One page of events, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    /// The events.
    pub events: Vec<StoredLogEvent>,
    /// Present when more events may follow: pass it back to read on.
    pub next_token: Option<String>,
    /// The position after the page's last event, whether or not more follow (`None` for an
    /// empty page): passed back as a token it reads what arrives later (GetLogEvents'
    /// `nextForwardToken`, a follower's next poll).
    pub position: Option<String>,
}

/// A stream of a group, with the span of its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    /// Stream name.
    pub name: String,
    /// Earliest event timestamp, epoch milliseconds.
    pub first_event_ms: i64,
    /// Latest event timestamp, epoch milliseconds.
    pub last_event_ms: i64,
    /// When the last event was taken in, epoch milliseconds.
    pub last_ingestion_ms: i64,
    /// How many events it holds.
    pub events: u64,
}

/// A log group and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    /// Group name.
    pub name: String,
    /// When it was created (or first written), epoch milliseconds.
    pub created_ms: i64,
    /// Events older than this many days are removed by [`Logs::expire`]; `None`: kept forever.
    pub retention_days: Option<u32>,
    /// How many events it holds.
    pub events: u64,
    /// The bytes of their messages.
    pub stored_bytes: u64,
}

/// Log storage. SQLite now; another backend runs the same conformance suite.
#[async_trait]
pub trait Logs: Send + Sync + 'static {
    /// Appends events (one batch, one transaction).
    async fn append(&self, events: Vec<LogEvent>) -> Result<(), StoreError>;

    /// Events of a group in time order (ties in append order), one page at a time. A token
    /// not made by this store is [`StoreError::Invalid`].
    async fn read(&self, query: LogQuery) -> Result<LogPage, StoreError>;

    /// The streams of a group whose names start with `prefix`, ordered by name.
    async fn streams(&self, group: &str, prefix: &str) -> Result<Vec<LogStream>, StoreError>;

    /// The groups whose names start with `prefix`, ordered by name.
    async fn groups(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The groups whose names start with `prefix` with their settings, ordered by name. A group
    /// exists once created or first written to.
    async fn describe_groups(&self, prefix: &str) -> Result<Vec<LogGroup>, StoreError>;

    /// Creates an empty group; `false` when it already exists.
    async fn create_group(&self, group: &str) -> Result<bool, StoreError>;

    /// Creates an empty stream in an existing group; `false` when the stream already exists.
    async fn create_stream(&self, group: &str, stream: &str) -> Result<bool, StoreError>;

    /// Deletes a group with its streams and events; `false` when there was none.
    async fn delete_group(&self, group: &str) -> Result<bool, StoreError>;

    /// Sets (or with `None` removes) a group's retention; `false` when there is no such group.
    async fn set_retention(&self, group: &str, days: Option<u32>) -> Result<bool, StoreError>;

    /// Renames a group with its streams and events (one transaction); `false` when `from` does
    /// not exist or `to` already does.
    async fn rename_group(&self, from: &str, to: &str) -> Result<bool, StoreError>;

    /// Removes every event older than its group's retention at `now_ms`; returns how many.
    async fn expire(&self, now_ms: i64) -> Result<u64, StoreError>;
}
