//! HTTP APIs (apigatewayv2): the definitions users make, one module per resource — [`apis`]
//! (incl. quick create and CORS), [`routes`], [`integrations`], [`stages`], [`deployments`] — each
//! with its wire input type, the records in [`model`], OpenAPI import/export in [`openapi`], and
//! partial updates through one helper (`patch`).
//!
//! [`ApiRegistry`] keeps every API in memory, written through to the store (one document per API,
//! keyed `{account}/{region}/{apiId}`), and rebuilds and swaps the compiled [`DataPlane`] after each
//! change. APIs are scoped by (account, region) for the control plane; their ids are unique across
//! scopes, so the data plane finds an API by id alone.

use std::sync::Arc;

use nubo_store::Documents;
use nubo_wire::Scope;
use parking_lot::RwLock;

use crate::plane::{CompiledApi, DataPlane};
use crate::write_through::{scoped_key, Mirrored, WriteGuard};
use crate::GatewayError;

pub mod apis;
pub mod authorizers;
pub mod deployments;
pub mod integrations;
pub mod jwt;
pub mod model;
pub mod openapi;
mod patch;
pub mod resource;
pub mod routes;
pub mod stages;

pub use apis::ApiInput;
pub use deployments::DeploymentInput;
pub use integrations::IntegrationInput;
pub use resource::ApiResource;
pub use routes::RouteInput;
pub use stages::StageInput;

use model::ApiDocument;

/// Store collection of APIs (one document per API, keyed `{account}/{region}/{apiId}`).
pub const API_COLLECTION: &str = "apigw-api";

/// Owns API definitions and the compiled data plane.
pub struct ApiRegistry {
    apis: Mirrored<ApiDocument>,
    plane: RwLock<Arc<DataPlane>>,
}

impl ApiRegistry {
    /// Loads every API from the store and compiles its stages. APIs stored before resources were
    /// scoped belong to `default_scope`.
    pub async fn load(
        documents: Arc<dyn Documents>,
        default_scope: &Scope,
    ) -> Result<Self, GatewayError> {
        let apis = Mirrored::load(
            documents,
            API_COLLECTION,
            default_scope,
            |scope, _, doc: &mut ApiDocument| {
                doc.scope = scope.clone();
                true
            },
        )
        .await?;
        let plane: DataPlane = apis
            .snapshot()
            .values()
            .map(|doc| (doc.api.api_id.clone(), Arc::new(CompiledApi::compile(doc))))
            .collect();
        Ok(Self {
            apis,
            plane: RwLock::new(Arc::new(plane)),
        })
    }

    /// The current data plane (one pointer clone).
    pub fn plane(&self) -> Arc<DataPlane> {
        self.plane.read().clone()
    }

    /// How many APIs there are, in every scope.
    pub fn count(&self) -> usize {
        self.apis.snapshot().len()
    }

