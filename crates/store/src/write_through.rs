//! Registries that keep documents in memory and write them through to the store.
//!
//! Every control-plane registry has the same shape: readers (the hot paths) see an in-memory
//! snapshot and never touch the store; writers are serialized, change a copy of what they read,
//! commit it to the store and only then swap the copy into memory — so a crash never leaves memory
//! ahead of disk, and a failed commit leaves memory as it was. This module is that shape, once:
//!
//! - [`WriteThrough`] holds the documents and the writer lock; [`WriteThrough::writer`] is the one
//!   way to get a [`Writer`], so no write can skip the serialization.
//! - A [`Transaction`] gathers store [`Change`]s with the memory updates that follow each;
//!   [`Writer::commit`] commits the changes atomically and then runs the updates.
//! - [`Mirror`] is a whole collection of one record type in memory (key → `Arc<T>`, an immutable
//!   snapshot readers clone with one pointer copy), for registries whose records need no index
//!   of their own. A registry with its own memory layout (nested maps for lookups without
//!   allocation, compiled forms) uses a [`Transaction`] with its own updates instead.
//!
//! Several mirrors and registries of one layer may share a [`WriteThrough`], so one writer lock
//! covers a commit that spans their collections (deleting a function deletes its settings too).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Change, Documents, ListQuery, StoreError};

/// The documents of a layer and the lock that serializes its writers.
pub struct WriteThrough {
    documents: Arc<dyn Documents>,
    writers: tokio::sync::Mutex<()>,
}

impl WriteThrough {
    /// Writes through to `documents`.
    pub fn new(documents: Arc<dyn Documents>) -> Arc<Self> {
        Arc::new(Self {
            documents,
            writers: tokio::sync::Mutex::new(()),
        })
    }

    /// The documents, for reading at start-up.
    pub fn documents(&self) -> &Arc<dyn Documents> {
        &self.documents
    }

    /// Waits for the other writers to finish; the returned writer is the only one until dropped.
    /// A writer reads the memory it is about to change after it has this, so what it read stays
    /// current until it commits.
    pub async fn writer(&self) -> Writer<'_> {
        Writer {
            documents: self.documents.as_ref(),
            _turn: self.writers.lock().await,
        }
    }
}

/// The right to write, held for the duration of one change (see [`WriteThrough::writer`]).
pub struct Writer<'a> {
    documents: &'a dyn Documents,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Writer<'_> {
    /// Commits the transaction's changes in one store transaction, then applies its memory
    /// updates in order. If the commit fails, memory is left as it was.
    pub async fn commit(&mut self, transaction: Transaction) -> Result<(), StoreError> {
        let Transaction { changes, updates } = transaction;
        if !changes.is_empty() {
            self.documents.commit(changes).await?;
        }
        for update in updates {
            update();
        }
        Ok(())
    }
}

type Update = Box<dyn FnOnce() + Send>;

/// Store changes and the memory updates that follow them once they are committed.
#[derive(Default)]
pub struct Transaction {
    changes: Vec<Change>,
    updates: Vec<Update>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a store change.
    pub fn change(&mut self, change: Change) -> &mut Self {
        self.changes.push(change);
        self
    }

    /// Adds a memory update, run after the commit succeeds.
    pub fn then(&mut self, update: impl FnOnce() + Send + 'static) -> &mut Self {
        self.updates.push(Box::new(update));
        self
    }

    /// Adds a put of `record` as JSON.
    pub fn put_json(
        &mut self,
        collection: &str,
        key: &str,
        record: &impl Serialize,
    ) -> Result<&mut Self, StoreError> {
        Ok(self.change(Change::put(collection, key, to_json(record)?)))
    }

    /// Whether anything would be written.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn to_json(record: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|e| StoreError::Invalid(format!("a record could not be serialized: {e}")))
}

type Snapshot<T> = Arc<BTreeMap<String, Arc<T>>>;

