//! The stage resource: CreateStage, UpdateStage, DeleteStage.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::deployments::deploy_stage;
use super::model::{now_iso, AccessLogSettings, ApiDocument, RouteSettings, StageRecord};
use super::patch::Patch;
use super::resource::ApiResource;
use crate::plane::routing::RouteKey;
use crate::GatewayError;

/// CreateStage / UpdateStage members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    /// Name (create only).
    pub stage_name: Option<String>,
    /// Auto-deploy.
    pub auto_deploy: Option<bool>,
    /// Deployment to serve.
    pub deployment_id: Option<String>,
    /// Variables.
    pub stage_variables: Option<BTreeMap<String, String>>,
    /// Default throttling.
    pub default_route_settings: Option<RouteSettings>,
    /// Per-route throttling.
    pub route_settings: Option<BTreeMap<String, RouteSettings>>,
    /// Access logs.
    pub access_log_settings: Option<AccessLogSettings>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
}

fn check_name(name: &str) -> Result<(), GatewayError> {
    let valid = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if !valid {
        return Err(GatewayError::bad_request(format!(
            "Invalid stage name {name}: use $default or [A-Za-z0-9_-]"
        )));
    }
    Ok(())
}

fn check_stage_variables(vars: &BTreeMap<String, String>) -> Result<(), GatewayError> {
    if vars.len() > 100 {
        return Err(GatewayError::bad_request(
            "A stage may have at most 100 stage variables",
        ));
    }
    for (key, value) in vars {
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok || value.chars().count() > 512 {
            return Err(GatewayError::bad_request(format!(
                "Invalid stage variable {key}: names are 1-64 characters of [A-Za-z0-9_], values at most 512 characters"
            )));
        }
    }
    Ok(())
}

fn check_route_settings(settings: &RouteSettings) -> Result<(), GatewayError> {
    if settings.throttling_burst_limit.is_some_and(|b| b < 0)
        || settings
            .throttling_rate_limit
            .is_some_and(|r| r < 0.0 || !r.is_finite())
    {
        return Err(GatewayError::bad_request(
            "Throttling limits must not be negative",
        ));
    }
    Ok(())
}

fn check_per_route_settings(
    settings: &BTreeMap<String, RouteSettings>,
) -> Result<(), GatewayError> {
    for (key, s) in settings {
        RouteKey::parse(key)?;
        check_route_settings(s)?;
    }
    Ok(())
}

/// A stage record with defaults.
pub(crate) fn new_stage(name: &str, now: &str) -> StageRecord {
    StageRecord {
        stage_name: name.to_owned(),
        auto_deploy: false,
        deployment_id: None,
        stage_variables: BTreeMap::new(),
        default_route_settings: Some(RouteSettings {
            detailed_metrics_enabled: Some(false),
            ..Default::default()
        }),
        route_settings: BTreeMap::new(),
        access_log_settings: None,
        description: None,
        created_date: now.to_owned(),
        last_updated_date: now.to_owned(),
        tags: BTreeMap::new(),
        api_gateway_managed: false,
        last_deployment_status_message: None,
    }
}

/// Applies the members a request carries to `stage`.
fn apply(
    doc: &ApiDocument,
    stage: &mut StageRecord,
    input: StageInput,
) -> Result<(), GatewayError> {
    stage
        .deployment_id
        .patch_checked(input.deployment_id, |id| {
            if !doc.deployments.contains_key(id) {
                return Err(GatewayError::bad_request(format!(
                    "Invalid deployment identifier specified {id}"
                )));
            }
            Ok(())
        })?;
    stage.auto_deploy.patch(input.auto_deploy);
    stage
        .stage_variables
        .patch_checked(input.stage_variables, check_stage_variables)?;
    stage
        .default_route_settings
        .patch_checked(input.default_route_settings, check_route_settings)?;
    stage
        .route_settings
        .patch_checked(input.route_settings, check_per_route_settings)?;
    stage.access_log_settings.patch(input.access_log_settings);
    stage.description.patch(input.description);
    stage.tags.patch(input.tags);
    stage.last_updated_date = now_iso();
    Ok(())
}

impl ApiResource for StageRecord {
    const NAME: &'static str = "Stage";
    type Input = StageInput;

    fn items(doc: &ApiDocument) -> &BTreeMap<String, Self> {
        &doc.stages
    }

    fn items_mut(doc: &mut ApiDocument) -> &mut BTreeMap<String, Self> {
        &mut doc.stages
    }

    /// CreateStage (an auto-deploying stage is deployed at once).
    fn create(doc: &mut ApiDocument, input: StageInput) -> Result<Self, GatewayError> {
        let name = input
            .stage_name
            .clone()
            .ok_or_else(|| GatewayError::bad_request("StageName is required"))?;
        check_name(&name)?;
        if doc.stages.contains_key(&name) {
            return Err(GatewayError::Conflict(format!(
                "Unable to create stage {name}: a stage with that name already exists"
            )));
        }
        let mut stage = new_stage(&name, &now_iso());
        apply(doc, &mut stage, input)?;
        let auto = stage.auto_deploy;
        doc.stages.insert(name.clone(), stage);
        if auto {
            deploy_stage(doc, &name, true, None);
        }
        Ok(doc.stages[&name].clone())
    }

    /// UpdateStage (turning auto-deploy on deploys at once).
    fn update(doc: &mut ApiDocument, name: &str, input: StageInput) -> Result<Self, GatewayError> {
        let mut stage = Self::find(doc, name)?.clone();
        let was_auto = stage.auto_deploy;
        apply(doc, &mut stage, input)?;
        let now_auto = stage.auto_deploy && !was_auto;
        doc.stages.insert(name.to_owned(), stage);
        if now_auto {
            deploy_stage(doc, name, true, None);
        }
        Ok(doc.stages[name].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{new_api, registry};
    use super::*;
    use nubo_wire::Scope;

    #[tokio::test]
    async fn stage_variables_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let scope = Scope::default();
        let id = new_api(&api, &scope, "s").await;
        let stage = |vars: &[(&str, &str)]| {
            api.create::<StageRecord>(
                &scope,
                &id,
                StageInput {
                    stage_name: Some("s".into()),
                    stage_variables: Some(
                        vars.iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                    ),
                    ..Default::default()
                },
            )
        };
        assert!(stage(&[("bad-key", "v")]).await.is_err());
        assert!(stage(&[("good_key", "v")]).await.is_ok());
    }
}
