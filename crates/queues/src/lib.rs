//! Queues: SQS's domain — queues with their attributes and tags, messages with attributes,
//! delays, visibility timeouts and receive counts, redrive to dead-letter queues, retention, FIFO
//! queues with message groups and deduplication — durable in the store.
//!
//! Owns: the rules of each operation and their errors ([`QueueError`]), the digests SQS returns,
//! receipt handles, and the one writer that commits message changes (group commit). A receive
//! never hands one message to two consumers inside its visibility window: the queue's memory
//! (`queue.rs`) marks messages in flight under its lock, and the store commit follows before the
//! receive answers, so a crash leaves them invisible until their timeout as well.
//!
//! Does not own: wire shapes, queue URLs, authorization (the edge's `sqs_api`), or what consumes
//! messages (Lambda's event-source mappings and destinations call [`QueueRegistry`]).

pub mod attributes;
mod error;
mod md5;
pub mod message;
mod queue;
mod receipt;
mod registry;
mod types;
mod writer;

pub use attributes::{AttributeMap, QueueSettings, RedrivePolicy};
pub use error::QueueError;
pub use message::{MessageAttribute, MessageAttributes, MessageContent};
pub(crate) use queue::Held;
pub use queue::{
    format_sequence, Counts, Queue, QueueMeta, QueueRecord, ReceivedMessage, SendInput, Sent,
};
pub use receipt::Receipt;
pub use registry::{check_name, QueueRegistry, StagedSend, COLLECTION, MAX_RECEIVE};

#[cfg(test)]
mod tests;