/// A collection of JSON documents of type `T`, held whole in memory.
///
/// Readers take [`Mirror::get`] or the whole [`Mirror::snapshot`] (one `Arc` clone; the map in it
/// never changes). Writers stage puts and deletes into a [`Transaction`]; the new snapshot (a copy
/// of the map with the change applied) replaces the old one after the commit. Copying the map costs
/// a pointer per record per write — control-plane writes, never the request path.
pub struct Mirror<T> {
    collection: &'static str,
    snapshot: Arc<RwLock<Snapshot<T>>>,
}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Mirror<T> {
    /// Reads every document of `collection`. A document that does not parse is skipped and
    /// reported (a newer record kind, or damage), so one bad record never stops the start-up.
    pub async fn load(
        documents: &dyn Documents,
        collection: &'static str,
    ) -> Result<Self, StoreError> {
        let mut records = BTreeMap::new();
        for stored in documents.list(collection, ListQuery::all()).await? {
            match serde_json::from_str::<T>(&stored.body) {
                Ok(record) => {
                    records.insert(stored.key, Arc::new(record));
                }
                Err(e) => {
                    tracing::error!(collection, key = %stored.key, error = %e, "skipping an unreadable record")
                }
            }
        }
        Ok(Self {
            collection,
            snapshot: Arc::new(RwLock::new(Arc::new(records))),
        })
    }

    /// The store collection.
    pub fn collection(&self) -> &'static str {
        self.collection
    }

    /// One record.
    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        self.snapshot.read().get(key).cloned()
    }

    /// Every record, as of now.
    pub fn snapshot(&self) -> Snapshot<T> {
        self.snapshot.read().clone()
    }

    /// The records whose keys start with `prefix`, in key order.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, Arc<T>)> {
        let snapshot = self.snapshot();
        snapshot
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, record)| (key.clone(), record.clone()))
            .collect()
    }

    /// Stages a put of `record` under `key`; returns the record as memory will hold it.
    pub fn put(
        &self,
        transaction: &mut Transaction,
        key: &str,
        record: T,
    ) -> Result<Arc<T>, StoreError> {
        transaction.put_json(self.collection, key, &record)?;
        let record = Arc::new(record);
        let (snapshot, key, stored) = (self.snapshot.clone(), key.to_owned(), record.clone());
        transaction.then(move || {
            let mut current = snapshot.write();
            let mut next = (**current).clone();
            next.insert(key, stored);
            *current = Arc::new(next);
        });
        Ok(record)
    }

    /// Stages the delete of `key`.
    pub fn delete(&self, transaction: &mut Transaction, key: &str) {
        transaction.change(Change::delete(self.collection, key));
        let (snapshot, key) = (self.snapshot.clone(), key.to_owned());
        transaction.then(move || {
            let mut current = snapshot.write();
            if current.contains_key(&key) {
                let mut next = (**current).clone();
                next.remove(&key);
                *current = Arc::new(next);
            }
        });
    }

    /// Stages the delete of every key under `prefix` (which must not be empty).
    pub fn delete_prefix(&self, transaction: &mut Transaction, prefix: &str) {
        transaction.change(Change::delete_prefix(self.collection, prefix));
        let (snapshot, prefix) = (self.snapshot.clone(), prefix.to_owned());
        transaction.then(move || {
            let mut current = snapshot.write();
            if current.keys().any(|k| k.starts_with(&prefix)) {
                let mut next = (**current).clone();
                next.retain(|k, _| !k.starts_with(&prefix));
                *current = Arc::new(next);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::StoreConfig;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
    }

    fn note(text: &str) -> Note {
        Note { text: text.into() }
    }

    async fn open(dir: &std::path::Path) -> Arc<WriteThrough> {
        let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
        WriteThrough::new(stores.documents)
    }

    #[tokio::test]
    async fn memory_changes_only_after_the_commit_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let through = open(dir.path()).await;
        let notes = Mirror::<Note>::load(through.documents().as_ref(), "notes")
            .await
            .unwrap();
        let mut writer = through.writer().await;
        let mut tx = Transaction::new();
        notes.put(&mut tx, "a/1", note("one")).unwrap();
        notes.put(&mut tx, "a/2", note("two")).unwrap();
        notes.put(&mut tx, "b/1", note("three")).unwrap();
        assert!(
            notes.get("a/1").is_none(),
            "nothing is visible before the commit"
        );
        writer.commit(tx).await.unwrap();
        assert_eq!(*notes.get("a/1").unwrap(), note("one"));
        let before = notes.snapshot();

        let mut tx = Transaction::new();
        notes.delete_prefix(&mut tx, "a/");
        writer.commit(tx).await.unwrap();
        assert_eq!(before.len(), 3, "a snapshot taken earlier never changes");
        assert_eq!(
            notes
                .with_prefix("")
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["b/1"]
        );
        drop(writer);

        let reloaded = Mirror::<Note>::load(through.documents().as_ref(), "notes")
            .await
            .unwrap();
        assert_eq!(reloaded.snapshot().len(), 1);
        assert_eq!(*reloaded.get("b/1").unwrap(), note("three"));
    }

    #[tokio::test]
    async fn a_failed_commit_leaves_memory_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let through = open(dir.path()).await;
        let notes = Mirror::<Note>::load(through.documents().as_ref(), "notes")
            .await
            .unwrap();
        let mut writer = through.writer().await;
        let mut tx = Transaction::new();
        notes.put(&mut tx, "k", note("kept")).unwrap();
        writer.commit(tx).await.unwrap();

        let mut tx = Transaction::new();
        notes.put(&mut tx, "k", note("lost")).unwrap();
        // A second change whose precondition fails: the store refuses the whole commit.
        tx.change(Change::put("notes", "k", "{}").when(crate::Precondition::Absent));
        assert!(writer.commit(tx).await.is_err());
        assert_eq!(*notes.get("k").unwrap(), note("kept"));
    }

    #[tokio::test]
    async fn unreadable_documents_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let through = open(dir.path()).await;
        through
            .documents()
            .put("notes", "bad", "not json".into(), crate::Precondition::None)
            .await
            .unwrap();
        through
            .documents()
            .put(
                "notes",
                "good",
                "{\"text\":\"ok\"}".into(),
                crate::Precondition::None,
            )
            .await
            .unwrap();
        let notes = Mirror::<Note>::load(through.documents().as_ref(), "notes")
            .await
            .unwrap();
        assert_eq!(notes.snapshot().len(), 1);
        assert_eq!(*notes.get("good").unwrap(), note("ok"));
    }

    #[tokio::test]
    async fn writers_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let through = open(dir.path()).await;
        let first = through.writer().await;
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), through.writer()).await;
        assert!(waiting.is_err(), "a second writer waits for the first");
        drop(first);
        let _second = through.writer().await;
    }
}
