//! The conformance suite every storage backend must pass (feature `conformance`).
//!
//! A backend crate implements [`Backend`] — `open` returns the backend's [`Stores`] over the same
//! data every time it is called on the same value, so the suite can check what survives a reopen —
//! and expands [`crate::conformance_suite!`] in a test module, which writes one `#[tokio::test]`
//! per case (the calling crate needs `tokio` with the `macros` and `rt-multi-thread` features):
//!
//! ```ignore
//! #[cfg(test)]
//! mod conformance {
//!     nubo_store::conformance_suite!(crate::tests::PostgresBackend::new());
//! }
//! ```
//!
//! The cases are public functions too, for a backend that wants to run them its own way.

mod blobs;
mod documents;
mod legacy;
mod logs;
mod queues;
mod tables;

use async_trait::async_trait;

pub use blobs::*;
pub use documents::*;
pub use legacy::{write_version_0_database, Version0, Version0Event};
pub use logs::*;
pub use queues::*;
pub use tables::*;

use crate::{StoreConfig, Stores};

/// A backend under test.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Opens the backend: the same underlying data on every call (the suite drops what an
    /// earlier call returned before it checks durability).
    async fn open(&self) -> Stores;
}

/// The embedded SQLite backend in a fresh temporary directory.
pub struct SqliteBackend {
    dir: tempfile::TempDir,
}

impl SqliteBackend {
    /// A new, empty data dir.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

impl Default for SqliteBackend {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn open(&self) -> Stores {
        StoreConfig::in_data_dir(self.dir.path())
            .open(self.dir.path())
            .await
            .expect("open the SQLite store")
    }
}

/// Writes one `#[tokio::test]` per conformance case for the backend `$backend` (an expression
/// evaluated afresh in each test, giving a value that implements
/// [`conformance::Backend`](crate::conformance::Backend)).
#[macro_export]
macro_rules! conformance_suite {
    ($backend:expr) => {
        $crate::conformance_suite!(@cases $backend;
            documents_revisions_change_on_every_write,
            documents_preconditions_guard_writes,
            documents_list_by_prefix_in_key_order,
            documents_commits_are_atomic,
            documents_survive_reopen,
            queues_survive_reopen_in_order,
            queues_batches_are_atomic,
            queues_enqueue_is_idempotent,
            queues_commit_in_submission_order,
            queues_group_commit_isolates_a_bad_batch,
            queues_concurrent_submitters_all_land,
            logs_read_in_time_order,
            logs_filter_by_time_range_and_stream,
            logs_page_forward_with_tokens,
            logs_list_streams_and_groups,
            logs_groups_streams_and_retention,
            logs_survive_reopen,
            blobs_round_trip_and_survive_reopen,
            blobs_stream_in_and_out,
            tables_rows_range_and_survive_reopen,
            tables_streams_grow_and_batches_are_atomic,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $backend;
                $crate::conformance::$case(&backend).await;
            }
        )*
    };
}
