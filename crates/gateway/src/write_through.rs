//! A store document collection mirrored in memory: the shape both gateway registries share.
//!
//! Readers take a snapshot (one `Arc` clone) and never wait for a writer. Writers hold the
//! collection's writer lock, commit to the store first and only then swap the snapshot, so a crash
//! never leaves memory ahead of disk (ARCHITECTURE.md, invariants). Documents are keyed
//! `{account}/{region}/{id}`: one scope is one key prefix. Keys written before resources were
//! scoped (`{id}` alone) are moved under the server's default scope once, at load, in one commit.
//!
//! The lambda registries get the same helper in their restructuring; this one is shaped so the two
//! can become one (a collection name, a decoder, snapshot/put/delete under one writer lock).

use std::collections::BTreeMap;
use std::sync::Arc;

use nubo_store::{Change, Documents, ListQuery, StoreError};
use nubo_wire::Scope;
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Every document of the collection, by store key.
pub(crate) type Snapshot<V> = Arc<BTreeMap<String, Arc<V>>>;

/// The store key of a resource: `{account}/{region}/{id}`.
pub(crate) fn scoped_key(scope: &Scope, id: &str) -> String {
    format!("{}/{}/{}", scope.account_id, scope.region, id)
}

/// The scope and id a store key names; a key without a scope (written before resources were
/// scoped) belongs to `default`.
pub(crate) fn split_key(key: &str, default: &Scope) -> (Scope, String) {
    let mut parts = key.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(account), Some(region), Some(id)) => (
            Scope {
                account_id: account.to_owned(),
                region: region.to_owned(),
            },
            id.to_owned(),
        ),
        _ => (default.clone(), key.to_owned()),
    }
}

/// A collection mirrored in memory.
pub(crate) struct Mirrored<V> {
    documents: Arc<dyn Documents>,
    collection: &'static str,
    entries: RwLock<Snapshot<V>>,
    /// Serializes writers; held across the store write, so it is an async mutex.
    writes: tokio::sync::Mutex<()>,
}

/// Proof that the caller holds the collection's writer lock.
pub(crate) struct WriteGuard<'a>(#[allow(dead_code)] tokio::sync::MutexGuard<'a, ()>);

impl<V: Serialize + DeserializeOwned + Send + Sync + 'static> Mirrored<V> {
    /// Loads every readable document. `adopt(scope, id, value)` sees each one with the scope its
    /// key names (so a value can carry its scope in memory) and says whether to keep it; unscoped
    /// keys are rewritten under `default` in one commit.
    pub(crate) async fn load(
        documents: Arc<dyn Documents>,
        collection: &'static str,
        default: &Scope,
        mut adopt: impl FnMut(&Scope, &str, &mut V) -> bool,
    ) -> Result<Self, StoreError> {
        let mut entries = BTreeMap::new();
        let mut changes = Vec::new();
        for stored in documents.list(collection, ListQuery::all()).await? {
            let mut value = match serde_json::from_str::<V>(&stored.body) {
                Ok(value) => value,
                Err(e) => {
                    tracing::error!(collection, key = %stored.key, error = %e, "skipping an unreadable document");
                    continue;
                }
            };
            let (scope, id) = split_key(&stored.key, default);
            if !adopt(&scope, &id, &mut value) {
                changes.push(Change::delete(collection, &stored.key));
                continue;
            }
            let key = scoped_key(&scope, &id);
            if key != stored.key {
                changes.push(Change::put(collection, &key, stored.body.clone()));
                changes.push(Change::delete(collection, &stored.key));
            }
            entries.insert(key, Arc::new(value));
        }
        if !changes.is_empty() {
            documents.commit(changes).await?;
        }
        Ok(Self {
            documents,
            collection,
            entries: RwLock::new(Arc::new(entries)),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// Every entry now (one pointer clone).
    pub(crate) fn snapshot(&self) -> Snapshot<V> {
        self.entries.read().clone()
    }

    /// One entry.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<V>> {
        self.entries.read().get(key).cloned()
    }

    /// Takes the writer lock: read, decide and write under it.
    pub(crate) async fn lock(&self) -> WriteGuard<'_> {
        WriteGuard(self.writes.lock().await)
    }

    /// Writes `value` under `key`, then publishes it.
    pub(crate) async fn put(
        &self,
        _guard: &WriteGuard<'_>,
        key: &str,
        value: V,
    ) -> Result<Arc<V>, StoreError> {
        let body = serde_json::to_string(&value)
            .map_err(|e| StoreError::Invalid(format!("unserializable document: {e}")))?;
        self.documents
            .put(self.collection, key, body, nubo_store::Precondition::None)
            .await?;
        let value = Arc::new(value);
        let mut entries = self.entries.write();
        let mut next = (**entries).clone();
        next.insert(key.to_owned(), value.clone());
        *entries = Arc::new(next);
        Ok(value)
    }

    /// Removes the documents under `keys` in one commit, then from memory.
    pub(crate) async fn delete(
        &self,
        _guard: &WriteGuard<'_>,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let changes = keys
            .iter()
            .map(|key| Change::delete(self.collection, key))
            .collect();
        self.documents.commit(changes).await?;
        let mut entries = self.entries.write();
        let mut next = (**entries).clone();
        for key in keys {
            next.remove(key);
        }
        *entries = Arc::new(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_scope_and_old_keys_take_the_default() {
        let eu = Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        let key = scoped_key(&eu, "abc");
        assert_eq!(key, "123456789012/eu-west-1/abc");
        assert_eq!(split_key(&key, &Scope::default()), (eu, "abc".into()));
        assert_eq!(
            split_key("abc", &Scope::default()),
            (Scope::default(), "abc".into())
        );
    }

    #[tokio::test]
    async fn unscoped_documents_move_under_the_default_scope_once() {
        let dir = tempfile::tempdir().unwrap();
        let stores = nubo_store::StoreConfig::in_data_dir(dir.path())
            .open(dir.path())
            .await
            .unwrap();
        let documents = stores.documents;
        documents
            .put("c", "old", "1".into(), nubo_store::Precondition::None)
            .await
            .unwrap();
        let scope = Scope::default();
        let mirrored: Mirrored<u32> =
            Mirrored::load(documents.clone(), "c", &scope, |_, _, _| true)
                .await
                .unwrap();
        let key = scoped_key(&scope, "old");
        assert_eq!(mirrored.get(&key).as_deref(), Some(&1));
        let keys: Vec<String> = documents
            .list("c", ListQuery::all())
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.key)
            .collect();
        assert_eq!(keys, vec![key.clone()]);

        let guard = mirrored.lock().await;
        mirrored.put(&guard, &key, 2).await.unwrap();
        mirrored
            .delete(&guard, std::slice::from_ref(&key))
            .await
            .unwrap();
        assert!(mirrored.snapshot().is_empty());
    }
}
