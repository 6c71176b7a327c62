//! The resources under an API — routes, integrations, stages, deployments — share one shape of
//! operations (create, get, update, delete, list), so the registry offers each operation once,
//! generically, and every resource module implements only what is its own: how it is created and
//! changed, and what a delete must not break. The edge serves all four with one set of handlers.

use std::collections::BTreeMap;
use std::sync::Arc;

use nubo_wire::Scope;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::model::ApiDocument;
use super::ApiRegistry;
use crate::GatewayError;

/// A resource of an HTTP API.
pub trait ApiResource: Serialize + Clone + Send + Sync + Sized + 'static {
    /// Its name in `NotFoundException`'s `resourceType` and message (`Route`, `Stage`, …).
    const NAME: &'static str;
    /// The members of its Create and Update requests (camelCase JSON).
    type Input: DeserializeOwned + Send + 'static;

    /// The API's resources of this kind, by id.
    fn items(doc: &ApiDocument) -> &BTreeMap<String, Self>;

    /// Same, to change.
    fn items_mut(doc: &mut ApiDocument) -> &mut BTreeMap<String, Self>;

    /// Creates one in `doc` (validated against the rest of the API) and returns it.
    fn create(doc: &mut ApiDocument, input: Self::Input) -> Result<Self, GatewayError>;

    /// Applies an update's members to the one named `id`, and returns it.
    fn update(doc: &mut ApiDocument, id: &str, input: Self::Input) -> Result<Self, GatewayError>;

    /// Refuses to delete the one named `id` while something else depends on it.
    fn check_delete(_doc: &ApiDocument, _id: &str) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Its wire form (the camelCase serialization, unless a resource keeps members to itself).
    fn render(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The one named `id`, or `NotFoundException`.
    fn find<'a>(doc: &'a ApiDocument, id: &str) -> Result<&'a Self, GatewayError> {
        Self::items(doc)
            .get(id)
            .ok_or_else(|| GatewayError::not_found(Self::NAME, id))
    }
}

impl ApiRegistry {
    /// Create{Route,Integration,Stage,Deployment}.
    pub async fn create<R: ApiResource>(
        &self,
        scope: &Scope,
        api_id: &str,
        input: R::Input,
    ) -> Result<R, GatewayError> {
        self.modify(scope, api_id, |doc| R::create(doc, input))
            .await
    }

    /// Get{Route,Integration,Stage,Deployment}.
    pub fn get_one<R: ApiResource>(
        &self,
        scope: &Scope,
        api_id: &str,
        id: &str,
    ) -> Result<R, GatewayError> {
        let doc: Arc<ApiDocument> = self.get(scope, api_id)?;
        R::find(&doc, id).cloned()
    }

    /// Update{Route,Integration,Stage,Deployment}.
    pub async fn update<R: ApiResource>(
        &self,
        scope: &Scope,
        api_id: &str,
        id: &str,
        input: R::Input,
    ) -> Result<R, GatewayError> {
        self.modify(scope, api_id, |doc| R::update(doc, id, input))
            .await
    }

    /// Delete{Route,Integration,Stage,Deployment}.
    pub async fn delete<R: ApiResource>(
        &self,
        scope: &Scope,
        api_id: &str,
        id: &str,
    ) -> Result<(), GatewayError> {
        self.modify(scope, api_id, |doc| {
            R::find(doc, id)?;
            R::check_delete(doc, id)?;
            R::items_mut(doc).remove(id);
            Ok(())
        })
        .await
    }
}
