//! REST APIs (apigateway v1): the definitions users make — RestApis, Resources, Methods,
//! Integrations, MethodResponses/IntegrationResponses ([`ops`]), Deployments and Stages — the
//! records in [`model`], and the compiled data plane ([`compile`]): every deployed stage becomes
//! the same `CompiledApi`/`CompiledStage` HTTP APIs use (one route per resource method), so the
//! pipeline's phases serve both. API keys and usage plans live in [`keys`].
//!
//! [`RestRegistry`] keeps every API in memory, written through to the store (one document per
//! API, keyed `{account}/{region}/{id}`), and recompiles and swaps the plane after each change.

use std::sync::Arc;

use nubo_store::Documents;
use nubo_wire::Scope;
use parking_lot::RwLock;

use crate::plane::DataPlane;
use crate::write_through::{scoped_key, Mirrored, WriteGuard};
use crate::GatewayError;

pub mod authorizer;
pub mod compile;
pub mod keys;
pub mod model;
pub mod ops;
pub mod patch;
pub mod template;
pub mod updates;

use model::{ResourceRecord, RestApiDocument, RestApiRecord};

/// Store collection of REST APIs.
pub const REST_API_COLLECTION: &str = "apigw-restapi";

/// CreateRestApi's members.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestApiInput {
    /// Name (required).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// `HEADER` (default) or `AUTHORIZER`.
    pub api_key_source: Option<String>,
    /// Endpoint configuration.
    pub endpoint_configuration: Option<serde_json::Value>,
    /// Binary media types.
    #[serde(default)]
    pub binary_media_types: Vec<String>,
    /// Disable the execute-api endpoint.
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    /// Tags.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Owns REST API definitions and their compiled data plane.
pub struct RestRegistry {
    apis: Mirrored<RestApiDocument>,
    plane: RwLock<Arc<DataPlane>>,
}

impl RestRegistry {
    /// Loads every REST API and compiles its stages.
    pub async fn load(
        documents: Arc<dyn Documents>,
        default_scope: &Scope,
    ) -> Result<Self, GatewayError> {
        let apis = Mirrored::load(
            documents,
            REST_API_COLLECTION,
            default_scope,
            |scope, _, doc: &mut RestApiDocument| {
                doc.scope = scope.clone();
                true
            },
        )
        .await?;
        let plane: DataPlane = apis
            .snapshot()
            .values()
            .map(|doc| (doc.api.id.clone(), Arc::new(compile::compile(doc))))
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

    /// Every REST API of a scope, ordered by id.
    pub fn list(&self, scope: &Scope) -> Vec<Arc<RestApiDocument>> {
        let prefix = scoped_key(scope, "");
        self.apis
            .snapshot()
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(_, doc)| doc.clone())
            .collect()
    }

    /// One REST API of a scope.
    pub fn get(&self, scope: &Scope, id: &str) -> Result<Arc<RestApiDocument>, GatewayError> {
        self.apis
            .get(&scoped_key(scope, id))
            .ok_or_else(|| GatewayError::not_found("RestApi", id))
    }

    /// CreateRestApi; `taken` says whether an id is used by another kind of API.
    pub async fn create(
        &self,
        scope: &Scope,
        input: RestApiInput,
        taken: impl Fn(&str) -> bool,
    ) -> Result<Arc<RestApiDocument>, GatewayError> {
        let name = input
            .name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| GatewayError::bad_request("Invalid API name specified"))?;
        let api_key_source = input.api_key_source.unwrap_or_else(|| "HEADER".into());
        if !matches!(api_key_source.as_str(), "HEADER" | "AUTHORIZER") {
            return Err(GatewayError::bad_request(format!(
                "Invalid apiKeySource {api_key_source}"
            )));
        }
        let guard = self.apis.lock().await;
        let plane = self.plane();
        let id = loop {
            let id = crate::http_api::model::new_id(10);
            if !plane.contains_key(&id) && !taken(&id) {
                break id;
            }
        };
        let root = crate::http_api::model::new_id(10);
        let root_resource = ResourceRecord {
            id: root.clone(),
            parent_id: None,
            path_part: None,
            path: "/".into(),
            resource_methods: Default::default(),
        };
        let doc = RestApiDocument {
            scope: scope.clone(),
            api: RestApiRecord {
                id,
                name,
                description: input.description,
                version: input.version,
                created_date: model::now_epoch(),
                api_key_source,
                endpoint_configuration: Some(
                    input
                        .endpoint_configuration
                        .unwrap_or_else(|| serde_json::json!({"types": ["EDGE"]})),
                ),
                binary_media_types: input.binary_media_types,
                root_resource_id: root.clone(),
                disable_execute_api_endpoint: input.disable_execute_api_endpoint,
                tags: input.tags,
            },
            resources: [(root, root_resource)].into_iter().collect(),
            deployments: Default::default(),
            stages: Default::default(),
            authorizers: Default::default(),
        };
        self.publish(&guard, doc).await
    }

    /// Applies `change` to a copy of the API, then persists, publishes and compiles it.
    pub async fn modify<R>(
        &self,
        scope: &Scope,
        id: &str,
        change: impl FnOnce(&mut RestApiDocument) -> Result<R, GatewayError>,
    ) -> Result<R, GatewayError> {
        let guard = self.apis.lock().await;
        let mut doc = (*self.get(scope, id)?).clone();
        let result = change(&mut doc)?;
        self.publish(&guard, doc).await?;
        Ok(result)
    }

    async fn publish(
        &self,
        guard: &WriteGuard<'_>,
        doc: RestApiDocument,
    ) -> Result<Arc<RestApiDocument>, GatewayError> {
        let key = scoped_key(&doc.scope, &doc.api.id);
        let doc = self.apis.put(guard, &key, doc).await?;
        let compiled = Arc::new(compile::compile(&doc));
        let mut plane = self.plane.write();
        let mut next: DataPlane = (**plane).clone();
        next.insert(doc.api.id.clone(), compiled);
        *plane = Arc::new(next);
        Ok(doc)
    }

    /// DeleteRestApi.
    pub async fn delete(&self, scope: &Scope, id: &str) -> Result<(), GatewayError> {
        let guard = self.apis.lock().await;
        self.get(scope, id)?;
        self.apis.delete(&guard, &[scoped_key(scope, id)]).await?;
        let mut plane = self.plane.write();
        let mut next: DataPlane = (**plane).clone();
        next.remove(id);
        *plane = Arc::new(next);
        Ok(())
    }
}
