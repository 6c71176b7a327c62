//! The request pipeline, phase by phase:
//! `select_stage → preflight (CORS) → match_route → throttle → integrate → map_response → log`.
//!
//! Everything here reads the compiled [`DataPlane`](crate::plane::DataPlane) snapshot and the
//! in-memory Function URL configs; the only I/O is the integration itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use nubo_lambda::{InvokeError, InvokeRequest, InvokeResult};
use nubo_wire::arn::FunctionRef;
use time::OffsetDateTime;

use crate::access_log::{log_group, render, AccessContext};
use crate::plane::cors::CorsPolicy;
use crate::plane::routing::{path_parameters, RouteKey};
use crate::plane::{CompiledStage, Target};

pub mod events;
pub mod mapping;

use events::{clf_time, event_v1, event_v2, RequestFacts, RouteFacts};
use mapping::{map_v1, map_v2, MappedResponse};
use crate::{BoxError, Gateway, GatewayBody, GatewayResponse};

/// API Gateway's payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

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
}

/// A buffered body.
pub fn full_body(bytes: impl Into<Bytes>) -> GatewayBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// `{"message": …}` with a status: the gateway's own answers.
pub fn message(status: StatusCode, text: &str) -> GatewayResponse {
    let mut response = http::Response::new(full_body(
        serde_json::json!({ "message": text }).to_string(),
    ));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn not_found() -> GatewayResponse {
    message(StatusCode::NOT_FOUND, "Not Found")
}

fn internal_error() -> GatewayResponse {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn with_headers(mut response: GatewayResponse, headers: &[(String, String)]) -> GatewayResponse {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn mapped(response: MappedResponse) -> GatewayResponse {
    let mut out = http::Response::new(full_body(response.body));
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    with_headers(out, &response.headers)
}

/// Why an integration produced no usable output.
#[derive(Debug)]
enum IntegrationFailure {
    /// `timeoutInMillis` passed.
    Timeout,
    /// Lambda refused for concurrency.
    Throttled,
    /// Anything else (function not found, platform failure).
    Failed(String),
}

/// Reads a request body up to the gateway's limit.
async fn read_limited<B>(body: B) -> Result<Bytes, GatewayResponse>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
            ))
        }
        Err(_) => Err(message(StatusCode::BAD_REQUEST, "Bad Request")),
    }
}

/// Hop-by-hop headers a proxy must not forward.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

