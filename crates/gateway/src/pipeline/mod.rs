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

use crate::{BoxError, Gateway, GatewayBody, GatewayResponse};

pub mod ctx;
pub mod events;
mod integrate;
pub mod mapping;
pub mod phases;
pub mod reject;

pub use ctx::{Ingress, RequestCtx};
pub use integrate::{map_response, MAX_PAYLOAD_BYTES};
pub use reject::{full_body, message, Endpoint, Reject};

/// The request with its body boxed once, so the phases are not generic over the edge's body type.
fn boxed<B>(request: http::Request<B>) -> http::Request<GatewayBody>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    request.map(|body| body.map_err(Into::into).boxed_unsync())
}

impl Gateway {
    /// A request to an HTTP API. `path` is the path the API sees: `/{stage}/…` or `/…` for the
    /// `$default` stage (the Host form's full path, or what follows `/_api/{api-id}`);
    /// `host_region` is the region the Host named, if it named one.
    pub async fn handle_api<B>(
        &self,
        api_id: &str,
        host_region: Option<&str>,
        path: &str,
        request: http::Request<B>,
        ingress: Ingress,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let request = boxed(request);
        let mut ctx = RequestCtx::new(ingress, path, &request);
        let selected = phases::select_stage(&mut ctx, &self.apis.plane(), api_id, host_region);
        let response = self
            .serve(&mut ctx, selected, request, Endpoint::HttpApi)
            .await;
        phases::log(&ctx, api_id, &response, &self.access_log);
        response
    }

    /// A request to a Function URL: the same phases, with the URL's config as its stage, its
    /// `$default` route and its `AuthType`. Function URLs keep no access log.
    pub async fn handle_url<B>(
        &self,
        url_id: &str,
        host_region: Option<&str>,
        path: &str,
        request: http::Request<B>,
        ingress: Ingress,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let request = boxed(request);
        let mut ctx = RequestCtx::new(ingress, path, &request);
        let selected = phases::select_url(&mut ctx, self.urls.compiled(url_id), host_region);
        self.serve(&mut ctx, selected, request, Endpoint::FunctionUrl)
            .await
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
            .and_then(|()| phases::match_route(ctx))
            .and_then(|()| phases::authorize(ctx))
            .and_then(|()| phases::throttle(ctx, &self.account_bucket))
            .and_then(|()| phases::quota(ctx));
        if let Err(reject) = routed {
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
        let request = || http::Request::new(http_body_util::Empty::<Bytes>::new());
        is_send(gateway.handle_api("a", None, "/", request(), ingress.clone()));
        is_send(gateway.handle_url("u", None, "/", request(), ingress));
    }
}
