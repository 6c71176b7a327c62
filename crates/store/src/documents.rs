//! Documents: `(collection, key) → (body, revision)` with optimistic concurrency.
//!
//! A collection is a name chosen by the layer that owns the records (`lambda-function`,
//! `apigw-api`, …); a key is any text, and listing walks a collection's keys in byte order under
//! a prefix. Keys are laid out from the general to the particular (`{function}/{version}`), so
//! every record of one function is one prefix — and a scope put in front of them later
//! (`{account}/{region}/…`) is one prefix too, listed from an index without a scan.
//!
//! Every write gives the document a new [`Revision`]; a write may require the document to be
//! absent or to still have the revision the writer read ([`Precondition`]). A [`Change`] list is
//! committed atomically: if any precondition fails, nothing is written.

use async_trait::async_trait;

use crate::StoreError;

/// A document's revision: changes on every write and never returns to an earlier value for the
/// same key (a document deleted and created again does not get its old revision back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(u64);

impl Revision {
    /// From a backend's stored number.
    pub fn new(value: u64) -> Self {
        Self(value)
    }

    /// The stored number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its key within the collection.
    pub key: String,
    /// The body (JSON text, owned by the layer above).
    pub body: String,
    /// The revision of the last write.
    pub revision: Revision,
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Write whatever is there.
    None,
    /// The document must not exist (put-if-absent); otherwise [`StoreError::AlreadyExists`].
    Absent,
    /// The document must exist with this revision; otherwise [`StoreError::Conflict`].
    Revision(Revision),
}

/// One write of an atomic commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Creates or replaces a document.
    Put {
        /// Collection.
        collection: String,
        /// Key.
        key: String,
        /// New body.
        body: String,
        /// What must hold first.
        precondition: Precondition,
    },
    /// Removes a document (a missing one is not an error unless a revision was required).
    Delete {
        /// Collection.
        collection: String,
        /// Key.
        key: String,
        /// What must hold first ([`Precondition::Absent`] is refused as meaningless).
        precondition: Precondition,
    },
    /// Removes every document of a collection whose key starts with `prefix`.
    DeletePrefix {
        /// Collection.
        collection: String,
        /// Key prefix (must not be empty: a whole collection is never dropped by accident).
        prefix: String,
    },
}

impl Change {
    /// An unconditional put.
    pub fn put(collection: &str, key: &str, body: impl Into<String>) -> Self {
        Self::Put {
            collection: collection.to_owned(),
            key: key.to_owned(),
            body: body.into(),
            precondition: Precondition::None,
        }
    }

    /// An unconditional delete.
    pub fn delete(collection: &str, key: &str) -> Self {
        Self::Delete {
            collection: collection.to_owned(),
            key: key.to_owned(),
            precondition: Precondition::None,
        }
    }

    /// Deletes every key under `prefix`.
    pub fn delete_prefix(collection: &str, prefix: &str) -> Self {
        Self::DeletePrefix {
            collection: collection.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    /// The same change with a precondition (ignored by `DeletePrefix`).
    pub fn when(mut self, condition: Precondition) -> Self {
        match &mut self {
            Self::Put { precondition, .. } | Self::Delete { precondition, .. } => {
                *precondition = condition
            }
            Self::DeletePrefix { .. } => {}
        }
        self
    }

    /// Refuses changes no backend should apply; backends call this before writing anything.
    pub fn check(&self) -> Result<(), StoreError> {
        let (collection, invalid) = match self {
            Self::Put { collection, .. } => (collection, None),
            Self::Delete {
                collection,
                precondition,
                ..
            } => (
                collection,
                (*precondition == Precondition::Absent)
                    .then_some("a delete cannot require the document to be absent"),
            ),
            Self::DeletePrefix { collection, prefix } => (
                collection,
                prefix
                    .is_empty()
                    .then_some("a prefix delete needs a non-empty prefix"),
            ),
        };
        if collection.is_empty() {
            return Err(StoreError::Invalid("empty collection name".into()));
        }
        match invalid {
            Some(message) => Err(StoreError::Invalid(message.into())),
            None => Ok(()),
        }
    }
}

/// What one change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The document now has this revision.
    Put(Revision),
    /// This many documents were removed (0 or 1 for a single delete).
    Deleted(u64),
}

/// Which documents to list: a collection's keys under `prefix`, in byte order, optionally after
/// a key (the last one of the previous page) and at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Key prefix ("" for all).
    pub prefix: String,
    /// Only keys greater than this one.
    pub start_after: Option<String>,
    /// At most this many (`None`: all).
    pub limit: Option<usize>,
}

impl ListQuery {
    /// Every key (in order).
    pub fn all() -> Self {
        Self::default()
    }

    /// Every key under `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }
}

/// Keyed documents with revisions. SQLite now; PostgreSQL runs the same conformance suite.
#[async_trait]
pub trait Documents: Send + Sync + 'static {
    /// One document.
    async fn get(&self, collection: &str, key: &str) -> Result<Option<Document>, StoreError>;

    /// Documents of a collection, ordered by key.
    async fn list(&self, collection: &str, query: ListQuery) -> Result<Vec<Document>, StoreError>;

    /// Applies every change in one transaction, in order, or none of them: the first failed
    /// precondition is returned as the error. One [`Outcome`] per change.
    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<Outcome>, StoreError>;

    /// Creates or replaces one document.
    async fn put(
        &self,
        collection: &str,
        key: &str,
        body: String,
        precondition: Precondition,
    ) -> Result<Revision, StoreError> {
        let change = Change::put(collection, key, body).when(precondition);
        match self.commit(vec![change]).await?.as_slice() {
            [Outcome::Put(revision)] => Ok(*revision),
            other => Err(StoreError::Backend(format!(
                "a put reported {other:?} instead of a revision"
            ))),
        }
    }

    /// Removes one document; false if there was none.
    async fn delete(
        &self,
        collection: &str,
        key: &str,
        precondition: Precondition,
    ) -> Result<bool, StoreError> {
        let change = Change::delete(collection, key).when(precondition);
        match self.commit(vec![change]).await?.as_slice() {
            [Outcome::Deleted(n)] => Ok(*n > 0),
            other => Err(StoreError::Backend(format!(
                "a delete reported {other:?} instead of a count"
            ))),
        }
    }
}
