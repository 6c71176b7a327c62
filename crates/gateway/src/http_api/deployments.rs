//! The deployment resource: CreateDeployment, DeleteDeployment, and the auto-deployments a
//! stage with `autoDeploy` gets after every change of the API's definition.
//!
//! A deployment is an immutable copy of the API's routes, integrations and CORS; a stage serves
//! exactly the deployment it points at.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::model::{new_id, now_iso, ApiDocument, DeploymentRecord};
use super::patch::Patch;
use super::resource::ApiResource;
use crate::GatewayError;

fn new_deployment(doc: &ApiDocument, auto: bool, description: Option<String>) -> DeploymentRecord {
    DeploymentRecord {
        deployment_id: new_id(7),
        auto_deployed: auto,
        created_date: now_iso(),
        deployment_status: "DEPLOYED".into(),
        description,
        snapshot: doc.snapshot(),
    }
}

/// Freezes the current definition into a deployment served by `stage_name`; returns its id.
pub(crate) fn deploy_stage(
    doc: &mut ApiDocument,
    stage_name: &str,
    auto: bool,
    description: Option<String>,
) -> String {
    let record = new_deployment(doc, auto, description);
    let id = record.deployment_id.clone();
    doc.deployments.insert(id.clone(), record);
    if let Some(stage) = doc.stages.get_mut(stage_name) {
        stage.deployment_id = Some(id.clone());
        stage.last_updated_date = now_iso();
        if auto {
            stage.last_deployment_status_message = Some(format!(
                "Successfully deployed stage with deployment ID '{id}'"
            ));
        }
    }
    // Auto-deployments nobody serves any more are dropped: they cannot be redeployed by hand.
    let served: Vec<String> = doc
        .stages
        .values()
        .filter_map(|s| s.deployment_id.clone())
        .collect();
    doc.deployments
        .retain(|id, d| !d.auto_deployed || served.contains(id));
    id
}

/// Redeploys every auto-deploying stage.
pub(crate) fn auto_deploy(doc: &mut ApiDocument) {
    let names: Vec<String> = doc
        .stages
        .values()
        .filter(|s| s.auto_deploy)
        .map(|s| s.stage_name.clone())
        .collect();
    for name in names {
        deploy_stage(doc, &name, true, None);
    }
}

/// CreateDeployment / UpdateDeployment members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentInput {
    /// The stage to deploy to (create only; none leaves the deployment unserved).
    pub stage_name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

impl ApiResource for DeploymentRecord {
    const NAME: &'static str = "Deployment";
    type Input = DeploymentInput;

    fn items(doc: &ApiDocument) -> &BTreeMap<String, Self> {
        &doc.deployments
    }

    fn items_mut(doc: &mut ApiDocument) -> &mut BTreeMap<String, Self> {
        &mut doc.deployments
    }

    /// CreateDeployment (optionally onto a stage).
    fn create(doc: &mut ApiDocument, input: DeploymentInput) -> Result<Self, GatewayError> {
        let Some(name) = input.stage_name.filter(|s| !s.is_empty()) else {
            let record = new_deployment(doc, false, input.description);
            doc.deployments
                .insert(record.deployment_id.clone(), record.clone());
            return Ok(record);
        };
        let stage = doc
            .stages
            .get(&name)
            .ok_or_else(|| GatewayError::not_found("Stage", &name))?;
        if stage.auto_deploy {
            return Err(GatewayError::bad_request(format!(
                "Stage {name} is managed by AutoDeploy; deployments to it are automatic"
            )));
        }
        let id = deploy_stage(doc, &name, false, input.description);
        Ok(doc.deployments[&id].clone())
    }

    /// UpdateDeployment: only the description changes (what it froze cannot).
    fn update(
        doc: &mut ApiDocument,
        id: &str,
        input: DeploymentInput,
    ) -> Result<Self, GatewayError> {
        let mut record = Self::find(doc, id)?.clone();
        record.description.patch(input.description);
        doc.deployments.insert(id.to_owned(), record.clone());
        Ok(record)
    }

    /// Not while a stage serves it.
    fn check_delete(doc: &ApiDocument, id: &str) -> Result<(), GatewayError> {
        if doc
            .stages
            .values()
            .any(|s| s.deployment_id.as_deref() == Some(id))
        {
            return Err(GatewayError::bad_request(format!(
                "Deployment {id} is served by a stage"
            )));
        }
        Ok(())
    }

