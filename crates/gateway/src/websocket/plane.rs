//! A WebSocket API's deployed stages, compiled once per deployment like HTTP APIs' route
//! tables: routes by key (`$connect`, `$disconnect`, `$default`, custom), each with its target and
//! whether it is two-way, and the parsed route selection expression.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nubo_wire::Scope;

use super::select::RouteSelection;
use crate::http_api::model::ApiDocument;
use crate::plane::Target;

/// One route of a deployed WebSocket stage.
#[derive(Debug)]
pub struct SocketRoute {
    /// Route id.
    pub route_id: String,
    /// Route key.
    pub route_key: String,
    /// Integration, if the route has a target.
    pub target: Option<Arc<Target>>,
    /// The integration's answer goes back to the client.
    pub two_way: bool,
    /// `$connect` with `AWS_IAM`: the upgrade request is signed (`execute-api`).
    pub aws_iam: bool,
    /// `$connect` with `apiKeyRequired`: the upgrade carries an API key.
    pub api_key_required: bool,
}

/// A deployed stage of a WebSocket API.
#[derive(Debug)]
pub struct SocketStage {
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage_name: String,
    /// The API's account and region.
    pub scope: Scope,
    /// The API's route selection expression.
    pub selection: Option<RouteSelection>,
    /// Routes by key.
    pub routes: HashMap<String, Arc<SocketRoute>>,
    /// Stage variables.
    pub stage_variables: BTreeMap<String, String>,
}

impl SocketStage {
    /// A predefined route (`$connect`, `$disconnect`, `$default`).
    pub fn route(&self, key: &str) -> Option<&Arc<SocketRoute>> {
        self.routes.get(key)
    }

    /// The route a message selects: the key the expression yields, else `$default`.
    pub fn select(&self, message: &[u8]) -> Option<&Arc<SocketRoute>> {
        let key = self.selection.as_ref().and_then(|s| s.select(message));
        key.and_then(|k| self.routes.get(&k).filter(|_| !k.starts_with('$')))
            .or_else(|| self.routes.get("$default"))
    }
}

/// Every deployed stage of a WebSocket API.
pub fn compile(doc: &ApiDocument) -> HashMap<String, Arc<SocketStage>> {
    let mut stages = HashMap::new();
    if doc.api.disable_execute_api_endpoint {
        return stages;
    }
    let selection = RouteSelection::parse(&doc.api.route_selection_expression).ok();
    for stage in doc.stages.values() {
        let Some(deployment) = stage
            .deployment_id
            .as_ref()
            .and_then(|id| doc.deployments.get(id))
        else {
            continue;
        };
        let snapshot = &deployment.snapshot;
        let targets: HashMap<&str, Arc<Target>> = snapshot
            .integrations
            .iter()
            .filter_map(|i| {
                Target::compile(i, &doc.scope).map(|t| (i.integration_id.as_str(), Arc::new(t)))
            })
            .collect();
        let routes = snapshot
            .routes
            .iter()
            .map(|r| {
                let target = r
                    .target
                    .as_deref()
                    .and_then(|t| t.strip_prefix("integrations/"))
                    .and_then(|id| targets.get(id).cloned());
                let route = SocketRoute {
                    route_id: r.route_id.clone(),
                    route_key: r.route_key.clone(),
                    target,
                    two_way: r.two_way(),
                    aws_iam: r.authorization_type == "AWS_IAM",
                    api_key_required: r.api_key_required,
                };
                (r.route_key.clone(), Arc::new(route))
            })
            .collect();
        stages.insert(
            stage.stage_name.clone(),
            Arc::new(SocketStage {
                api_id: doc.api.api_id.clone(),
                stage_name: stage.stage_name.clone(),
                scope: doc.scope.clone(),
                selection: selection.clone(),
                routes,
                stage_variables: stage.stage_variables.clone(),
            }),
        );
    }
    stages
}

#[cfg(test)]
mod tests {
    use crate::http_api::model::{IntegrationRecord, RouteRecord};
    use crate::http_api::routes::RouteResponseInput;
    use crate::http_api::tests::registry;
    use crate::http_api::{ApiInput, IntegrationInput, RouteInput, StageInput};
    use nubo_wire::Scope;

    #[tokio::test]
    async fn a_websocket_api_compiles_to_socket_stages() {
        let dir = tempfile::tempdir().unwrap();
        let apis = registry(dir.path()).await;
        let scope = Scope::default();
        let api = apis
            .create_api(
                &scope,
                ApiInput {
                    name: Some("ws".into()),
                    protocol_type: Some("WEBSOCKET".into()),
                    route_selection_expression: Some("$request.body.action".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let id = api.api_id.as_str();
        let integration: IntegrationRecord = apis
            .create(
                &scope,
                id,
                IntegrationInput {
                    integration_type: Some("AWS_PROXY".into()),
                    integration_uri: Some(
                        "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
                    ),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(integration.payload_format_version, "1.0");
        let target = Some(format!("integrations/{}", integration.integration_id));
        for key in ["$connect", "join", "$default"] {
            let route: RouteRecord = apis
                .create(
                    &scope,
                    id,
                    RouteInput {
                        route_key: Some(key.into()),
                        target: target.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            if key == "join" {
                apis.create_route_response(
                    &scope,
                    id,
                    &route.route_id,
                    RouteResponseInput {
                        route_response_key: Some("$default".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            }
        }
        let bad = apis
            .create::<RouteRecord>(
                &scope,
                id,
                RouteInput {
                    route_key: Some("$nope".into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(bad.is_err());
        apis.create::<crate::http_api::model::StageRecord>(
            &scope,
            id,
            StageInput {
                stage_name: Some("prod".into()),
                auto_deploy: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let plane = apis.plane();
        let compiled = &plane[id];
        assert!(compiled.websocket && compiled.stages.is_empty());
        let stage = &compiled.sockets["prod"];
        assert!(stage.route("$connect").is_some());
        let join = stage.select(br#"{"action":"join"}"#).unwrap();
        assert!(join.two_way && join.route_key == "join");
        assert_eq!(stage.select(b"plain text").unwrap().route_key, "$default");
        // A message cannot select a predefined route by naming it.
        assert_eq!(
            stage.select(br#"{"action":"$connect"}"#).unwrap().route_key,
            "$default"
        );
        assert!(!stage.route("$default").unwrap().two_way);
    }
}
