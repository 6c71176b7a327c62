//! The request pipeline as named phases (ARCHITECTURE.md draws the chart):
//!
//! ```text
//! select_stage → preflight → match_route → authorize → throttle → quota → integrate → map_response → cors → log
//! ```
//!
//! Each phase is a function that reads and fills the typed [`RequestCtx`] (request id minted at
//! ingress, stage, route match, principal slot, usage-plan key slot, integration report) and
//! returns `Result<_, Reject>`; a [`Reject`] becomes the gateway's answer in one place. HTTP APIs
//! and Function URLs run the same phases: a Function URL selects its config instead of a stage,
//! has only its `$default` route, and is authorized by its `AuthType`.
//!
//! Everything here reads the compiled [`DataPlane`](crate::plane::DataPlane) snapshot and the
//! compiled Function URL configs; the only I/O is the integration itself.

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::{BoxError, Gateway, GatewayBody, GatewayResponse, HostTarget};

pub mod ctx;
mod custom;
pub mod events;
mod http_mapped;
mod iam;
mod integrate;
mod jwt;
pub mod mapping;
pub mod phases;
pub mod reject;

pub use ctx::{Ingress, RequestCtx};
pub use integrate::{map_response, MAX_PAYLOAD_BYTES};
pub use reject::{full_body, message, Endpoint, Reject};

impl Gateway {
    /// A data-plane request to the HTTP API or Function URL `target` names. `path` is the path the
    /// resource sees: for an API `/{stage}/…` or `/…` for the `$default` stage (the Host form's
    /// full path, or what follows `/_api/{api-id}`).
    pub async fn handle<B>(
        &self,
        target: HostTarget<'_>,
        path: &str,
        request: http::Request<B>,
        ingress: Ingress,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // A WebSocket API: the handshake and the session (`crate::websocket`).
        if let HostTarget::Api { id, region } = target {
            if let Some(api) = self.apis.plane().get(id).filter(|api| api.websocket) {
                let api = api.clone();
                if region.is_some_and(|r| r != api.scope.region) {
                    return Reject::NotFound.into_response(Endpoint::HttpApi);
                }
                return self.upgrade_socket(&api, path, request, ingress).await;
            }
        }
        let request = request.map(|body| body.map_err(Into::into).boxed_unsync());
        let mut ctx = RequestCtx::new(ingress, path, &request);
        let span = phases::trace_start(&mut ctx, &self.config.tracer);
        let response = self.route(&mut ctx, target, request).await;
        if let Some(span) = span {
            phases::trace_end(&ctx, span, target, &response, &self.config.tracer);
        }
        response
    }

    async fn route(
        &self,
        ctx: &mut RequestCtx,
        target: HostTarget<'_>,
        request: http::Request<GatewayBody>,
    ) -> GatewayResponse {
        let ctx = &mut *ctx;
        match target {
            HostTarget::Api { id, region } => {
                let http = self.apis.plane();

                let (plane, endpoint) = if http.contains_key(id) {
                    (http, Endpoint::HttpApi)
                } else {
                    let rest = self.rest.plane();
                    let endpoint = if rest.contains_key(id) {
                        Endpoint::RestApi
                    } else {
                        Endpoint::HttpApi
                    };
                    (rest, endpoint)
                };
                let selected = phases::select_stage(ctx, &plane, id, region);
                let response = self.serve(ctx, selected, request, endpoint).await;
                phases::log(ctx, id, &response, &self.access_log);
                if let Some(metrics) = &self.config.api_metrics {
                    phases::count(ctx, id, &response, metrics);
                }
                if let Some(usage) = &self.config.usage {
                    phases::meter(ctx, id, &response, usage);
                }
                response
            }
            // A Function URL: its config is its stage, `$default` its one route, and it keeps no
            // access log.
            HostTarget::Url { id, region } => {
                let selected = phases::select_url(ctx, self.urls.compiled(id), region);
                self.serve(ctx, selected, request, Endpoint::FunctionUrl)
                    .await
            }
        }
    }

    /// The phases after `select_stage`, in order; a rejection before the integration is answered
    /// as it is, one after it gets the CORS headers an integration's answer would.
    async fn serve(
        &self,
        ctx: &mut RequestCtx,
        selected: Result<(), Reject>,
        request: http::Request<GatewayBody>,
        endpoint: Endpoint,
    ) -> GatewayResponse {
        let routed = selected
            .and_then(|()| phases::preflight(ctx, request.headers()))
            .and_then(|()| phases::match_route(ctx));
        if let Err(reject) = routed {
            return reject.into_response(endpoint);
        }
        let request = match self.authorize(ctx, request).await {
            Ok(request) => request,
            Err(reject) => return reject.into_response(endpoint),
        };
        let admitted = phases::throttle(ctx, &self.account_bucket)
            .and_then(|()| phases::quota(ctx, &self.usage, request.headers()));
        let admitted = match admitted {
            // A quota count past its durable reservation waits for the next chunk's commit.
            Ok(Some(reservation)) => self.usage.reserve(reservation).await.map_err(|e| {
                tracing::warn!(error = %e, "could not reserve usage-plan quota");
                Reject::IntegrationFailed("could not reserve usage-plan quota".into())
            }),
            Ok(None) => Ok(()),
            Err(reject) => Err(reject),
        };
        if let Err(reject) = admitted {
            return reject.into_response(endpoint);
        }
        let answered = match self.integrate(ctx, request).await {
            Ok(integrated) => map_response(ctx, integrated),
            Err(reject) => Err(reject),
        };
        let response = answered.unwrap_or_else(|reject| reject.into_response(endpoint));
        phases::cors(ctx, response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edge's router needs the pipeline's futures to be `Send`.
    #[allow(dead_code)]
    fn pipelines_are_send(gateway: &Gateway, ingress: Ingress) {
        fn is_send<T: Send>(_: T) {}
        let request = http::Request::new(http_body_util::Empty::<Bytes>::new());
        let target = HostTarget::Api {
            id: "a",
            region: None,
        };
        is_send(gateway.handle(target, "/", request, ingress));
    }
}
