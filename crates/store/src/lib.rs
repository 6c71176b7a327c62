//! Persistence for Nubo, by concern, behind small async traits.
//!
//! Owns four kinds of storage, each a dyn-compatible trait so a networked backend (PostgreSQL,
//! NATS JetStream) can stand beside the embedded one:
//! - [`Documents`]: `(collection, key) → (body, revision)` with optimistic concurrency, ordered
//!   prefix listing and atomic multi-document commits. Every control-plane record (functions,
//!   versions, aliases, provisioned and event-invoke settings, HTTP APIs, Function URL configs)
//!   is a document in a collection named by the layer that owns it.
//! - [`Queues`]: named durable queues of opaque messages; a batch of [`QueueOp`]s commits in one
//!   durable (fsync'd) transaction, group-committed with whatever else was submitted meanwhile.
//! - [`Logs`]: log events keyed by log group and stream, appended in batches and read back by time
//!   range with a forward token (the shape CloudWatch Logs' read APIs need).
//! - [`TableRows`]: ordered rows keyed by opaque byte keys with index entries and change streams,
//!   written in durable batches (DynamoDB's tables).
//! - [`Blobs`]: content-addressed bytes (function zips); [`CodeStore`] adds the unpacked,
//!   read-only code trees environments run from.
//!
//! [`StoreConfig`] picks a backend from a URL (`sqlite:<path>`; the default is
//! `<data-dir>/nubo.db`) and opens all four as one [`Stores`]. The SQLite backend runs its work on
//! tokio's blocking pool, never on a runtime worker, and its queue commits on one thread of their
//! own (group commit). `conformance` (feature `conformance`) is
//! the test suite every backend must pass.
//!
//! [`write_through`] is the one shape every registry above uses to keep documents in memory:
//! writers serialized, the store committed before memory changes ([`WriteThrough`], [`Mirror`]).
//!
//! Does not own: what a document, message body or blob means (the layers above serialize their
//! own records and choose their collection and queue names), nor how a registry indexes its
//! records in memory.

mod blobs;
mod blocking;
mod code;
mod config;
mod documents;
mod logs;
mod queues;
mod sqlite;
mod tables;
pub mod write_through;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::sync::Arc;

pub use blobs::{BlobRead, BlobUpload, Blobs, FsBlobs};
pub use code::{unzipped_size, CodeArtifact, CodeStore, MAX_UNZIPPED_BYTES};
pub use config::StoreConfig;
pub use documents::{Change, Document, Documents, ListQuery, Outcome, Precondition, Revision};
pub use logs::{LogEvent, LogGroup, LogPage, LogQuery, LogStream, Logs, StoredLogEvent};
pub use queues::{Commit, Message, QueueOp, Queues};
pub use sqlite::{raw_insert_baseline, raw_point_read_baseline, SqliteStore};
pub use tables::{
    RowRange, ScanPosition, ScanRange, SortBound, StreamEntry, TableRow, TableRows, TableWrite,
};
pub use write_through::{Mirror, Transaction, WriteThrough, Writer};

/// Errors of the persistence layer. Backend errors are carried as text: no backend's own error
/// type crosses this crate's API.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A document that was expected to be absent exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// No record with this key.
    #[error("{0} not found")]
    NotFound(String),
    /// A document changed (or disappeared) since the revision the caller expected.
    #[error("{0} was changed by another writer")]
    Conflict(String),
    /// A request the store refuses (an empty collection or queue name, …).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The uploaded archive is not a readable zip.
    #[error("could not unzip the uploaded file: {0}")]
    InvalidZip(String),
    /// The archive unpacks to more than the allowed size.
    #[error("unzipped size must be smaller than {limit} bytes")]
    UnzippedTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The store configuration cannot be used (unknown URL scheme, newer schema, …).
    #[error("store configuration: {0}")]
    Config(String),
    /// The backend failed (its own message).
    #[error("database error: {0}")]
    Backend(String),
    /// The file system failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Every kind of storage of one backend, as the composition root hands it out.
#[derive(Clone)]
pub struct Stores {
    /// Control-plane documents.
    pub documents: Arc<dyn Documents>,
    /// Durable queues.
    pub queues: Arc<dyn Queues>,
    /// Log groups and streams.
    pub logs: Arc<dyn Logs>,
    /// Content-addressed bytes.
    pub blobs: Arc<dyn Blobs>,
    /// S3 objects' data (`<data>/objects` for the embedded backend).
    pub object_blobs: Arc<dyn Blobs>,
    /// DynamoDB's table rows and streams.
    pub tables: Arc<dyn TableRows>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
