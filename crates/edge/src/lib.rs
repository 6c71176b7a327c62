//! The edge: one listener, every service.
//!
//! Owns HTTP serving and the dispatch order of `DESIGN.md` (SigV4 credential scope → Host →
//! path prefix → missing-signature error), the service registry (one line per AWS service, in
//! `services.rs`; signed requests are routed by signing name, then method + path, `X-Amz-Target`
//! or `Action`), the per-request [`RequestScope`], the botocore-shaped Lambda API ([`lambda_api`]),
//! the apigatewayv2 control API ([`apigw_api`]), the hand-off of gateway data-plane requests, and
//! the single place where errors become wire responses ([`response`], rendering through
//! `nubo_wire::protocol`).
//! Does not own business rules: handlers translate wire shapes to the lambda layer and back.

pub mod apigw_api;
mod dispatch;
pub mod lambda_api;
mod query;
mod registry;
pub mod response;
pub mod scope;
mod services;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use nubo_lambda::{AsyncInvoker, Invoker};

pub use dispatch::router;
pub use scope::RequestScope;

/// Everything the edge needs to answer requests.
pub struct EdgeState {
    /// Runs invocations and owns the registry.
    pub invoker: Arc<Invoker>,
    /// Accepts and delivers `Event` invocations.
    pub async_invoker: Arc<AsyncInvoker>,
    /// HTTP APIs and Function URLs: definitions and data plane.
    pub gateway: Arc<nubo_gateway::Gateway>,
    /// Every metric, rendered at `/_nubo/metrics`.
    pub metrics: Arc<nubo_observe::MetricsRegistry>,
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<EdgeState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
        Box::pin(async move {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        })
    }
}
