//! The edge: one listener, every service.
//!
//! Owns HTTP serving with its connection limits (`server.rs`), the dispatch order of `DESIGN.md`
//! (SigV4 credential scope → Host → path prefix → missing-signature error), the one place every
//! signed request is verified, authenticated and authorized ([`auth`]), the service registry (one
//! line per AWS service, in `services.rs`; signed requests are routed by signing name, then
//! method + path, `X-Amz-Target` or `Action`), the per-request [`RequestScope`], the
//! botocore-shaped Lambda API ([`lambda_api`]), the apigatewayv2 control API ([`apigw_api`]), IAM
//! and STS (`iam_api`, `sts_api`), SQS (`sqs_api`, json and query), EventBridge (`events_api`), S3 (`s3_api`), CloudWatch Logs (`logs_api`), CloudWatch metrics (`monitoring_api`), the identity registry's store ([`identity_store`]), Nubo's own
//! paths ([`own`]), the hand-off of gateway data-plane requests, and the single place where errors
//! become wire responses ([`response`], rendering through `nubo_wire::protocol`).
//! Does not own business rules: handlers translate wire shapes to the lambda layer and back.

pub mod apigw_api;
pub mod auth;
mod connections_api;
mod console;
mod dispatch;
mod dynamodb_api;
mod events_api;
mod iam_api;
pub mod identity_store;
pub mod lambda_api;
mod logs_api;
mod monitoring_api;
pub mod own;
mod query;
mod registry;
pub mod response;
mod s3_api;
pub mod scope;
mod server;
mod services;
mod sqs_api;
mod sts_api;

use std::sync::Arc;

use nubo_identity::IdentityRegistry;
use nubo_lambda::{AsyncInvoker, Invoker};

pub use dispatch::router;
pub use own::CodeUrls;
pub use scope::RequestScope;
pub use server::ServeOptions;

/// Everything the edge needs to answer requests.
pub struct EdgeState {
    /// Runs invocations and owns the registry.
    pub invoker: Arc<Invoker>,
    /// Accepts and delivers `Event` invocations.
    pub async_invoker: Arc<AsyncInvoker>,
    /// Buckets and objects (S3).
    pub objects: Arc<nubo_objects::ObjectStore>,
    /// HTTP APIs and Function URLs: definitions and data plane.
    pub gateway: Arc<nubo_gateway::Gateway>,
    /// Every metric, rendered at `/_nubo/metrics`.
    pub metrics: Arc<nubo_observe::MetricsRegistry>,
    /// Access keys, users, roles and policies: who may do what.
    pub identity: Arc<IdentityRegistry>,
    /// SQS queues and their messages.
    pub queues: Arc<nubo_queues::QueueRegistry>,
    /// DynamoDB's tables, items and streams.
    pub tables: Arc<nubo_tables::Tables>,
    /// Lambda's event-source mappings and their pollers.
    pub mappings: Arc<nubo_lambda::EventSourceMappings>,
    /// EventBridge rules and their scheduler.
    pub events: Arc<nubo_events::EventRules>,
    /// Log groups, streams and events (CloudWatch Logs).
    pub logs: Arc<dyn nubo_store::Logs>,
    /// Per-function metrics and their minute history (CloudWatch's `AWS/Lambda`).
    pub function_metrics: Arc<nubo_observe::FunctionMetrics>,
    /// Metered usage, reported at `/_nubo/usage`.
    pub usage: Arc<nubo_observe::UsageMeter>,
    /// Signs and checks GetFunction's `Code.Location` URLs.
    pub code_urls: CodeUrls,
    /// With a token, `/_nubo/metrics` wants `Authorization: Bearer <token>`; without, loopback.
    pub metrics_token: Option<String>,
    /// A span per request (disabled: none), exported over OTLP.
    pub tracer: nubo_observe::Tracer,
}

/// Serves until `shutdown` resolves (see [`ServeOptions`] for the connection limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<EdgeState>,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve_connections(listener, router(state), options, shutdown).await
}

/// The edge served on listeners inside environments' own networks (their `AWS_ENDPOINT_URL`).
///
/// Requests through it carry [`FromEnvironment`]: their peer address is the environment's own
/// loopback, which must never pass for the host's.
pub struct EnvironmentEndpointServer {
    app: axum::Router,
}

/// Marks a request that came from inside an execution environment.
#[derive(Debug, Clone, Copy)]
pub struct FromEnvironment;

impl EnvironmentEndpointServer {
    /// The router, built once for every environment.
    pub fn new(state: Arc<EdgeState>) -> Self {
        Self {
            app: router(state).layer(axum::Extension(FromEnvironment)),
        }
    }
}

impl nubo_lambda::EndpointServer for EnvironmentEndpointServer {
    fn serve(
        &self,
        listener: tokio::net::TcpListener,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let app = self.app.clone();
        // The same connection handling as the main listener (header timeout, connection cap):
        // a function is as untrusted a client as any.
        Box::pin(async move {
            let _ = server::serve_connections(
                listener,
                app,
                ServeOptions::default(),
                std::future::pending(),
            )
            .await;
        })
    }
}
