//! Table rows: the storage of a key-value database with ordered range keys (DynamoDB's tables),
//! kept opaque — the layer above encodes its keys into bytes that sort as its keys must sort and
//! its items into bodies; the store orders, ranges and commits.
//!
//! A row is `(table, index, pk, sk, reference) → (hash, body)`: `index` is `""` for the table's
//! own rows and the index name for an index's entries (whose `reference` names the table row they
//! stand for, so two items with one index key are two rows); `hash` (16 bits) orders a scan and
//! splits it into segments. Stream records are appended per stream with a growing sequence
//! number. A batch of [`TableWrite`]s commits in one durable transaction, so an item, its index
//! entries and its stream record are written together or not at all.

use async_trait::async_trait;

use crate::StoreError;

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// Partition key bytes.
    pub pk: Vec<u8>,
    /// Sort key bytes (empty without one).
    pub sk: Vec<u8>,
    /// Index entries: the table row this entry stands for (empty for table rows).
    pub reference: Vec<u8>,
    /// Scan order and segment, 0..=65535.
    pub hash: u16,
    /// The stored item.
    pub body: Vec<u8>,
}

/// One change; a batch commits in one durable transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableWrite {
    /// Inserts or replaces a row.
    Put {
        /// The table's storage id.
        table: String,
        /// `""` or an index's name.
        index: String,
        /// The row.
        row: TableRow,
    },
    /// Deletes a row (no-op if it is gone).
    Delete {
        /// The table's storage id.
        table: String,
        /// `""` or an index's name.
        index: String,
        /// Partition key bytes.
        pk: Vec<u8>,
        /// Sort key bytes.
        sk: Vec<u8>,
        /// Reference (index entries).
        reference: Vec<u8>,
    },
    /// Deletes every row of a table (or of one of its indexes when `index` is given).
    Drop {
        /// The table's storage id.
        table: String,
        /// Only this index's entries.
        index: Option<String>,
    },
    /// Appends a record to a stream.
    Append {
        /// The stream's storage id.
        stream: String,
        /// When the change happened, epoch milliseconds.
        created_ms: i64,
        /// The record.
        body: Vec<u8>,
    },
    /// Deletes a stream's records older than `before_ms` (or all of them with `i64::MAX`).
    Trim {
        /// The stream's storage id.
        stream: String,
        /// The cut-off, epoch milliseconds.
        before_ms: i64,
    },
}

/// One bound of a sort-key range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortBound {
    /// Sort key bytes.
    pub sk: Vec<u8>,
    /// Whether the bound itself is in the range.
    pub inclusive: bool,
}

/// The rows of one partition, in sort-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRange {
    /// The table's storage id.
    pub table: String,
    /// `""` or an index's name.
    pub index: String,
    /// The partition.
    pub pk: Vec<u8>,
    /// Lower sort-key bound.
    pub lower: Option<SortBound>,
    /// Upper sort-key bound.
    pub upper: Option<SortBound>,
    /// Continue after this `(sk, reference)` in the direction of reading.
    pub after: Option<(Vec<u8>, Vec<u8>)>,
    /// Ascending (`true`) or descending.
    pub forward: bool,
    /// At most this many rows.
    pub limit: usize,
}

/// A row's place in scan order: `(hash, pk, sk, reference)`.
pub type ScanPosition = (u16, Vec<u8>, Vec<u8>, Vec<u8>);

/// Every row of a table or index in scan order `(hash, pk, sk, reference)`, within a hash range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRange {
    /// The table's storage id.
    pub table: String,
    /// `""` or an index's name.
    pub index: String,
    /// First hash of the segment.
    pub hash_from: u16,
    /// Last hash of the segment (inclusive).
    pub hash_to: u16,
    /// Continue after this row's `(hash, pk, sk, reference)`.
    pub after: Option<ScanPosition>,
    /// At most this many rows.
    pub limit: usize,
}

/// One stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Its sequence number in the stream (growing, never reused).
    pub sequence: u64,
    /// When the change happened, epoch milliseconds.
    pub created_ms: i64,
    /// The record.
    pub body: Vec<u8>,
}

/// Table rows and streams. SQLite now; PostgreSQL runs the same conformance suite later.
#[async_trait]
pub trait TableRows: Send + Sync + 'static {
    /// One row by its full key (`reference` empty: a table row).
    async fn get(&self, table: &str, pk: &[u8], sk: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Rows of one partition.
    async fn range(&self, range: RowRange) -> Result<Vec<TableRow>, StoreError>;

    /// Rows in scan order.
    async fn scan(&self, range: ScanRange) -> Result<Vec<TableRow>, StoreError>;

    /// Applies the writes in order in one durable transaction, all or none.
    async fn write(&self, writes: Vec<TableWrite>) -> Result<(), StoreError>;

    /// A stream's records after `after` (exclusive), oldest first, at most `limit`.
    async fn stream_read(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamEntry>, StoreError>;

    /// The first and last sequence numbers a stream holds (`None`: no records).
    async fn stream_bounds(&self, stream: &str) -> Result<Option<(u64, u64)>, StoreError>;
}
