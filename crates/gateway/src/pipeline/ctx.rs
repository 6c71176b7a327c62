//! What the pipeline knows about one request, filled phase by phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Method};
use time::OffsetDateTime;

use crate::function_url::CompiledUrl;
use crate::plane::{CompiledApi, CompiledStage};

/// What the edge knows about a request before the gateway sees it.
#[derive(Debug, Clone)]
pub struct Ingress {
    /// TCP peer address.
    pub source_ip: String,
    /// Request id minted at ingress.
    pub request_id: String,
    /// `Host` as sent.
    pub domain_name: String,
    /// Arrival time.
    pub received: OffsetDateTime,
    /// The span the request runs under (the edge's), when tracing; the gateway's own span
    /// replaces it for the integration.
    pub trace: Option<nubo_observe::TraceContext>,
}

/// `select_stage`: the resource and stage a request is for.
#[derive(Debug, Clone)]
pub enum Selected {
    /// An HTTP API's stage.
    Api {
        /// The API.
        api: Arc<CompiledApi>,
        /// The stage.
        stage: Arc<CompiledStage>,
    },
    /// A Function URL (its own `$default` stage and route).
    Url(Arc<CompiledUrl>),
}

/// `match_route`: the route a request matched.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// Index into the stage's routes.
    pub index: u32,
    /// Path parameters, percent-decoded.
    pub path_parameters: Vec<(String, String)>,
}

/// `authorize`: who the caller is, for the integration (`requestContext.authorizer`) and the
/// access log.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A SigV4-signed caller of an `AWS_IAM` route or Function URL.
    Iam(IamCaller),
    /// What a Lambda authorizer decided (`principalId`, `context`).
    Custom(Arc<crate::rest_api::authorizer::Decision>),
    /// A verified JWT's claims and scopes.
    Jwt(Arc<crate::http_api::jwt::Verified>),
}

/// What API Gateway reports of an IAM caller (`requestContext.authorizer.iam` in 2.0 events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamCaller {
    /// The access key the request was signed with.
    pub access_key: String,
    /// The caller's account.
    pub account_id: String,
    /// `aws:userid` (`AIDA…`, `AROA…:session`, the account id for its root).
    pub user_id: String,
    /// The caller's ARN.
    pub user_arn: String,
}

/// What the integration did, for the access log.
#[derive(Debug, Clone, Default)]
pub struct IntegrationReport {
    /// How long the integration took.
    pub latency: Option<Duration>,
    /// The status the integration answered with (200 for a Lambda that ran).
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One request as the phases see it.
#[derive(Debug)]
pub struct RequestCtx {
    /// Facts from the edge, including the request id minted at ingress.
    pub ingress: Ingress,
    /// When the gateway started on the request.
    pub started: Instant,
    /// The method.
    pub method: Method,
    /// The path the resource sees (`/{stage}/…`, or `/…` for `$default`).
    pub path: String,
    /// Where the path the routes see starts in `path` (after a named stage's prefix).
    pub route_path_start: usize,
    /// `User-Agent`, kept for the access log and the event.
    pub user_agent: Option<HeaderValue>,
    /// `Origin`, kept for CORS on the way out.
    pub origin: Option<HeaderValue>,
    /// `select_stage`.
    pub selected: Option<Selected>,
    /// `match_route`.
    pub route: Option<RouteMatch>,
    /// `authorize`.
    pub principal: Option<Principal>,
    /// `quota`: the API key whose usage plan the request counts against (REST APIs).
    pub usage_plan_key: Option<String>,
    /// `integrate`.
    pub integration: IntegrationReport,
}

impl RequestCtx {
    /// A request at ingress.
    pub fn new<B>(ingress: Ingress, path: &str, request: &http::Request<B>) -> Self {
        let headers = request.headers();
        Self {
            ingress,
            started: Instant::now(),
            method: request.method().clone(),
            path: path.to_owned(),
            route_path_start: 0,
            user_agent: headers.get(http::header::USER_AGENT).cloned(),
            origin: headers.get(http::header::ORIGIN).cloned(),
            selected: None,
            route: None,
            principal: None,
            usage_plan_key: None,
            integration: IntegrationReport::default(),
        }
    }

    /// The path the routes see: without a named stage's prefix, `/` at least.
    pub fn route_path(&self) -> &str {
        let rest = &self.path[self.route_path_start..];
        if rest.is_empty() {
            "/"
        } else {
            rest
        }
    }

    /// The stage `select_stage` chose, for an HTTP API.
    pub fn stage(&self) -> Option<&Arc<CompiledStage>> {
        match &self.selected {
            Some(Selected::Api { stage, .. }) => Some(stage),
            _ => None,
        }
    }
}
