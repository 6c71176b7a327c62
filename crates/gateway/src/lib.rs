//! The API Gateway layer: HTTP APIs and Function URLs, from definition to response.
//!
//! One home per feature:
//! - [`http_api`]: the apigatewayv2 resources users define (apis, routes, integrations, stages,
//!   deployments — one module each, with their wire input types), OpenAPI import/export, and the
//!   registry that writes them through to the store and compiles the data plane;
//! - [`plane`]: what requests read — per-stage compiled snapshots, the route table
//!   ([`plane::routing`]), integration targets, token buckets, CORS policies;
//! - [`pipeline`]: a request as named phases, `select_stage → preflight → match_route →
//!   authorize → throttle → quota → integrate → map_response → cors → log`, with the 1.0/2.0
//!   events, response mapping and the gateway's own rejections;
//! - [`function_url`]: Function URL configs and their compiled form (served by the same phases);
//! - [`access_log`]: `$context` formats, lines to the shared `LogWriter`.
//!
//! APIs and Function URLs are scoped by (account, region); their ids are unique across scopes.
//! Does not own: the control APIs' routes and error rendering (the edge), how a function runs (it
//! calls `nubo_lambda::Invoker`), JWT and Lambda authorizers (a later issue) or WebSocket APIs.
//! IAM authorization (`AWS_IAM` routes and Function URLs) verifies SigV4 against the
//! `nubo_identity::IdentityRegistry` the composition root hands over.
//! The request path reads only in-memory snapshots: no SQL, no files.

pub mod access_log;
pub mod error;
pub mod function_url;
pub mod http_api;
pub mod pipeline;
pub mod plane;
pub mod rest_api;
pub mod websocket;
mod write_through;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use nubo_identity::IdentityRegistry;
use nubo_lambda::Invoker;
use nubo_observe::LogWriter;
use nubo_store::Documents;
use nubo_wire::Scope;

pub use error::GatewayError;
pub use function_url::UrlRegistry;
pub use http_api::ApiRegistry;
pub use pipeline::Ingress;
pub use rest_api::RestRegistry;

/// Errors inside streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Bodies the gateway answers with (buffered, or streamed from an HTTP_PROXY backend).
pub type GatewayBody = UnsyncBoxBody<Bytes, BoxError>;
/// A gateway response.
pub type GatewayResponse = http::Response<GatewayBody>;

/// How the gateway is reached and who it is.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Account and region.
    pub scope: Scope,
    /// The port Nubo listens on (for `apiEndpoint` and Function URLs).
    pub port: u16,
    /// Requests and latency per API, stage and route at `/_nubo/metrics` (`None`: not kept).
    pub api_metrics: Option<std::sync::Arc<nubo_observe::ApiMetrics>>,
    /// The base of the URLs handed out, path-style (`{base}/_api/{id}`, `{base}/_url/{id}/`):
    /// they resolve everywhere, unlike `*.localhost` hosts (`None`: the host forms).
    pub public_url: Option<String>,
    /// WebSocket APIs' limits.
    pub sockets: websocket::SocketLimits,
    /// A span per data-plane request (disabled: none).
    pub tracer: nubo_observe::Tracer,
    /// Meters requests per API, stage and key (`None`: not metered).
    pub usage: Option<std::sync::Arc<nubo_observe::UsageMeter>>,
}

/// Which gateway resource a `Host` names: `{id}.execute-api[.{region}].localhost[:port]` or
/// `{id}.lambda-url[.{region}].localhost[:port]`. Ids are unique across regions, so the region
/// (which the endpoints Nubo hands out carry, as AWS's do) only has to agree with the resource's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTarget<'a> {
    /// An HTTP API.
    Api {
        /// The API id.
        id: &'a str,
        /// The region the host names, if any.
        region: Option<&'a str>,
    },
    /// A Function URL.
    Url {
        /// The URL id.
        id: &'a str,
        /// The region the host names, if any.
        region: Option<&'a str>,
    },
}

