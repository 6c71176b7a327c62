//! The API Gateway layer: HTTP APIs and Function URLs, from definition to response.
//!
//! Owns the API model ([`model`]: api, route, integration, stage, deployment) and its rules
//! ([`apis`]: validation, auto-deploy, write-through to the store), OpenAPI 3 import/export
//! ([`openapi`]), the per-stage compiled route tables swapped atomically on deploy ([`plane`],
//! [`routing`]), throttling token buckets ([`throttle`]), Lambda proxy events ([`events`]) and
//! response mapping ([`mapping`]) for payload 1.0 and 2.0, CORS ([`cors`]), access logs
//! ([`access_log`]), Function URL configs ([`function_url`]) and the request pipeline
//! ([`pipeline`]: `select_stage → preflight → match_route → throttle → integrate → map_response → log`).
//!
//! Does not own: wire shapes of the control APIs (the edge parses and renders them), how a
//! function runs (it calls `nubo_lambda::Invoker`), authorizers (a later issue) or WebSocket APIs.
//! The request path reads only in-memory snapshots: no SQL, no files.

pub mod access_log;
pub mod error;
pub mod function_url;
pub mod http_api;
pub mod pipeline;
pub mod plane;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use nubo_lambda::Invoker;
use nubo_observe::LogWriter;
use nubo_store::Documents;
use nubo_wire::Scope;

pub use http_api::ApiRegistry;
pub use error::GatewayError;
pub use function_url::UrlRegistry;
pub use pipeline::Ingress;

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
}

/// Which gateway resource a `Host` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTarget<'a> {
    /// `{api-id}.execute-api.localhost[:port]`.
    Api(&'a str),
    /// `{url-id}.lambda-url.localhost[:port]`.
    Url(&'a str),
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
        if let Some(id) = name.strip_suffix(".execute-api.localhost") {
            return (!id.is_empty() && !id.contains('.')).then_some(Self::Api(id));
        }
        if let Some(id) = name.strip_suffix(".lambda-url.localhost") {
            return (!id.is_empty() && !id.contains('.')).then_some(Self::Url(id));
        }
        None
    }
}

/// The gateway: control registries plus the data plane's shared parts.
pub struct Gateway {
    apis: ApiRegistry,
    urls: Arc<UrlRegistry>,
    invoker: Arc<Invoker>,
    http: Client<HttpConnector, GatewayBody>,
    access_log: access_log::AccessLogSink,
    account_bucket: plane::throttle::TokenBucket,
    config: GatewayConfig,
}

impl Gateway {
    /// Loads APIs and Function URLs from the store (after the functions); access logs go to
    /// `logs`. Must run inside a tokio runtime.
    pub async fn start(
        documents: Arc<dyn Documents>,
        logs: LogWriter,
        invoker: Arc<Invoker>,
        config: GatewayConfig,
    ) -> Result<Arc<Self>, GatewayError> {
        let apis = ApiRegistry::load(documents.clone(), config.scope.clone()).await?;
        let urls = Arc::new(UrlRegistry::load(documents, invoker.registry().clone()).await?);
        let listener_urls = urls.clone();
        invoker
            .registry()
            .on_change(move |name| listener_urls.forget_deleted(name));
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(Arc::new(Self {
            apis,
            urls,
            invoker,
            http,
            access_log: access_log::AccessLogSink::new(logs),
            account_bucket: plane::throttle::TokenBucket::new(
                plane::throttle::ACCOUNT_RATE,
                plane::throttle::ACCOUNT_BURST,
            ),
            config,
        }))
    }

    /// API definitions.
    pub fn apis(&self) -> &ApiRegistry {
        &self.apis
    }

    /// Function URL configs.
    pub fn urls(&self) -> &UrlRegistry {
        &self.urls
    }

    /// `apiEndpoint` of an API.
    pub fn api_endpoint(&self, api_id: &str) -> String {
        format!("http://{api_id}.execute-api.localhost:{}", self.config.port)
    }

    /// `FunctionUrl` of a URL id.
    pub fn function_url(&self, url_id: &str) -> String {
        format!("http://{url_id}.lambda-url.localhost:{}/", self.config.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_apis_and_urls() {
        assert_eq!(
            HostTarget::parse("abc123.execute-api.localhost:4750"),
            Some(HostTarget::Api("abc123"))
        );
        assert_eq!(
            HostTarget::parse("u1.lambda-url.localhost"),
            Some(HostTarget::Url("u1"))
        );
        assert_eq!(HostTarget::parse("localhost:4750"), None);
        assert_eq!(HostTarget::parse("a.b.execute-api.localhost"), None);
    }
}