impl Gateway {
    /// Runs a function with an optional deadline. The invocation runs as its own task so a
    /// timed-out request does not cancel the function mid-flight (Lambda lets it finish too).
    async fn invoke(
        &self,
        function: &FunctionRef,
        payload: Bytes,
        timeout: Option<Duration>,
        request_id: &str,
    ) -> Result<InvokeResult, IntegrationFailure> {
        let invoker = self.invoker.clone();
        let request = InvokeRequest {
            function: function.clone(),
            payload,
            client_context: None,
            tail_log: false,
            request_id: Some(request_id.to_owned()),
        };
        let task = tokio::spawn(async move { invoker.invoke(request).await });
        let joined = match timeout {
            Some(limit) => match tokio::time::timeout(limit, task).await {
                Ok(joined) => joined,
                Err(_) => return Err(IntegrationFailure::Timeout),
            },
            None => task.await,
        };
        match joined {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(InvokeError::Throttled { .. })) => Err(IntegrationFailure::Throttled),
            Ok(Err(e)) => Err(IntegrationFailure::Failed(e.to_string())),
            Err(e) => Err(IntegrationFailure::Failed(e.to_string())),
        }
    }

    /// A request to an HTTP API. `path` is the path the API sees: `/{stage}/…` or `/…` for the
    /// `$default` stage (the Host form's full path, or what follows `/_api/{api-id}`).
    pub async fn handle_api<B>(
        &self,
        api_id: &str,
        path: &str,
        request: http::Request<B>,
        ingress: Ingress,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let plane = self.apis.plane();
        let Some(api) = plane.get(api_id) else {
            return not_found();
        };
        // select_stage: the first segment if it names a stage, else `$default`.
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let (stage, route_path) = match api.stages.get(first).filter(|_| first != "$default") {
            Some(stage) => {
                let rest = &path.trim_start_matches('/')[first.len()..];
                (stage.clone(), if rest.is_empty() { "/" } else { rest })
            }
            None => match api.stages.get("$default") {
                Some(stage) => (stage.clone(), path),
                None => return not_found(),
            },
        };
        let mut log = AccessContext {
            request_id: ingress.request_id.clone(),
            api_id: api_id.to_owned(),
            stage: stage.stage_name.clone(),
            route_key: "-".into(),
            http_method: request.method().to_string(),
            path: path.to_owned(),
            request_time: clf_time(ingress.received),
            request_time_epoch: (ingress.received.unix_timestamp_nanos() / 1_000_000) as i64,
            source_ip: ingress.source_ip.clone(),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            domain_name: ingress.domain_name.clone(),
            ..Default::default()
        };
        let response = self
            .route_api(&stage, path, route_path, request, &ingress, &mut log)
            .await;
        if let Some(settings) = &stage.access_log {
            log.status = response.status().as_u16();
            log.response_length = hyper::body::Body::size_hint(response.body()).exact();
            log.response_latency_ms = started.elapsed().as_millis();
            let group = settings
                .destination_arn
                .as_deref()
                .map(log_group)
                .unwrap_or_else(|| format!("apigateway/{api_id}"));
            let line = render(settings.format.as_deref().unwrap_or(""), &log);
            self.access_log
                .write(group, format!("{api_id}/{}", stage.stage_name), line);
        }
        response
    }

    async fn route_api<B>(
        &self,
        stage: &Arc<CompiledStage>,
        raw_path: &str,
        route_path: &str,
        request: http::Request<B>,
        ingress: &Ingress,
        log: &mut AccessContext,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // preflight: answered from the CORS configuration, before any route.
        if let Some(cors) = &stage.cors {
            if CorsPolicy::is_preflight(request.method(), request.headers()) {
                let mut response = http::Response::new(full_body(Bytes::new()));
                *response.status_mut() = StatusCode::NO_CONTENT;
                return with_headers(response, &cors.preflight_headers(request.headers()));
            }
        }
        // match_route
        let Some(index) = stage.table.lookup(request.method(), route_path) else {
            return not_found();
        };
        let route = &stage.routes[index as usize];
        log.route_key = route.route_key.clone();
        // throttle: the route's own bucket or the stage's, then the account's.
        let bucket = route.bucket.as_ref().or(stage.default_bucket.as_ref());
        if !bucket.is_none_or(|b| b.try_take()) || !self.account_bucket.try_take() {
            return message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        let Some(target) = route.target.clone() else {
            return internal_error();
        };
        let params = match &route.key {
            RouteKey::Path { segments, .. } => path_parameters(segments, route_path),
            RouteKey::Default => Vec::new(),
        };
        // CORS on the way out needs only the request's Origin (an empty map allocates nothing).
        let mut origin_headers = http::HeaderMap::new();
        if let Some(origin) = request.headers().get(http::header::ORIGIN) {
            origin_headers.insert(http::header::ORIGIN, origin.clone());
        }
        let integration_started = Instant::now();
        // integrate + map_response
        let mut response = match &*target {
            Target::Lambda {
                function,
                v2,
                timeout,
            } => {
                let (parts, body) = request.into_parts();
                let body = match read_limited(body).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                let facts = RequestFacts {
                    method: &parts.method,
                    raw_path,
                    raw_query: parts.uri.query().unwrap_or(""),
                    headers: &parts.headers,
                    body: &body,
                    source_ip: &ingress.source_ip,
                    domain_name: &ingress.domain_name,
                    request_id: &ingress.request_id,
                    received: ingress.received,
                };
                let route_facts = RouteFacts {
                    api_id: &stage.api_id,
                    account_id: &self.config.scope.account_id,
                    stage: &stage.stage_name,
                    route_key: &route.route_key,
                    route_id: &route.route_id,
                    resource: route.resource(),
                    path: route_path,
                    path_parameters: &params,
                    stage_variables: &stage.stage_variables,
                };
                let event = if *v2 {
                    event_v2(&facts, &route_facts)
                } else {
                    event_v1(&facts, &route_facts)
                };
                let payload = Bytes::from(event.to_string());
                let outcome = self
                    .invoke(function, payload, Some(*timeout), &ingress.request_id)
                    .await;
                log.integration_latency_ms = Some(integration_started.elapsed().as_millis());
                match outcome {
                    Ok(result) if result.function_error => {
                        log.integration_status = Some(200);
                        log.error_message = Some("function error".into());
                        internal_error()
                    }
                    Ok(result) => {
                        log.integration_status = Some(200);
                        let mapped_response = if *v2 {
                            map_v2(&result.payload)
                        } else {
                            map_v1(&result.payload)
                        };
                        match mapped_response {
                            Ok(m) => mapped(m),
                            Err(e) => {
                                log.error_message = Some(e.0);
                                internal_error()
                            }
                        }
                    }
                    Err(IntegrationFailure::Timeout) => {
                        log.error_message = Some("integration timeout".into());
                        message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                    }
                    Err(IntegrationFailure::Throttled) => {
                        log.error_message = Some("function throttled".into());
                        message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
                    }
                    Err(IntegrationFailure::Failed(e)) => {
                        log.error_message = Some(e);
                        internal_error()
                    }
                }
            }
            Target::Http {
                uri,
                method,
                timeout,
            } => {
                let response = self
                    .proxy_http(uri, method.as_ref(), &params, request, ingress, *timeout)
                    .await;
                log.integration_latency_ms = Some(integration_started.elapsed().as_millis());
                log.integration_status = Some(response.status().as_u16());
                response
            }
        };
        if let Some(cors) = &stage.cors {
            let mut extra = Vec::new();
            let names: Vec<HeaderName> = response
                .headers()
                .keys()
                .filter(|n| n.as_str().starts_with("access-control-"))
                .cloned()
                .collect();
            for name in names {
                response.headers_mut().remove(name);
            }
            cors.apply(&origin_headers, &mut extra);
            response = with_headers(response, &extra);
        }
        response
    }

    /// HTTP_PROXY: forwards the request (body streamed) and streams the backend's answer back.
    async fn proxy_http<B>(
        &self,
        uri: &str,
        method: Option<&http::Method>,
        params: &[(String, String)],
        request: http::Request<B>,
        ingress: &Ingress,
        timeout: Duration,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut target = uri.to_owned();
        for (name, value) in params {
            target = target
                .replace(&format!("{{{name}+}}"), value)
                .replace(&format!("{{{name}}}"), value);
        }
        if let Some(query) = request.uri().query().filter(|q| !q.is_empty()) {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(query);
        }
        let Ok(target_uri) = target.parse::<http::Uri>() else {
            return internal_error();
        };
        if target_uri.scheme_str() != Some("http") {
            tracing::warn!(uri = %target, "HTTP_PROXY to https is not supported yet (no TLS client)");
            return internal_error();
        }
        let (parts, body) = request.into_parts();
        let mut forward = http::Request::new(
            Limited::new(body, MAX_PAYLOAD_BYTES)
                .map_err(|e| -> BoxError { e })
                .boxed_unsync(),
        );
        *forward.method_mut() = method.cloned().unwrap_or(parts.method);
        *forward.uri_mut() = target_uri;
        for (name, value) in parts.headers.iter() {
            if !is_hop_by_hop(name) {
                forward.headers_mut().append(name.clone(), value.clone());
            }
        }
        if let Ok(ip) = HeaderValue::from_str(&ingress.source_ip) {
            forward.headers_mut().insert("x-forwarded-for", ip);
        }
        forward
            .headers_mut()
            .insert("x-forwarded-proto", HeaderValue::from_static("http"));
        match tokio::time::timeout(timeout, self.http.request(forward)).await {
            Err(_) => message(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "HTTP_PROXY integration failed");
                internal_error()
            }
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                let hop: Vec<HeaderName> = parts
                    .headers
                    .keys()
                    .filter(|n| is_hop_by_hop(n))
                    .cloned()
                    .collect();
                for name in hop {
                    parts.headers.remove(name);
                }
                http::Response::from_parts(
                    parts,
                    body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync(),
                )
            }
        }
    }

    /// A request to a Function URL (payload 2.0, `$default` route and stage).
    pub async fn handle_url<B>(
        &self,
        url_id: &str,
        path: &str,
        request: http::Request<B>,
        ingress: Ingress,
    ) -> GatewayResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let Some(config) = self.urls.by_url_id(url_id) else {
            return not_found();
        };
        if config.auth_type != "NONE" {
            // SigV4-authenticated URLs arrive with the auth issue.
            return message(StatusCode::FORBIDDEN, "Forbidden");
        }
        let cors = config
            .cors
            .as_ref()
            .map(|c| CorsPolicy::from(&crate::http_api::model::Cors::from(c)));
        if let Some(cors) = &cors {
            if CorsPolicy::is_preflight(request.method(), request.headers()) {
                let mut response = http::Response::new(full_body(Bytes::new()));
                *response.status_mut() = StatusCode::OK;
                return with_headers(response, &cors.preflight_headers(request.headers()));
            }
        }
        let (parts, body) = request.into_parts();
        let body = match read_limited(body).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let no_vars = Default::default();
        let facts = RequestFacts {
            method: &parts.method,
            raw_path: path,
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
            source_ip: &ingress.source_ip,
            domain_name: &ingress.domain_name,
            request_id: &ingress.request_id,
            received: ingress.received,
        };
        let route = RouteFacts {
            api_id: url_id,
            account_id: &self.config.scope.account_id,
            stage: "$default",
            route_key: "$default",
            route_id: "$default",
            resource: "$default",
            path,
            path_parameters: &[],
            stage_variables: &no_vars,
        };
        let payload = Bytes::from(event_v2(&facts, &route).to_string());
        let function = FunctionRef {
            name: config.function_name.clone(),
            qualifier: config.qualifier.clone(),
        };
        let mut response = match self
            .invoke(&function, payload, None, &ingress.request_id)
            .await
        {
            Ok(result) if result.function_error => {
                message(StatusCode::BAD_GATEWAY, "Internal Server Error")
            }
            Ok(result) => match map_v2(&result.payload) {
                Ok(m) => mapped(m),
                Err(_) => message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
            },
            Err(IntegrationFailure::Throttled) => {
                message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
            }
            Err(_) => internal_error(),
        };
        if let Some(cors) = &cors {
            let names: Vec<HeaderName> = response
                .headers()
                .keys()
                .filter(|n| n.as_str().starts_with("access-control-"))
                .cloned()
                .collect();
            for name in names {
                response.headers_mut().remove(name);
            }
            let mut extra = Vec::new();
            cors.apply(&parts.headers, &mut extra);
            response = with_headers(response, &extra);
        }
        response
    }
}
