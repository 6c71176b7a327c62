//! Who handles a request, in `DESIGN.md`'s order:
//! 1. a SigV4 credential scope names the service (header or presigned query): the service
//!    registry ([`crate::registry`], filled in [`crate::services`]) takes it from there, and the
//!    request acts in the scope of the credential's region ([`crate::scope`]);
//! 2. the `Host` names a gateway API (`{api-id}.execute-api[.{region}].localhost[:port]`) or a
//!    Function URL (`{url-id}.lambda-url[.{region}].localhost[:port]`);
//! 3. a path prefix: `/_api/{api-id}/…` (the rest is what the API sees: `/{stage}/…`, or the
//!    `$default` stage's path when the first segment names no stage), `/_url/{url-id}/…`, and
//!    `/_nubo/…` for health, metrics (loopback or a token) and code downloads (URLs the server
//!    presigned);
//! 4. anything else is an unsigned call to an AWS API: `MissingAuthenticationTokenException`.
//!
//! Gateway data-plane requests (2 and 3) are recognised before the SigV4 check: their
//! `Authorization` header belongs to the API's caller (a bearer token is not a signature), and
//! apigatewayv2's own control calls never use those hosts or prefixes; `/_nubo/code/…` URLs carry
//! the server's own presigned credential. A signed request passes the [`Guard`] (verification,
//! authentication, authorization) before its service sees it. Every request carries a
//! [`RequestScope`]: the credential's for signed requests, the server's default for the rest.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{HeaderValue, Method, StatusCode};
use nubo_wire::sigv4::SigV4Error;
use nubo_wire::{AwsError, Scope};

use nubo_gateway::{HostTarget, Ingress};

use crate::auth::Guard;
use crate::registry::{wire, Registry};
use crate::response::RequestId;
use crate::scope::{credential_scope, RequestScope};
use crate::EdgeState;

struct Services {
    state: Arc<EdgeState>,
    registry: Registry,
    guard: Guard,
    /// The scope of unsigned and data-plane requests: `--region`, `--account-id`.
    default_scope: Scope,
}

/// The whole edge as one axum router.
pub fn router(state: Arc<EdgeState>) -> Router {
    let services = Arc::new(Services {
        registry: crate::services::registry(&state),
        guard: Guard::new(state.identity.clone()),
        default_scope: state.invoker.registry().default_scope().clone(),
        state,
    });
    Router::new().fallback(dispatch).with_state(services)
}