impl<'a> HostTarget<'a> {
    /// Parses a `Host` header value.
    pub fn parse(host: &'a str) -> Option<Self> {
        let name = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        let name = name.strip_suffix(".localhost")?;
        let (id, rest) = name.split_once('.')?;
        if id.is_empty() {
            return None;
        }
        let (service, region) = match rest.split_once('.') {
            Some((service, region)) if !region.is_empty() && !region.contains('.') => {
                (service, Some(region))
            }
            Some(_) => return None,
            None => (rest, None),
        };
        match service {
            "execute-api" => Some(Self::Api { id, region }),
            "lambda-url" => Some(Self::Url { id, region }),
            _ => None,
        }
    }
}

/// The gateway: control registries plus the data plane's shared parts.
pub struct Gateway {
    apis: ApiRegistry,
    rest: RestRegistry,
    usage: Arc<rest_api::keys::UsageRegistry>,
    urls: Arc<UrlRegistry>,
    invoker: Arc<Invoker>,
    http: Client<HttpConnector, GatewayBody>,
    access_log: access_log::AccessLogSink,
    account_bucket: plane::throttle::TokenBucket,
    config: GatewayConfig,
    identity: Arc<IdentityRegistry>,
    /// JWT authorizers' issuer keys.
    jwks: http_api::jwt::KeyCache,
    sockets: Arc<websocket::Sockets>,
}

