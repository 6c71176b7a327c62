//! Who handles a request, in `DESIGN.md`'s order:
//! 1. a SigV4 credential scope names the service (header or presigned query);
//! 2. the `Host` names a gateway API (`{api-id}.execute-api.localhost[:port]`) or a Function URL
//!    (`{url-id}.lambda-url.localhost[:port]`);
//! 3. a path prefix: `/_api/{api-id}/…` (the rest is what the API sees: `/{stage}/…`, or the
//!    `$default` stage's path when the first segment names no stage), `/_url/{url-id}/…`, and
//!    `/_nubo/…` for health, code downloads and the console;
//! 4. anything else is an unsigned call to an AWS API: `MissingAuthenticationTokenException`.
//!
//! Gateway data-plane requests (2 and 3) are recognised before the SigV4 check: their
//! `Authorization` header belongs to the API's caller (a bearer token is not a signature), and
//! apigatewayv2's own control calls never use those hosts or prefixes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{HeaderValue, Method, StatusCode};
use nubo_wire::sigv4::parse_authorization;
use nubo_wire::AwsError;
use tower::ServiceExt;

use nubo_gateway::{HostTarget, Ingress};

use crate::response::{rest_json_error, RequestId};
use crate::{apigw_api, lambda_api, EdgeState};

struct Services {
    state: Arc<EdgeState>,
    lambda: Router,
    apigateway: Router,
}

/// The whole edge as one axum router.
pub fn router(state: Arc<EdgeState>) -> Router {
    let services = Arc::new(Services {
        lambda: lambda_api::router(state.clone()),
        apigateway: apigw_api::router(state.clone()),
        state,
    });
    Router::new().fallback(dispatch).with_state(services)
}

/// Which service a signed request names, from the Authorization header or a presigned query.
fn signed_service(req: &Request) -> Option<Result<String, AwsError>> {
    if let Some(header) = req.headers().get(http::header::AUTHORIZATION) {
        let header = match header.to_str() {
            Ok(h) => h,
            Err(_) => {
                return Some(Err(AwsError::incomplete_signature(
                    "Authorization header is not valid text",
                )))
            }
        };
        return Some(parse_authorization(header).map(|a| a.service.to_owned()));
    }
    let query = req.uri().query()?;
    let credential = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
    let credential = percent_encoding::percent_decode_str(credential)
        .decode_utf8_lossy()
        .into_owned();
    let parts: Vec<&str> = credential.split('/').collect();
    Some(match parts.as_slice() {
        [_, _, _, service, "aws4_request"] => Ok((*service).to_owned()),
        _ => Err(AwsError::incomplete_signature(format!(
            "Credential is malformed: '{credential}'."
        ))),
    })
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

/// A gateway data-plane request: which resource, and the path it sees.
enum DataPlane {
    Api {
        id: String,
        path: String,
        domain: String,
    },
    Url {
        id: String,
        path: String,
        domain: String,
    },
}

fn data_plane(state: &EdgeState, req: &Request) -> Option<DataPlane> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let path = req.uri().path();
    match HostTarget::parse(host) {
        Some(HostTarget::Api(id)) => {
            return Some(DataPlane::Api {
                id: id.to_owned(),
                path: path.to_owned(),
                domain: host.to_owned(),
            })
        }
        Some(HostTarget::Url(id)) => {
            return Some(DataPlane::Url {
                id: id.to_owned(),
                path: path.to_owned(),
                domain: host.to_owned(),
            })
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
    if let Some(rest) = path.strip_prefix("/_api/") {
        let (id, path) = split(rest);
        let domain = authority(state.gateway.api_endpoint(&id));
        return Some(DataPlane::Api { id, path, domain });
    }
    if let Some(rest) = path.strip_prefix("/_url/") {
        let (id, path) = split(rest);
        let domain = authority(state.gateway.function_url(&id));
        return Some(DataPlane::Url { id, path, domain });
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
    let response = match target {
        DataPlane::Api { id, path, domain } => {
            let ingress = Ingress {
                source_ip,
                request_id,
                domain_name: domain,
                received,
            };
            gateway.handle_api(&id, &path, req, ingress).await
        }
        DataPlane::Url { id, path, domain } => {
            let ingress = Ingress {
                source_ip,
                request_id,
                domain_name: domain,
                received,
            };
            gateway.handle_url(&id, &path, req, ingress).await
        }
    };
    let mut response = response.map(Body::new);
    if let Some(id) = request_id_header {
        response.headers_mut().insert("apigw-requestid", id);
    }
    response
}

async fn route(services: &Services, req: Request) -> Response {
    if let Some(target) = data_plane(&services.state, &req) {
        return gateway(services, target, req).await;
    }
    match signed_service(&req) {
        Some(Ok(service)) => match service.as_str() {
            "lambda" => services.lambda.clone().oneshot(req).await.into_response(),
            "apigateway" if req.uri().path().starts_with("/v2/") => services
                .apigateway
                .clone()
                .oneshot(req)
                .await
                .into_response(),
            "apigateway" => rest_json_error(&AwsError::new(
                "NotFoundException",
                StatusCode::NOT_FOUND,
                "REST APIs (apigateway v1) are not served by Nubo yet; HTTP APIs live under /v2/",
            )),
            other => rest_json_error(&AwsError::new(
                "UnknownServiceException",
                StatusCode::BAD_REQUEST,
                format!("Nubo does not serve the '{other}' service yet"),
            )),
        },
        Some(Err(err)) => rest_json_error(&err),
        None => unsigned(services, req).await,
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
