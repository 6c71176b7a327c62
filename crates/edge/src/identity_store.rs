//! The identity registry's persistence seam ([`IdentityStore`]) over the store's documents: one
//! collection per identity kind (`iam-user`, `iam-access-key`, `iam-role`, `iam-policy`,
//! `iam-group`, `iam-secret`), one JSON document per entity, keyed as the registry keys them.
//!
//! The registry writes through synchronously while it holds its writer lock (so memory never runs
//! ahead of disk); the store is async. Each write therefore blocks its thread on the store's
//! future with `block_in_place`, which is allowed on the multi-threaded runtime's workers and on
//! blocking-pool threads alike. IAM writes are rare; the request path only reads memory.

use std::sync::Arc;

use nubo_identity::{kinds, IamError, IdentityRegistry, IdentityStore, RegistryConfig};
use nubo_store::{Documents, ListQuery, Precondition, StoreError};
use serde_json::Value;
use tokio::runtime::Handle;

/// Every collection the registry writes, in the order they are loaded.
const COLLECTIONS: [&str; 6] = [
    kinds::SECRET,
    kinds::POLICY,
    kinds::GROUP,
    kinds::USER,
    kinds::ACCESS_KEY,
    kinds::ROLE,
];

/// [`IdentityStore`] over [`Documents`].
pub struct StoredIdentities {
    documents: Arc<dyn Documents>,
    runtime: Handle,
}

impl StoredIdentities {
    /// Writes go to `documents`, driven on the current runtime.
    pub fn new(documents: Arc<dyn Documents>) -> Self {
        Self {
            documents,
            runtime: Handle::current(),
        }
    }

    fn wait<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, String> {
        tokio::task::block_in_place(|| self.runtime.block_on(work)).map_err(|e| e.to_string())
    }
}

impl IdentityStore for StoredIdentities {
    fn put(&self, kind: &'static str, id: &str, document: &Value) -> Result<(), String> {
        let body = document.to_string();
        self.wait(self.documents.put(kind, id, body, Precondition::None))
            .map(|_| ())
    }

    fn delete(&self, kind: &'static str, id: &str) -> Result<(), String> {
        self.wait(self.documents.delete(kind, id, Precondition::None))
            .map(|_| ())
    }
}

/// Why the identities could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store failed.
    #[error("reading identities: {0}")]
    Store(#[from] StoreError),
    /// A stored document is not JSON.
    #[error("identity document {collection}/{key} is not JSON: {error}")]
    Corrupt {
        /// Its collection.
        collection: &'static str,
        /// Its key.
        key: String,
        /// What the parser said.
        error: serde_json::Error,
    },
    /// The registry refused what was stored.
    #[error("loading identities: {0}")]
    Registry(#[from] IamError),
}

/// Reads every identity document and builds the registry over them (must run on the
/// multi-threaded runtime: a first start writes the session key through).
pub async fn load_identities(
    documents: Arc<dyn Documents>,
    config: RegistryConfig,
) -> Result<IdentityRegistry, LoadError> {
    let mut stored = Vec::new();
    for collection in COLLECTIONS {
        for document in documents.list(collection, ListQuery::all()).await? {
            let value =
                serde_json::from_str(&document.body).map_err(|error| LoadError::Corrupt {
                    collection,
                    key: document.key.clone(),
                    error,
                })?;
            stored.push((collection.to_owned(), document.key, value));
        }
    }
    let store = Arc::new(StoredIdentities::new(documents));
    Ok(IdentityRegistry::load(config, store, stored)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_store::SqliteStore;

    fn config() -> RegistryConfig {
        RegistryConfig {
            account_id: "123456789012".into(),
            dev_credentials: false,
        }
    }

    /// What the registry writes survives a reopen of the same SQLite file, keys and sessions
    /// included.
    #[tokio::test(flavor = "multi_thread")]
    async fn identities_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nubo.db");
        let documents: Arc<dyn Documents> = Arc::new(SqliteStore::open_file(&path).unwrap());
        let registry = load_identities(documents.clone(), config()).await.unwrap();
        let admin = registry.bootstrap_admin().unwrap().expect("first start");
        registry
            .create_role(
                "runner",
                nubo_identity::registry::NewRole {
                    trust_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                    ..Default::default()
                },
            )
            .unwrap();
        drop(registry);
        drop(documents);

        let documents: Arc<dyn Documents> = Arc::new(SqliteStore::open_file(&path).unwrap());
        let again = load_identities(documents, config()).await.unwrap();
        assert!(again.bootstrap_admin().unwrap().is_none(), "users exist");
        let keys = again.list_access_keys("admin").unwrap();
        assert_eq!(keys[0].access_key_id, admin.access_key_id);
        assert_eq!(keys[0].secret_access_key, admin.secret_access_key);
        assert_eq!(again.get_role("runner").unwrap().role_name, "runner");
        again
            .lambda_can_assume(
                "arn:aws:iam::123456789012:role/runner",
                time::OffsetDateTime::now_utc(),
            )
            .unwrap();
    }
}
