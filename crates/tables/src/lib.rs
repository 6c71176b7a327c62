//! DynamoDB's domain: tables of items with hash and range keys, local and global secondary
//! indexes, the expression languages, streams of item changes and TTL expiry.
//!
//! - [`value`]: attribute values and items (DynamoDB's JSON, sizes, key bytes); [`number`]: the
//!   38-digit decimal.
//! - [`expr`]: the condition, update and projection languages, parsed by hand.
//! - [`schema`]: a table's record (keys, indexes, billing, stream and TTL settings, tags) and the
//!   rules CreateTable/UpdateTable check.
//! - [`registry`]: [`Tables`], every table in memory (written through to the store's documents)
//!   and the item operations, which go through the store's `TableRows` (items and index entries in
//!   one transaction, stream records with them).
//! - [`streams`]: stream records and their shards, read back for `dynamodbstreams` and
//!   event-source mappings.
//!
//! Knows no wire protocol beyond DynamoDB's attribute-value JSON (which *is* the item's shape),
//! and nothing of functions.

mod error;
pub mod expr;
pub mod items;
pub mod keys;
pub mod number;
pub mod registry;
pub mod schema;
pub mod streams;
pub mod value;

pub use error::{CancellationReason, TablesError};
pub use registry::Tables;
