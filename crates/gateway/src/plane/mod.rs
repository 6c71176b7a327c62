//! The data plane's view: every API's deployed stages compiled into immutable route tables.
//!
//! A deploy (or any change to an auto-deployed stage) builds a new [`CompiledApi`] and swaps the
//! whole [`DataPlane`] map behind one pointer; requests clone the `Arc` they find and never see a
//! half-built table. Nothing here touches the disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nubo_wire::Scope;

use crate::http_api::model::{AccessLogSettings, ApiDocument, RouteSettings};

pub mod cors;
pub mod routing;
pub mod target;
pub mod throttle;

pub use target::{lambda_function, LambdaTarget, Target};

use crate::http_api::jwt::CompiledJwt;
use crate::rest_api::authorizer::CompiledAuthorizer;
use cors::CorsPolicy;
use routing::{RouteKey, RouteTable};
use throttle::TokenBucket;

/// One route of a deployed stage.
#[derive(Debug)]
pub struct CompiledRoute {
    /// Route id.
    pub route_id: String,
    /// Route key as written.
    pub route_key: String,
    /// Parsed key.
    pub key: RouteKey,
    /// Integration, if the route has a target.
    pub target: Option<Arc<Target>>,
    /// The route's own throttle (`routeSettings[routeKey]`), else the stage's applies.
    pub bucket: Option<TokenBucket>,
    /// `authorizationType: AWS_IAM`: callers sign (SigV4, `execute-api`) and need
    /// `execute-api:Invoke`.
    pub aws_iam: bool,
    /// REST APIs: `apiKeyRequired` (the `quota` phase checks `x-api-key`).
    pub api_key_required: bool,
    /// A Lambda authorizer (`authorizationType: CUSTOM`).
    pub custom: Option<Arc<crate::rest_api::authorizer::CompiledAuthorizer>>,
    /// HTTP APIs: a JWT authorizer (`authorizationType: JWT`) and the route's scopes.
    pub jwt: Option<(Arc<crate::http_api::jwt::CompiledJwt>, Vec<String>)>,
}

impl CompiledRoute {
    /// The path template for 1.0's `resource` (`$default` for the default route).
    pub fn resource(&self) -> &str {
        match &self.key {
            RouteKey::Default => "$default",
            RouteKey::Path { path, .. } => path,
        }
    }
}

/// A deployed stage.
#[derive(Debug)]
pub struct CompiledStage {
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage_name: String,
    /// Route table; indices point into `routes`.
    pub table: RouteTable,
    /// Routes.
    pub routes: Vec<CompiledRoute>,
    /// Stage variables.
    pub stage_variables: BTreeMap<String, String>,
    /// CORS, if the deployment had a configuration.
    pub cors: Option<CorsPolicy>,
    /// `defaultRouteSettings` throttle.
    pub default_bucket: Option<TokenBucket>,
    /// Access logging.
    pub access_log: Option<AccessLogSettings>,
    /// REST APIs with `apiKeySource: AUTHORIZER`: the key is the authorizer's
    /// `usageIdentifierKey`, not `x-api-key`.
    pub api_key_from_authorizer: bool,
}

fn bucket(
    settings: Option<&RouteSettings>,
    inherit: Option<&RouteSettings>,
) -> Option<TokenBucket> {
    let settings = settings?;
    let burst = settings
        .throttling_burst_limit
        .or(inherit.and_then(|s| s.throttling_burst_limit));
    let rate = settings
        .throttling_rate_limit
        .or(inherit.and_then(|s| s.throttling_rate_limit));
    if burst.is_none() && rate.is_none() {
        return None;
    }
    Some(TokenBucket::new(
        rate.unwrap_or(throttle::ACCOUNT_RATE),
        burst.map(|b| b as f64).unwrap_or(throttle::ACCOUNT_BURST),
    ))
}