    /// The frozen definition is Nubo's own; the wire shape has only the deployment's members.
    fn render(&self) -> Value {
        let mut value = json!({
            "deploymentId": self.deployment_id,
            "autoDeployed": self.auto_deployed,
            "createdDate": self.created_date,
            "deploymentStatus": self.deployment_status,
        });
        if let Some(description) = &self.description {
            value["description"] = json!(description);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{IntegrationRecord, RouteRecord, StageRecord};
    use super::super::tests::{new_api, registry};
    use super::super::{ApiInput, ApiRegistry, IntegrationInput, RouteInput, StageInput};
    use super::*;
    use nubo_wire::Scope;

    fn deploy_to(stage: &str) -> DeploymentInput {
        DeploymentInput {
            stage_name: Some(stage.into()),
            description: None,
        }
    }

    fn lambda_integration() -> IntegrationInput {
        IntegrationInput {
            integration_type: Some("AWS_PROXY".into()),
            integration_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
            payload_format_version: Some("2.0".into()),
            ..Default::default()
        }
    }

    async fn route(api: &ApiRegistry, api_id: &str, key: &str, integration: &str) {
        api.create::<RouteRecord>(
            &Scope::default(),
            api_id,
            RouteInput {
                route_key: Some(key.into()),
                target: Some(format!("integrations/{integration}")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    fn served(api: &ApiRegistry, api_id: &str, stage: &str, path: &str) -> Option<String> {
        let plane = api.plane();
        let stage = plane.get(api_id)?.stages.get(stage)?.clone();
        let index = stage.table.lookup(&http::Method::GET, path)?;
        Some(stage.routes[index as usize].route_key.clone())
    }

    #[tokio::test]
    async fn a_stage_serves_its_deployment_until_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let scope = Scope::default();
        let id = new_api(&api, &scope, "a").await;
        let integration = api
            .create::<IntegrationRecord>(&scope, &id, lambda_integration())
            .await
            .unwrap();
        route(&api, &id, "GET /a", &integration.integration_id).await;
        api.create::<StageRecord>(
            &scope,
            &id,
            StageInput {
                stage_name: Some("prod".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            served(&api, &id, "prod", "/a"),
            None,
            "nothing deployed yet"
        );
        api.create::<DeploymentRecord>(&scope, &id, deploy_to("prod"))
            .await
            .unwrap();
        assert_eq!(served(&api, &id, "prod", "/a").as_deref(), Some("GET /a"));
        route(&api, &id, "GET /b", &integration.integration_id).await;
        assert_eq!(
            served(&api, &id, "prod", "/b"),
            None,
            "the snapshot is immutable"
        );
        api.create::<DeploymentRecord>(&scope, &id, deploy_to("prod"))
            .await
            .unwrap();
        assert_eq!(served(&api, &id, "prod", "/b").as_deref(), Some("GET /b"));

        // A restart rebuilds the same plane from the store.
        drop(api);
        let again = registry(dir.path()).await;
        assert_eq!(served(&again, &id, "prod", "/b").as_deref(), Some("GET /b"));
    }

    #[tokio::test]
    async fn quick_create_auto_deploys_and_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let scope = Scope::default();
        let id = api
            .create_api(
                &scope,
                ApiInput {
                    name: Some("q".into()),
                    protocol_type: Some("HTTP".into()),
                    target: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
                    route_key: Some("GET /x".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .api_id;
        assert_eq!(
            served(&api, &id, "$default", "/x").as_deref(),
            Some("GET /x")
        );
        let doc = api.get(&scope, &id).unwrap();
        let integration = doc.integrations.keys().next().unwrap().clone();
        route(&api, &id, "GET /y", &integration).await;
        assert_eq!(
            served(&api, &id, "$default", "/y").as_deref(),
            Some("GET /y")
        );
        // Superseded auto-deployments are not kept.
        assert_eq!(api.get(&scope, &id).unwrap().deployments.len(), 1);

        // Deleting the CORS configuration is a change of the definition too.
        api.update_api(
            &scope,
            &id,
            ApiInput {
                cors_configuration: Some(Default::default()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(api.plane()[&id].stages["$default"].cors.is_some());
        api.delete_cors_configuration(&scope, &id).await.unwrap();
        assert!(api
            .get(&scope, &id)
            .unwrap()
            .api
            .cors_configuration
            .is_none());
        assert!(api.plane()[&id].stages["$default"].cors.is_none());
    }
}
