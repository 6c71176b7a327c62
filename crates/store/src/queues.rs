//! Durable queues: named queues of opaque messages, changed in batches that commit durably.
//!
//! A message carries what any at-least-once queue needs — an id, an opaque body, how many
//! attempts it has had, when it may next be delivered, when it was accepted — and nothing about
//! what it means: the asynchronous-invocation queue encodes its event in the body, and an SQS
//! queue would encode its message and attributes there too (`attempts` is SQS's receive count and
//! `not_before_ms` its visibility/delay timer). A batch of [`QueueOp`]s may span queues, so moving
//! a message from one queue to another (an event to its destination) is one transaction.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::StoreError;

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Unique within its queue; enqueuing an id already queued changes nothing (a retried enqueue
    /// is not a second message).
    pub id: String,
    /// The payload, opaque to the store.
    pub body: Vec<u8>,
    /// Delivery attempts so far, as the owner counts them.
    pub attempts: u32,
    /// Not to be delivered before this time, epoch milliseconds.
    pub not_before_ms: i64,
    /// When it was accepted, epoch milliseconds.
    pub received_ms: i64,
}

/// One change to a queue; a batch of them commits in one durable transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOp {
    /// Adds a message (no-op if its id is already in the queue).
    Enqueue {
        /// Queue name.
        queue: String,
        /// The message.
        message: Message,
    },
    /// Records an attempt and when to try again (no-op if the message is gone).
    Reschedule {
        /// Queue name.
        queue: String,
        /// Message id.
        id: String,
        /// Attempts so far.
        attempts: u32,
        /// Next attempt, epoch milliseconds.
        not_before_ms: i64,
    },
    /// The message is done with (no-op if it is gone).
    Remove {
        /// Queue name.
        queue: String,
        /// Message id.
        id: String,
    },
}

impl QueueOp {
    /// The queue the op changes.
    pub fn queue(&self) -> &str {
        match self {
            Self::Enqueue { queue, .. }
            | Self::Reschedule { queue, .. }
            | Self::Remove { queue, .. } => queue,
        }
    }

    /// Refuses ops no backend should apply (an empty queue name or message id).
    pub fn check(&self) -> Result<(), StoreError> {
        let id = match self {
            Self::Enqueue { message, .. } => &message.id,
            Self::Reschedule { id, .. } | Self::Remove { id, .. } => id,
        };
        if self.queue().is_empty() {
            return Err(StoreError::Invalid("empty queue name".into()));
        }
        if id.is_empty() {
            return Err(StoreError::Invalid("empty message id".into()));
        }
        Ok(())
    }
}

/// A submitted batch's commit: resolves once the batch is durable (or has failed).
pub type Commit = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'static>>;

/// Durable queues. SQLite now; NATS JetStream or PostgreSQL run the same conformance suite.
///
/// Backends group-commit: batches submitted while one commit syncs share the next one, so a
/// durable change costs a share of an fsync under load, and callers need no writer of their own.
#[async_trait]
pub trait Queues: Send + Sync + 'static {
    /// Hands a batch over now and returns its commit. The ops apply in order in one transaction —
    /// all or none — durable (fsync'd) when the commit resolves; an invalid op fails its own batch
    /// only. Batches commit in the order they were submitted (so a caller may submit a change and
    /// a later change to the same message without waiting in between). Dropping the returned
    /// future does not withdraw the batch.
    fn submit(&self, ops: Vec<QueueOp>) -> Commit;

    /// Submits a batch and waits until it is durable.
    async fn apply(&self, ops: Vec<QueueOp>) -> Result<(), StoreError> {
        self.submit(ops).await
    }

    /// Every message of a queue, in the order they were enqueued (at start: what to deliver,
    /// again if it was in flight).
    async fn messages(&self, queue: &str) -> Result<Vec<Message>, StoreError>;
}
