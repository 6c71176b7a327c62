//! A bucket's CORS configuration applied to browsers: the unsigned `OPTIONS` preflight S3 answers
//! itself, and the `Access-Control-*` headers on answers to requests that carry an `Origin`.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use nubo_objects::cors::matching;
use nubo_objects::records::CorsRule;
use nubo_wire::protocol::rest_xml;

use super::errors::S3Errors;
use super::operations;
use crate::response::RequestId;
use crate::EdgeState;

/// Whether a request is a CORS preflight (unsigned `OPTIONS` with `Access-Control-Request-Method`).
pub(crate) fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key("access-control-request-method")
        && !req.headers().contains_key(http::header::AUTHORIZATION)
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// The headers a matching rule puts on an answer.
fn allow(response: &mut Response, rule: &CorsRule, origin: &str) {
    if rule.any_origin() {
        set(response, "access-control-allow-origin", "*");
    } else {
        set(response, "access-control-allow-origin", origin);
        set(response, "access-control-allow-credentials", "true");
    }
    set(
        response,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        set(
            response,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(response, "access-control-max-age", &age.to_string());
    }
    set(
        response,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
}

/// Answers a preflight from the bucket's rules: 200 with the grant, or S3's 403 `CORSResponse`.
pub(crate) fn preflight(state: &EdgeState, req: &Request) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let mut probe = http::Request::new(());
    *probe.method_mut() = req.method().clone();
    *probe.uri_mut() = req.uri().clone();
    *probe.headers_mut() = req.headers().clone();
    let (probe, ()) = probe.into_parts();
    let address = operations::address(&probe);
    let headers = req.headers();
    let origin = text(headers, "origin").unwrap_or_default();
    let method = text(headers, "access-control-request-method").unwrap_or_default();
    let requested: Vec<&str> = text(headers, "access-control-request-headers")
        .map(|h| {
            h.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let refuse = |message: &str| {
        let err = S3Errors::cors_response(message.to_owned());
        rest_xml::error_response(&err, &request_id).map(Body::from)
    };
    let Some(bucket) = address.bucket.and_then(|b| state.objects.bucket(&b).ok()) else {
        return refuse("CORS is not enabled for this bucket.");
    };
    let Some(rules) = bucket.cors.as_deref() else {
        return refuse("CORS is not enabled for this bucket.");
    };
    match matching(rules, origin, method, &requested) {
        Some(rule) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::OK;
            allow(&mut response, rule, origin);
            if !requested.is_empty() {
                set(&mut response, "access-control-allow-headers", &requested.join(", "));
            }
            response
        }
        None => refuse(
            "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ),
    }
}

/// Adds the grant of the bucket's first matching rule to an answer for a request with an `Origin`.
pub(crate) fn decorate(
    state: &EdgeState,
    bucket: Option<&str>,
    origin: Option<&str>,
    method: &Method,
    response: &mut Response,
) {
    let (Some(bucket), Some(origin)) = (bucket, origin) else {
        return;
    };
    let Ok(bucket) = state.objects.bucket(bucket) else {
        return;
    };
    if let Some(rule) = bucket
        .cors
        .as_deref()
        .and_then(|rules| matching(rules, origin, method.as_str(), &[]))
    {
        allow(response, rule, origin);
    }
}
