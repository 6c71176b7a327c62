//! Who handles a request, in `DESIGN.md`'s order:
//! 1. a SigV4 credential scope names the service (header or presigned query): the service
//!    registry ([`crate::registry`], filled in [`crate::services`]) takes it from there, and the
//!    request acts in the scope of the credential's region ([`crate::scope`]);
//! 2. the `Host` names a gateway API (`{api-id}.execute-api[.{region}].localhost[:port]`) or a
//!    Function URL (`{url-id}.lambda-url[.{region}].localhost[:port]`);
//! 3. a path prefix: `/_api/{api-id}/…` (the rest is what the API sees: `/{stage}/…`, or the
//!    `$default` stage's path when the first segment names no stage), `/_url/{url-id}/…`, and
//!    `/_nubo/…` for health, code downloads and the console;
//! 4. anything else is an unsigned call to an AWS API: `MissingAuthenticationTokenException`.
//!
//! Gateway data-plane requests (2 and 3) are recognised before the SigV4 check: their
//! `Authorization` header belongs to the API's caller (a bearer token is not a signature), and
//! apigatewayv2's own control calls never use those hosts or prefixes. Every request carries a
//! [`RequestScope`]: the credential's for signed requests, the server's default for the rest.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{HeaderValue, Method, StatusCode};
use nubo_wire::{AwsError, Scope};

use nubo_gateway::{HostTarget, Ingress};

use crate::registry::{wire, Registry};
use crate::response::{rest_json_error, RequestId};
use crate::scope::{credential_scope, signed_scope, RequestScope};
use crate::EdgeState;

struct Services {
    state: Arc<EdgeState>,
    registry: Registry,
    /// The scope of unsigned and data-plane requests: `--region`, `--account-id`.
    default_scope: Scope,
}

/// The whole edge as one axum router.
pub fn router(state: Arc<EdgeState>) -> Router {
    let services = Arc::new(Services {
        registry: crate::services::registry(&state),
        default_scope: state.invoker.registry().scope().clone(),
        state,
    });
    Router::new().fallback(dispatch).with_state(services)
}

async fn dispatch(State(services): State<Arc<Services>>, mut req: Request) -> Response {
    let request_id = nubo_wire::new_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let mut response = route(&services, req).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// A gateway data-plane request: which resource (and the region its host named), the path it
/// sees, and the domain its events report.
struct DataPlane {
    kind: DataPlaneKind,
    id: String,
    region: Option<String>,
    path: String,
    domain: String,
}

#[derive(Clone, Copy)]
enum DataPlaneKind {
    Api,
    Url,
}

fn data_plane(state: &EdgeState, req: &Request) -> Option<DataPlane> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let path = req.uri().path();
    let by_host = |kind, id: &str, region: Option<&str>| DataPlane {
        kind,
        id: id.to_owned(),
        region: region.map(str::to_owned),
        path: path.to_owned(),
        domain: host.to_owned(),
    };
    match HostTarget::parse(host) {
        Some(HostTarget::Api { id, region }) => {
            return Some(by_host(DataPlaneKind::Api, id, region))
        }
        Some(HostTarget::Url { id, region }) => {
            return Some(by_host(DataPlaneKind::Url, id, region))
        }
        None => {}
    }
    let split = |rest: &str| -> (String, String) {
        match rest.split_once('/') {
            Some((id, tail)) => (id.to_owned(), format!("/{tail}")),
            None => (rest.to_owned(), "/".to_owned()),
        }
    };
    // Clients that cannot set a Host see the same domain a Host-routed request would.
    let authority = |url: String| {
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    };
    // The domain is the one the resource's own endpoint names (with its region).
    if let Some(rest) = path.strip_prefix("/_api/") {
        let (id, path) = split(rest);
        let scope = state.gateway.data_plane_scope(&id);
        let domain = authority(state.gateway.api_endpoint(&scope, &id));
        return Some(DataPlane {
            kind: DataPlaneKind::Api,
            id,
            region: None,
            path,
            domain,
        });
    }
    if let Some(rest) = path.strip_prefix("/_url/") {
        let (id, path) = split(rest);
        let scope = state.gateway.data_plane_scope(&id);
        let domain = authority(state.gateway.function_url(&scope, &id));
        return Some(DataPlane {
            kind: DataPlaneKind::Url,
            id,
            region: None,
            path,
            domain,
        });
    }
    None
}

