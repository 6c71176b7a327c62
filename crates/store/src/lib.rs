//! Persistence for Nubo, behind small traits.
//!
//! Owns: the [`Store`] trait (function documents, per-function logs) with its embedded SQLite
//! implementation ([`SqliteStore`], WAL mode, one file in the data dir), and the content-addressed
//! [`CodeStore`] that keeps every uploaded zip once and unpacks it once, read-only.
//! Does not own: what a function document means (the lambda crate serializes its own records), nor
//! any in-memory view — callers keep those and write through.

mod code;
mod sqlite;

pub use code::{CodeArtifact, CodeStore, MAX_UNZIPPED_BYTES};
pub use sqlite::SqliteStore;

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
    /// Deletes a function with all its versions; false if it did not exist.
    fn delete_function(&self, name: &str) -> Result<bool, StoreError>;
    /// Appends log lines (batched by the caller).
    fn append_log_events(&self, events: &[LogEvent]) -> Result<(), StoreError>;
    /// The most recent `limit` log lines of a function, oldest first.
    fn recent_log_events(
        &self,
        function_name: &str,
        limit: usize,
    ) -> Result<Vec<LogEvent>, StoreError>;
}