async fn dispatch(State(services): State<Arc<Services>>, mut req: Request) -> Response {
    let request_id = nubo_wire::new_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = trace_start(&services.state.tracer, &mut req);
    let mut response = route(&services, req).await;
    if let Some(mut span) = span {
        let status = response.status().as_u16();
        span.set("aws.request_id", request_id.clone());
        span.set("http.response.status_code", status as i64);
        if status >= 500 {
            span.error = Some(format!("answered {status}"));
        }
        span.end_now();
        services.state.tracer.record(span);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// Tracing: the edge's span for a request, under the caller's trace (`traceparent` or
/// `X-Amzn-Trace-Id`) or a new one; what the request sets off runs under it (the context rides
/// in the request's extensions). Nubo's own `/_nubo/` paths are not traced.
fn trace_start(tracer: &nubo_observe::Tracer, req: &mut Request) -> Option<nubo_observe::Span> {
    if !tracer.enabled() || req.uri().path().starts_with("/_nubo/") {
        return None;
    }
    let parent = nubo_observe::TraceContext::from_headers(req.headers());
    // Named by the service a signature names (`POST lambda`), or `http` for the data plane.
    let service = match credential_scope(req) {
        Some(Ok(credential)) => credential.service,
        _ => "http".to_owned(),
    };
    let mut span = nubo_observe::Span::start(
        format!("{} {service}", req.method()),
        nubo_observe::SpanKind::Server,
        parent,
    );
    span.set("rpc.service", service);
    span.set("http.request.method", req.method().to_string());
    span.set("url.path", req.uri().path().to_owned());
    req.extensions_mut().insert(span.context());
    Some(span)
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
    // The domain is the one the resource's own endpoint names (with its region).
    if let Some(rest) = path.strip_prefix("/_api/") {
        let (id, path) = split(rest);
        let scope = state.gateway.data_plane_scope(&id);
        // A WebSocket client's events name the host it connected to: the `@connections`
        // endpoint a handler builds from it (`http://{domainName}/{stage}`) must reach Nubo,
        // and the API's own host name may not resolve.
        let domain = if nubo_gateway::websocket::is_upgrade(req) && !host.is_empty() {
            host.to_owned()
        } else {
            state.gateway.api_domain(&scope, &id)
        };
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
        let domain = state.gateway.url_domain(&scope, &id);
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
        trace: req
            .extensions()
            .get::<nubo_observe::TraceContext>()
            .copied(),
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
    // `@connections` calls are signed for `execute-api` and may use a gateway host or prefix.
    if crate::connections_api::is_management_call(&services.state, &req) {
        if let Some(Ok(credential)) = credential_scope(&req) {
            if credential.service == "execute-api" {
                return dispatch_signed(services, credential, req).await;
            }
        }
    }
    if let Some(target) = data_plane(&services.state, &req) {
        req.extensions_mut()
            .insert(RequestScope(services.default_scope.clone()));
        return gateway(services, target, req).await;
    }
    if let Some(rest) = req.uri().path().strip_prefix("/_nubo/") {
        let rest = rest.to_owned();
        return own_paths(services, &rest, req).await;
    }
    // A browser's CORS preflight to a bucket is unsigned; S3 answers it from the bucket's rules.
    if crate::s3_api::cors::is_preflight(&req) {
        return crate::s3_api::cors::preflight(&services.state, &req);
    }
    let credential = credential_scope(&req);
    // A browser opening the server's address gets the console.
    if credential.is_none() && crate::console::wants_console(&req) {
        return crate::console::redirect("/_nubo/console/");
    }
    match credential {
        Some(Ok(credential)) => dispatch_signed(services, credential, req).await,
        // Which service a malformed or missing signature meant is unknown: the error is in the
        // protocol the request's shape suggests (a form → query, `X-Amz-Target` → json), else
        // rest-json.
        Some(Err(err)) => unsigned_error(&req, err),
        None => {
            let protocol = guessed_protocol(&req);
            let family = crate::auth::family(protocol);
            unsigned_error(&req, SigV4Error::MissingAuthentication.to_aws_error(family))
        }
    }
}

fn guessed_protocol(req: &Request) -> nubo_wire::Protocol {
    crate::registry::request_protocol(req).unwrap_or(nubo_wire::Protocol::RestJson)
}

fn unsigned_error(req: &Request, err: AwsError) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    wire(guessed_protocol(req).error_response(&err, &request_id))
}

/// A signed request: verified, authenticated and authorized by the guard, then handed to the
/// service it was signed for.
async fn dispatch_signed(
    services: &Services,
    mut credential: crate::scope::CredentialScope,
    req: Request,
) -> Response {
    if credential.legacy_v2 {
        credential.region = services.default_scope.region.clone();
    }
    let target = services.registry.target(&credential.service, &req);
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    match services
        .guard
        .admit(&credential, &target, &services.default_scope, req)
        .await
    {
        Ok(req) => services.registry.dispatch(&credential.service, req).await,
        // Lambda words its errors `{"Type", "Message"}`, the guard's as much as its handlers'.
        Err(err) if target.served && target.service == "lambda" => {
            crate::response::lambda_error(&err)
        }
        // `@connections` refuses callers as API Gateway does: `ForbiddenException`.
        Err(mut err) if target.served && target.service == "execute-api" => {
            if err.code == "AccessDeniedException" {
                err.code = "ForbiddenException";
            }
            crate::response::rest_json_error(&err)
        }
        Err(err) => {
            let mut response = wire(crate::registry::error_response(
                target.protocol,
                target.query_codes,
                err,
                &request_id,
            ));
            // S3 uploads are refused before their body is read (the guard streams them): the
            // connection cannot carry another request.
            if credential.service == "s3" {
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

/// `/_nubo/…`: Nubo's own paths.
async fn own_paths(services: &Services, rest: &str, req: Request) -> Response {
    match (req.method(), rest) {
        (&Method::GET, "health") => (StatusCode::OK, "ok\n").into_response(),
        (&Method::GET, rest) if rest.starts_with("console") => match rest.strip_prefix("console") {
            Some(tail) if tail.is_empty() || tail.starts_with('/') => crate::console::serve(tail),
            _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        },
        (&Method::GET, "metrics") => match crate::own::metrics_allowed(&services.state, &req) {
            Ok(()) => metrics(services),
            Err(refusal) => refusal.into_response(),
        },
        (&Method::GET, "usage") => match crate::own::metrics_allowed(&services.state, &req) {
            Ok(()) => usage(services, req.uri().query()).await,
            Err(refusal) => refusal.into_response(),
        },
        (&Method::GET, rest) if rest.starts_with("code/") => {
            let sha = rest["code/".len()..].trim_end_matches(".zip").to_owned();
            match services.state.code_urls.check(&req, &sha) {
                Ok(()) => code_download(services, &sha).await,
                Err(refusal) => refusal.into_response(),
            }
        }
        _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
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

/// Metered usage and its cost since `?since=<epoch ms>` (default: everything), as JSON: one row
/// per function version, totals, and the prices used. Readable by whoever may read metrics.
async fn usage(services: &Services, query: Option<&str>) -> Response {
    let since = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("since="))
        .map(|v| v.parse::<i64>());
    let since = match since {
        None => 0,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                "since must be epoch milliseconds\n",
            )
                .into_response()
        }
    };
    let meter = &services.state.usage;
    let apis = match meter.report_apis(since).await {
        Ok(apis) => apis,
        Err(e) => {
            tracing::error!(error = %e, "could not read API usage");
            return (StatusCode::INTERNAL_SERVER_ERROR, "could not read usage\n").into_response();
        }
    };
    match meter.report(since).await {
        Ok(rows) => {
            let mut total = nubo_observe::Usage::default();
            let mut cost = 0.0;
            for row in &rows {
                total.requests += row.usage.requests;
                total.errors += row.usage.errors;
                total.billed_ms += row.usage.billed_ms;
                total.mb_ms += row.usage.mb_ms;
                cost += row.cost;
            }
            let body = serde_json::json!({
                "since": since,
                "prices": meter.prices(),
                "functions": rows,
                "apis": apis,
                "total": {
                    "requests": total.requests,
                    "errors": total.errors,
                    "billedMs": total.billed_ms,
                    "gbSeconds": total.gb_seconds(),
                    "cost": cost,
                },
            });
            let mut response = Response::new(Body::from(body.to_string()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read usage");
            (StatusCode::INTERNAL_SERVER_ERROR, "could not read usage\n").into_response()
        }
    }
}

/// Serves a stored zip: GetFunction's `Code.Location`.
async fn code_download(services: &Services, sha: &str) -> Response {
    let code = services.state.invoker.registry().code();
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