async fn gateway(services: &Services, target: DataPlane, req: Request) -> Response {
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(nubo_wire::new_request_id);
    let gateway = &services.state.gateway;
    let received = time::OffsetDateTime::now_utc();
    // HTTP APIs answer with `apigw-requestid` (the id in the event's requestContext).
    let request_id_header = HeaderValue::from_str(&request_id).ok();
    let DataPlane {
        kind,
        id,
        region,
        path,
        domain,
    } = target;
    let ingress = Ingress {
        source_ip,
        request_id,
        domain_name: domain,
        received,
    };
    let (id, region) = (id.as_str(), region.as_deref());
    let target = match kind {
        DataPlaneKind::Api => HostTarget::Api { id, region },
        DataPlaneKind::Url => HostTarget::Url { id, region },
    };
    let response = gateway.handle(target, &path, req, ingress).await;
    let mut response = response.map(Body::new);
    if let Some(id) = request_id_header {
        response.headers_mut().insert("apigw-requestid", id);
    }
    response
}

async fn route(services: &Services, mut req: Request) -> Response {
    if let Some(target) = data_plane(&services.state, &req) {
        req.extensions_mut()
            .insert(RequestScope(services.default_scope.clone()));
        return gateway(services, target, req).await;
    }
    match credential_scope(&req) {
        Some(Ok(credential)) => {
            dispatch_signed(&services.registry, &services.default_scope, credential, req).await
        }
        // Which service a malformed signature meant is unknown, so its error is rest-json.
        Some(Err(err)) => rest_json_error(&err),
        None => {
            req.extensions_mut()
                .insert(RequestScope(services.default_scope.clone()));
            unsigned(services, req).await
        }
    }
}

/// A signed request: scoped to its credential's region, then handed to the service it was
/// signed for.
async fn dispatch_signed(
    registry: &Registry,
    default_scope: &Scope,
    credential: crate::scope::CredentialScope,
    mut req: Request,
) -> Response {
    match signed_scope(&credential, default_scope) {
        Ok(scope) => {
            req.extensions_mut().insert(RequestScope(scope));
            registry.dispatch(&credential.service, req).await
        }
        Err(err) => {
            let request_id = req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default();
            let protocol = registry.protocol_for(&credential.service, &req);
            wire(protocol.error_response(&err, &request_id))
        }
    }
}

async fn unsigned(services: &Services, req: Request) -> Response {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/_nubo/") {
        return match (req.method(), rest) {
            (&Method::GET, "health") => (StatusCode::OK, "ok\n").into_response(),
            (&Method::GET, "metrics") => metrics(services),
            (&Method::GET, rest) if rest.starts_with("code/") => {
                code_download(services, &rest["code/".len()..]).await
            }
            _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        };
    }
    rest_json_error(&AwsError::missing_authentication_token(
        "Missing Authentication Token",
    ))
}

/// Prometheus text: every metric registered at start (see `nubo_observe::MetricsRegistry`).
fn metrics(services: &Services) -> Response {
    let mut response = Response::new(Body::from(services.state.metrics.encode()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(nubo_observe::MetricsRegistry::CONTENT_TYPE),
    );
    response
}

/// Serves a stored zip: GetFunction's `Code.Location`.
async fn code_download(services: &Services, sha256_hex: &str) -> Response {
    let code = services.state.invoker.registry().code();
    let sha = sha256_hex.trim_end_matches(".zip");
    match code.read_zip(sha).await {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            );
            response
        }
        _ => (StatusCode::NOT_FOUND, "no such code\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tests::{read, registry};

    fn signed_for(
        method: &str,
        region: &str,
        service: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Request {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/{region}/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abcd"
        );
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", authorization);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut req = builder.body(Body::from(body.to_owned())).unwrap();
        req.extensions_mut().insert(RequestId("rid".into()));
        req
    }

    async fn signed(registry: &Registry, req: Request) -> Response {
        let credential = credential_scope(&req).unwrap().unwrap();
        dispatch_signed(registry, &Scope::default(), credential, req).await
    }

    #[tokio::test]
    async fn a_request_signed_for_eu_west_1_acts_in_eu_west_1() {
        let registry = registry();
        let (status, _, body) = read(
            signed(
                &registry,
                signed_for("GET", "eu-west-1", "restsvc", "/scope", &[], ""),
            )
            .await,
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "eu-west-1"));
        let (_, _, body) = read(
            signed(
                &registry,
                signed_for("GET", "us-west-2", "restsvc", "/scope", &[], ""),
            )
            .await,
        )
        .await;
        assert_eq!(body, "us-west-2");
    }

    #[tokio::test]
    async fn an_impossible_region_is_refused_in_the_services_protocol() {
        let registry = registry();
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let (status, _, body) = read(
            signed(
                &registry,
                signed_for("POST", "Not A Region", "iam", "/", &form, "Action=GetUser"),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.starts_with("<ErrorResponse"), "{body}");
        assert!(
            body.contains("<Code>InvalidSignatureException</Code>"),
            "{body}"
        );
    }
}