impl Gateway {
    /// Loads APIs and Function URLs from the store (after the functions); access logs go to
    /// `logs`; `AWS_IAM` callers are verified against `identity`. Must run inside a tokio runtime.
    pub async fn start(
        documents: Arc<dyn Documents>,
        logs: LogWriter,
        invoker: Arc<Invoker>,
        identity: Arc<IdentityRegistry>,
        config: GatewayConfig,
    ) -> Result<Arc<Self>, GatewayError> {
        let apis = ApiRegistry::load(documents.clone(), &config.scope).await?;
        let rest = RestRegistry::load(documents.clone(), &config.scope).await?;
        let usage =
            Arc::new(rest_api::keys::UsageRegistry::load(documents.clone(), &config.scope).await?);
        let flushed = Arc::downgrade(&usage);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(rest_api::keys::FLUSH_EVERY);
            loop {
                every.tick().await;
                let Some(usage) = flushed.upgrade() else {
                    return;
                };
                if let Err(e) = usage.flush().await {
                    tracing::warn!(error = %e, "could not write usage-plan counts; retrying");
                }
            }
        });
        let sockets = websocket::Sockets::start(
            Arc::new(websocket::connections::DocumentConnections::new(
                documents.clone(),
            )),
            invoker.clone(),
            config.sockets.clone(),
        )
        .await;
        let urls = Arc::new(UrlRegistry::load(documents, invoker.registry().clone()).await?);
        let listener_urls = urls.clone();
        invoker.registry().on_change(move |change| {
            if !change.exists {
                listener_urls.forget_deleted(change.scope, change.name)
            }
        });
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(Arc::new(Self {
            apis,
            rest,
            usage,
            urls,
            invoker,
            http,
            access_log: access_log::AccessLogSink::new(logs),
            account_bucket: plane::throttle::TokenBucket::new(
                plane::throttle::ACCOUNT_RATE,
                plane::throttle::ACCOUNT_BURST,
            ),
            config,
            identity,
            jwks: http_api::jwt::KeyCache::default(),
            sockets,
        }))
    }

    /// Requests and latency per API and stage (CloudWatch's `AWS/ApiGateway`), when kept.
    pub fn api_metrics(&self) -> Option<&std::sync::Arc<nubo_observe::ApiMetrics>> {
        self.config.api_metrics.as_ref()
    }

    /// API definitions.
    pub fn apis(&self) -> &ApiRegistry {
        &self.apis
    }

    /// REST API definitions.
    pub fn rest(&self) -> &RestRegistry {
        &self.rest
    }

    /// API keys and usage plans.
    pub fn usage(&self) -> &rest_api::keys::UsageRegistry {
        &self.usage
    }

    /// Writes the usage-plan counts not yet written (at shutdown).
    pub async fn flush_usage(&self) {
        if let Err(e) = self.usage.flush_exact().await {
            tracing::error!(error = %e, "could not write usage-plan counts at shutdown");
        }
    }

    /// Whether an id names an HTTP API (REST API ids must not clash with them).
    pub fn is_http_api(&self, id: &str) -> bool {
        self.apis.plane().contains_key(id)
    }

    /// Function URL configs.
    pub fn urls(&self) -> &UrlRegistry {
        &self.urls
    }

    /// `apiEndpoint` of an API in `scope`: `http://{api-id}.execute-api.{region}.localhost:{port}`.
    /// With a public URL: `{public_url}/_api/{api-id}`.
    pub fn api_endpoint(&self, scope: &Scope, api_id: &str) -> String {
        if let Some(base) = &self.config.public_url {
            return format!("{}/_api/{api_id}", base.trim_end_matches('/'));
        }
        format!("http://{}", self.api_domain(scope, api_id))
    }

    /// The host an API's events name as `domainName`, however the request reached it:
    /// `{api-id}.execute-api.{region}.localhost:{port}` (AWS's events carry the API's own host).
    pub fn api_domain(&self, scope: &Scope, api_id: &str) -> String {
        format!(
            "{api_id}.execute-api.{}.localhost:{}",
            scope.region, self.config.port
        )
    }

    /// `apiEndpoint` of a WebSocket API: `ws://{api-id}.execute-api.{region}.localhost:{port}`.
    /// With a public URL: `ws://{public host}/_api/{api-id}` (`wss://` for an `https://` base).
    pub fn socket_endpoint(&self, scope: &Scope, api_id: &str) -> String {
        if let Some(base) = &self.config.public_url {
            let base = base.trim_end_matches('/');
            let base = match base.split_once("://") {
                Some(("https", rest)) => format!("wss://{rest}"),
                Some((_, rest)) => format!("ws://{rest}"),
                None => format!("ws://{base}"),
            };
            return format!("{base}/_api/{api_id}");
        }
        format!(
            "ws://{api_id}.execute-api.{}.localhost:{}",
            scope.region, self.config.port
        )
    }

    /// `FunctionUrl` of a URL in `scope`: `http://{url-id}.lambda-url.{region}.localhost:{port}/`.
    /// With a public URL: `{public_url}/_url/{url-id}/`.
    pub fn function_url(&self, scope: &Scope, url_id: &str) -> String {
        if let Some(base) = &self.config.public_url {
            return format!("{}/_url/{url_id}/", base.trim_end_matches('/'));
        }
        format!("http://{}/", self.url_domain(scope, url_id))
    }

    /// The host a Function URL's events name as `domainName`:
    /// `{url-id}.lambda-url.{region}.localhost:{port}`.
    pub fn url_domain(&self, scope: &Scope, url_id: &str) -> String {
        format!(
            "{url_id}.lambda-url.{}.localhost:{}",
            scope.region, self.config.port
        )
    }

    /// The scope of a data-plane resource (an API or a Function URL id), for the host a
    /// `/_api/{id}` or `/_url/{id}` request stands for; the server's default for unknown ids.
    pub fn data_plane_scope(&self, id: &str) -> Scope {
        if let Some(api) = self.apis.plane().get(id) {
            return api.scope.clone();
        }
        if let Some(api) = self.rest.plane().get(id) {
            return api.scope.clone();
        }
        if let Some(url) = self.urls.by_url_id(id) {
            return url.scope.clone();
        }
        self.config.scope.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_apis_and_urls() {
        assert_eq!(
            HostTarget::parse("abc123.execute-api.localhost:4750"),
            Some(HostTarget::Api {
                id: "abc123",
                region: None
            })
        );
        assert_eq!(
            HostTarget::parse("abc123.execute-api.eu-west-1.localhost:4750"),
            Some(HostTarget::Api {
                id: "abc123",
                region: Some("eu-west-1")
            })
        );
        assert_eq!(
            HostTarget::parse("u1.lambda-url.localhost"),
            Some(HostTarget::Url {
                id: "u1",
                region: None
            })
        );
        assert_eq!(
            HostTarget::parse("u1.lambda-url.us-east-1.localhost"),
            Some(HostTarget::Url {
                id: "u1",
                region: Some("us-east-1")
            })
        );
        assert_eq!(HostTarget::parse("localhost:4750"), None);
        assert_eq!(HostTarget::parse("a.b.execute-api.localhost"), None);
        assert_eq!(HostTarget::parse("a.execute-api.x.y.localhost"), None);
        assert_eq!(HostTarget::parse(".execute-api.localhost"), None);
    }
}