/// Every deployed stage of one API.
#[derive(Debug, Default)]
pub struct CompiledApi {
    /// The account and region the API lives in.
    pub scope: Scope,
    /// The API's name (CloudWatch's `ApiName` dimension).
    pub name: String,
    /// Stages by name.
    pub stages: HashMap<String, Arc<CompiledStage>>,
    /// A WebSocket API (its requests are upgrades, served by `crate::websocket`).
    pub websocket: bool,
    /// A WebSocket API's stages by name (its `stages` stay empty).
    pub sockets: HashMap<String, Arc<crate::websocket::plane::SocketStage>>,
}

impl CompiledApi {
    /// Compiles every stage that has a deployment.
    pub fn compile(doc: &ApiDocument) -> Self {
        let scope = &doc.scope;
        let mut stages = HashMap::new();
        if doc.is_websocket() {
            return Self {
                scope: scope.clone(),
                name: doc.api.name.clone(),
                stages,
                websocket: true,
                sockets: crate::websocket::plane::compile(doc),
            };
        }
        if doc.api.disable_execute_api_endpoint {
            return Self {
                scope: scope.clone(),
                name: doc.api.name.clone(),
                stages,
                websocket: false,
                sockets: HashMap::new(),
            };
        }
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
                    Target::compile(i, scope).map(|t| (i.integration_id.as_str(), Arc::new(t)))
                })
                .collect();
            let jwts: HashMap<&str, Arc<CompiledJwt>> = snapshot
                .authorizers
                .iter()
                .filter_map(|a| {
                    CompiledJwt::compile(a).map(|j| (a.authorizer_id.as_str(), Arc::new(j)))
                })
                .collect();
            let customs: HashMap<&str, Arc<CompiledAuthorizer>> = snapshot
                .authorizers
                .iter()
                .filter_map(|a| {
                    CompiledAuthorizer::compile_http(a, scope)
                        .map(|c| (a.authorizer_id.as_str(), Arc::new(c)))
                })
                .collect();
            let routes: Vec<CompiledRoute> = snapshot
                .routes
                .iter()
                .filter_map(|r| {
                    let key = RouteKey::parse(&r.route_key).ok()?;
                    let target = r
                        .target
                        .as_deref()
                        .and_then(|t| t.strip_prefix("integrations/"))
                        .and_then(|id| targets.get(id).cloned());
                    Some(CompiledRoute {
                        route_id: r.route_id.clone(),
                        route_key: r.route_key.clone(),
                        key,
                        target,
                        bucket: bucket(
                            stage.route_settings.get(&r.route_key),
                            stage.default_route_settings.as_ref(),
                        ),
                        aws_iam: r.authorization_type == "AWS_IAM",
                        api_key_required: false,
                        custom: (r.authorization_type == "CUSTOM")
                            .then(|| customs.get(r.authorizer_id.as_deref()?).cloned())
                            .flatten(),
                        jwt: (r.authorization_type == "JWT")
                            .then(|| {
                                let jwt = jwts.get(r.authorizer_id.as_deref()?)?.clone();
                                Some((jwt, r.authorization_scopes.clone().unwrap_or_default()))
                            })
                            .flatten(),
                    })
                })
                .collect();
            let table = RouteTable::build(routes.iter().map(|r| &r.key));
            stages.insert(
                stage.stage_name.clone(),
                Arc::new(CompiledStage {
                    api_id: doc.api.api_id.clone(),
                    stage_name: stage.stage_name.clone(),
                    table,
                    routes,
                    stage_variables: stage.stage_variables.clone(),
                    cors: snapshot.cors.as_ref().map(CorsPolicy::from),
                    default_bucket: bucket(stage.default_route_settings.as_ref(), None),
                    access_log: stage
                        .access_log_settings
                        .clone()
                        .filter(|s| s.format.is_some()),
                    api_key_from_authorizer: false,
                }),
            );
        }
        Self {
            scope: scope.clone(),
            name: doc.api.name.clone(),
            stages,
            websocket: false,
            sockets: HashMap::new(),
        }
    }
}

/// Every API's compiled form, swapped as a whole.
pub type DataPlane = HashMap<String, Arc<CompiledApi>>;