    /// Every API of a scope, ordered by id.
    pub fn list(&self, scope: &Scope) -> Vec<Arc<ApiDocument>> {
        let prefix = scoped_key(scope, "");
        self.apis
            .snapshot()
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(_, doc)| doc.clone())
            .collect()
    }

    /// One API of a scope with everything under it.
    pub fn get(&self, scope: &Scope, api_id: &str) -> Result<Arc<ApiDocument>, GatewayError> {
        self.apis
            .get(&scoped_key(scope, api_id))
            .ok_or_else(|| GatewayError::not_found("API", api_id))
    }

    /// A fresh API id, unique across every scope (the data plane finds APIs by id alone).
    fn new_api_id(&self) -> String {
        let plane = self.plane();
        loop {
            let id = model::new_id(10);
            if !plane.contains_key(&id) {
                return id;
            }
        }
    }

    /// Writes the document, then compiles its stages and swaps the data plane.
    async fn publish(&self, guard: &WriteGuard<'_>, doc: ApiDocument) -> Result<(), GatewayError> {
        let key = scoped_key(&doc.scope, &doc.api.api_id);
        let doc = self.apis.put(guard, &key, doc).await?;
        let compiled = Arc::new(CompiledApi::compile(&doc));
        let mut plane = self.plane.write();
        let mut next: DataPlane = (**plane).clone();
        next.insert(doc.api.api_id.clone(), compiled);
        *plane = Arc::new(next);
        Ok(())
    }

    /// Applies `change` to a copy of the API; if the definition changed, auto-deploying stages are
    /// redeployed; then the result is persisted, published and compiled.
    pub(crate) async fn modify<R>(
        &self,
        scope: &Scope,
        api_id: &str,
        change: impl FnOnce(&mut ApiDocument) -> Result<R, GatewayError>,
    ) -> Result<R, GatewayError> {
        let guard = self.apis.lock().await;
        let mut doc = (*self.get(scope, api_id)?).clone();
        let before = doc.snapshot();
        let result = change(&mut doc)?;
        if doc.snapshot() != before {
            deployments::auto_deploy(&mut doc);
        }
        self.publish(&guard, doc).await?;
        Ok(result)
    }

    /// Adds a new API (CreateApi and ImportApi publish through here).
    pub(crate) async fn insert(&self, doc: ApiDocument) -> Result<(), GatewayError> {
        let guard = self.apis.lock().await;
        self.publish(&guard, doc).await
    }

    /// DeleteApi.
    pub async fn delete_api(&self, scope: &Scope, api_id: &str) -> Result<(), GatewayError> {
        let guard = self.apis.lock().await;
        self.get(scope, api_id)?;
        self.apis
            .delete(&guard, &[scoped_key(scope, api_id)])
            .await?;
        let mut plane = self.plane.write();
        let mut next: DataPlane = (**plane).clone();
        next.remove(api_id);
        *plane = Arc::new(next);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nubo_store::StoreConfig;

    pub(crate) async fn registry(dir: &std::path::Path) -> ApiRegistry {
        let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
        ApiRegistry::load(stores.documents, &Scope::default())
            .await
            .unwrap()
    }

    pub(crate) async fn new_api(api: &ApiRegistry, scope: &Scope, name: &str) -> String {
        api.create_api(
            scope,
            ApiInput {
                name: Some(name.into()),
                protocol_type: Some("HTTP".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .api_id
    }

    #[tokio::test]
    async fn apis_live_in_their_scope_and_serve_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let home = Scope::default();
        let eu = Scope {
            region: "eu-west-1".into(),
            account_id: home.account_id.clone(),
        };
        let here = new_api(&api, &home, "here").await;
        let there = new_api(&api, &eu, "there").await;
        assert_eq!(api.list(&home).len(), 1);
        assert_eq!(api.list(&eu)[0].api.api_id, there);
        assert!(matches!(
            api.get(&home, &there),
            Err(GatewayError::NotFound { .. })
        ));
        assert!(api.delete_api(&home, &there).await.is_err());
        let plane = api.plane();
        assert_eq!(plane[&there].scope, eu);
        assert_eq!(plane[&here].scope, home);

        // A restart finds both in their scopes.
        drop(api);
        let again = registry(dir.path()).await;
        assert_eq!(again.get(&eu, &there).unwrap().scope, eu);
        assert_eq!(again.list(&home)[0].api.api_id, here);
    }

    #[tokio::test]
    async fn apis_stored_before_scopes_load_in_the_default_scope() {
        let dir = tempfile::tempdir().unwrap();
        let stores = StoreConfig::in_data_dir(dir.path())
            .open(dir.path())
            .await
            .unwrap();
        let legacy = r#"{"api":{"apiId":"legacy0001","name":"old","protocolType":"HTTP",
            "routeSelectionExpression":"$request.method $request.path",
            "apiKeySelectionExpression":"$request.header.x-api-key",
            "createdDate":"2024-01-01T00:00:00Z"}}"#;
        stores
            .documents
            .put(
                API_COLLECTION,
                "legacy0001",
                legacy.into(),
                nubo_store::Precondition::None,
            )
            .await
            .unwrap();
        let api = ApiRegistry::load(stores.documents, &Scope::default())
            .await
            .unwrap();
        let doc = api.get(&Scope::default(), "legacy0001").unwrap();
        assert_eq!(doc.api.name, "old");
        assert!(api.plane().contains_key("legacy0001"));
    }
}
