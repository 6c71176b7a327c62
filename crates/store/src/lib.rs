//! Persistence for Nubo, behind small traits.
//!
//! Owns: the [`Store`] trait (function documents, per-function logs) with its embedded SQLite
//! implementation ([`SqliteStore`], WAL mode, one file in the data dir), and the content-addressed
//! [`CodeStore`] that keeps every uploaded zip once and unpacks it once, read-only, and the
//! durable queue of asynchronous invocations ([`QueuedEvent`], applied in batches of [`QueueOp`]),
//! and generic keyed documents (`put_document`) for layers whose records need no query beyond "all".
//! Does not own: what a function document means (the lambda crate serializes its own records), nor
//! any in-memory view — callers keep those and write through.

mod code;
mod sqlite;

pub use code::{CodeArtifact, CodeStore, MAX_UNZIPPED_BYTES};
pub use sqlite::{raw_insert_baseline, SqliteStore};

/// Errors of the persistence layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with this key already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// No record with this key.
    #[error("{0} not found")]
    NotFound(String),
    /// The uploaded archive is not a readable zip.
    #[error("could not unzip the uploaded file: {0}")]
    InvalidZip(String),
    /// The archive unpacks to more than the allowed size.
    #[error("unzipped size must be smaller than {limit} bytes")]
    UnzippedTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// SQLite failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The file system failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// One line of a function's log, attributed to an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Function name.
    pub function_name: String,
    /// Log stream (`YYYY/MM/DD/[$LATEST]<environment id>`).
    pub stream: String,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// The line, without its newline.
    pub message: String,
}

/// An accepted asynchronous invocation, kept until it has been delivered or given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The invocation's request id (returned to the caller with the 202).
    pub id: String,
    /// Function name.
    pub function_name: String,
    /// Qualifier the caller gave, if any.
    pub qualifier: Option<String>,
    /// The event.
    pub payload: Vec<u8>,
    /// Client context, passed through.
    pub client_context: Option<String>,
    /// When it was accepted, epoch milliseconds.
    pub received_ms: i64,
    /// Attempts that ended in a function error so far.
    pub attempts: u32,
    /// Not to be delivered before this time, epoch milliseconds.
    pub not_before_ms: i64,
}

/// One change to the asynchronous queue; a batch of them commits in one durable transaction.
#[derive(Debug, Clone)]
pub enum QueueOp {
    /// Accept an event.
    Enqueue(QueuedEvent),
    /// Record a failed attempt and when to try again.
    Reschedule {
        /// Event id.
        id: String,
        /// Attempts so far.
        attempts: u32,
        /// Next attempt, epoch milliseconds.
        not_before_ms: i64,
    },
    /// The event is done with (delivered, or sent to its failure path).
    Remove(String),
}

/// The state store. SQLite now; PostgreSQL implements the same trait for clusters.
///
/// Documents are opaque JSON text owned by the layer above; the store keys and orders them.
pub trait Store: Send + Sync + 'static {
    /// One line saying what this store is, for start-up output.
    fn describe(&self) -> String;
    /// Inserts a function version's document; fails with `AlreadyExists` if present.
    fn insert_function(&self, name: &str, version: &str, document: &str) -> Result<(), StoreError>;
    /// Replaces a function version's document; fails with `NotFound` if absent.
    fn update_function(&self, name: &str, version: &str, document: &str) -> Result<(), StoreError>;
    /// Every stored function version's document, ordered by name then version.
    fn all_functions(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Deletes a function with all its versions, aliases and settings; false if it did not exist.
    fn delete_function(&self, name: &str) -> Result<bool, StoreError>;
    /// Deletes one published version's document; false if it did not exist.
    fn delete_function_version(&self, name: &str, version: &str) -> Result<bool, StoreError>;

    /// Inserts or replaces an alias's document.
    fn put_alias(&self, function: &str, alias: &str, document: &str) -> Result<(), StoreError>;
    /// Deletes an alias; false if it did not exist.
    fn delete_alias(&self, function: &str, alias: &str) -> Result<bool, StoreError>;
    /// Every alias: (function, alias, document), ordered.
    fn all_aliases(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// Inserts or replaces a provisioned-concurrency setting for a version or alias.
    fn put_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: &str,
        document: &str,
    ) -> Result<(), StoreError>;
    /// Deletes one; false if it did not exist.
    fn delete_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError>;
    /// Every setting: (function, qualifier, document), ordered.
    fn all_provisioned_concurrency(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Appends log lines (batched by the caller).
    fn append_log_events(&self, events: &[LogEvent]) -> Result<(), StoreError>;
    /// The most recent `limit` log lines of a function, oldest first.
    fn recent_log_events(
        &self,
        function_name: &str,
        limit: usize,
    ) -> Result<Vec<LogEvent>, StoreError>;

    /// Applies queue changes in one transaction, durable (fsync'd) when it returns.
    fn apply_queue_ops(&self, ops: &[QueueOp]) -> Result<(), StoreError>;
    /// Every queued event, oldest first (at start: what to deliver, again if it was in flight).
    fn queued_events(&self) -> Result<Vec<QueuedEvent>, StoreError>;

    /// Stores a function's asynchronous-invocation settings for one qualifier.
    fn put_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
        document: &str,
    ) -> Result<(), StoreError>;
    /// Removes them; false if there were none.
    fn delete_event_invoke_config(&self, name: &str, qualifier: &str) -> Result<bool, StoreError>;
    /// Every function's settings: (name, qualifier, document).
    fn all_event_invoke_configs(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// Stores (inserts or replaces) a document of some `kind` (e.g. `apigw-api`, `function-url`)
    /// owned by a layer above; the store only keys it.
    fn put_document(&self, kind: &str, id: &str, document: &str) -> Result<(), StoreError>;
    /// Removes a document; false if there was none.
    fn delete_document(&self, kind: &str, id: &str) -> Result<bool, StoreError>;
    /// Every document of a kind: (id, document), ordered by id.
    fn all_documents(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError>;
}
