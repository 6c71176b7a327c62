//! Golden files for what functions and clients see of the gateway (Spin's `tests/ui` style):
//!
//! - `golden/events/<case>.json` — an API's routes and stage plus one request → the payload 1.0
//!   and 2.0 events it becomes, `<case>.v1.json` and `<case>.v2.json` (route matching included);
//! - `golden/mapping/<case>.json` — a function's output → the HTTP response each payload format
//!   maps it to (or the reason it cannot), `<case>.v1.http` and `<case>.v2.http`;
//! - `golden/errors/` — every rejection as an HTTP API and a Function URL answer it, and every
//!   control-plane error as apigatewayv2 renders it.
//!
//! `UPDATE_GOLDEN=1 cargo test -p nubo-gateway --test golden` rewrites the outputs; review the diff
//! against `shared/spec/apigw-events.md` and AWS's documentation before committing it.

// The gateway bans file I/O on its request path; this test reads and writes golden files.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http_body_util::BodyExt;
use nubo_gateway::pipeline::events::{event_v1, event_v2, RequestFacts, RouteFacts};
use nubo_gateway::pipeline::mapping::{map_v1, map_v2, MappedResponse};
use nubo_gateway::pipeline::{Endpoint, Reject};
use nubo_gateway::plane::routing::{path_parameters, RouteKey, RouteTable};
use nubo_gateway::{GatewayError, GatewayResponse};
use serde::Deserialize;
use serde_json::Value;

fn dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(kind)
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file at `path`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check(path: &Path, actual: &str) {
    if updating() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs from its golden file (UPDATE_GOLDEN=1 rewrites it; review the diff)",
        path.display()
    );
}

/// The input files of a kind, by case name.
fn cases(kind: &str) -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(dir(kind))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "json")
                && !path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|s| s.ends_with(".v1") || s.ends_with(".v2"))
        })
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, path)
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no {kind} cases");
    cases
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// One event case: the API as far as routing is concerned, and the request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventCase {
    /// Route keys of the stage's deployment.
    routes: Vec<String>,
    /// The stage the request selects (`$default` serves the root).
    stage: String,
    #[serde(default)]
    stage_variables: BTreeMap<String, String>,
    method: String,
    /// The path as the API sees it (with a named stage's prefix).
    path: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

const API_ID: &str = "a1b2c3d4e5";
const DOMAIN: &str = "a1b2c3d4e5.execute-api.us-east-1.localhost:4750";

#[test]
fn events() {
    use base64::Engine;
    for (name, path) in cases("events") {
        let case: EventCase =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let keys: Vec<RouteKey> = case
            .routes
            .iter()
            .map(|k| RouteKey::parse(k).unwrap())
            .collect();
        let table = RouteTable::build(&keys);
        let method: http::Method = case.method.parse().unwrap();
        let route_path = match case.stage.as_str() {
            "$default" => case.path.as_str(),
            stage => case
                .path
                .strip_prefix(&format!("/{stage}"))
                .filter(|rest| !rest.is_empty())
                .unwrap_or("/"),
        };
        let index = table
            .lookup(&method, route_path)
            .unwrap_or_else(|| panic!("{name}: no route matches")) as usize;
        let (route_key, resource, params) = match &keys[index] {
            RouteKey::Default => ("$default", "$default".to_owned(), Vec::new()),
            RouteKey::Path { path, segments, .. } => (
                case.routes[index].as_str(),
                path.clone(),
                path_parameters(segments, route_path),
            ),
        };
        let mut headers = http::HeaderMap::new();
        for (k, v) in &case.headers {
            headers.append(
                http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let body = match (&case.body, &case.body_base64) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            (None, None) => Vec::new(),
        };
        let facts = RequestFacts {
            method: &method,
            raw_path: &case.path,
            raw_query: &case.query,
            headers: &headers,
            body: &body,
            source_ip: "192.0.2.10",
            domain_name: DOMAIN,
            request_id: "JKJaXmPLvHcESHA=",
            received: time::OffsetDateTime::from_unix_timestamp_nanos(1_583_348_638_390_000_000)
                .unwrap(),
        };
        let route = RouteFacts {
            api_id: API_ID,
            account_id: "123456789012",
            stage: &case.stage,
            route_key,
            route_id: "r0ute01",
            resource: &resource,
            path: route_path,
            path_parameters: &params,
            stage_variables: &case.stage_variables,
        };
        check(
            &dir("events").join(format!("{name}.v1.json")),
            &pretty(&event_v1(&facts, &route)),
        );
        check(
            &dir("events").join(format!("{name}.v2.json")),
            &pretty(&event_v2(&facts, &route)),
        );
    }
}

/// A mapped response as text: the status, the headers in order, a blank line and the body
/// (base64 when it is not UTF-8).
fn mapped_text(outcome: Result<MappedResponse, String>) -> String {
    match outcome {
        Err(why) => format!("(no response: {why})\n"),
        Ok(mapped) => {
            let mut out = format!("HTTP/1.1 {}\n", mapped.status);
            for (name, value) in &mapped.headers {
                out.push_str(&format!("{name}: {value}\n"));
            }
            out.push('\n');
            out.push_str(&body_text(&mapped.body));
            out.push('\n');
            out
        }
    }
}

fn body_text(body: &[u8]) -> String {
    use base64::Engine;
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => format!(
            "(base64) {}",
            base64::engine::general_purpose::STANDARD.encode(body)
        ),
    }
}

#[test]
fn response_mapping() {
    for (name, path) in cases("mapping") {
        // The input is the function's output exactly as it returned it (JSON or not).
        let output = std::fs::read(&path).unwrap();
        let output = output.strip_suffix(b"\n").unwrap_or(&output);
        check(
            &dir("mapping").join(format!("{name}.v1.http")),
            &mapped_text(map_v1(output).map_err(|e| e.0)),
        );
        check(
            &dir("mapping").join(format!("{name}.v2.http")),
            &mapped_text(map_v2(output).map_err(|e| e.0)),
        );
    }
}

fn response_text(response: GatewayResponse) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = runtime
        .block_on(body.collect())
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut headers: Vec<String> = parts
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    headers.sort();
    format!(
        "HTTP/1.1 {}\n{}\n\n{}\n",
        parts.status.as_u16(),
        headers.join("\n"),
        body_text(&body)
    )
}

fn rejections() -> Vec<(&'static str, Reject)> {
    vec![
        ("NotFound", Reject::NotFound),
        ("Forbidden", Reject::Forbidden),
        (
            "MissingAuthenticationToken",
            Reject::MissingAuthenticationToken,
        ),
        (
            "Unauthorized",
            Reject::Unauthorized("The security token included in the request is invalid.".into()),
        ),
        ("Throttled", Reject::Throttled),
        ("LimitExceeded", Reject::LimitExceeded),
        ("Unauthenticated", Reject::Unauthenticated),
        (
            "InvalidToken",
            Reject::InvalidToken("the token has expired".into()),
        ),
        (
            "InsufficientScope",
            Reject::InsufficientScope(vec!["read".into(), "write".into()]),
        ),
        ("PayloadTooLarge", Reject::PayloadTooLarge),
        ("BadRequest", Reject::BadRequest),
        (
            "Preflight",
            Reject::Preflight(vec![
                (
                    "access-control-allow-origin".into(),
                    "https://app.example.com".into(),
                ),
                ("access-control-allow-methods".into(), "GET,POST".into()),
            ]),
        ),
        ("FunctionError", Reject::FunctionError),
        (
            "MalformedResponse",
            Reject::MalformedResponse("output has no statusCode".into()),
        ),
        ("IntegrationTimeout", Reject::IntegrationTimeout),
        ("FunctionThrottled", Reject::FunctionThrottled),
        (
            "IntegrationFailed",
            Reject::IntegrationFailed("Function not found".into()),
        ),
        ("GatewayTimeout", Reject::GatewayTimeout),
    ]
}

#[test]
fn rejections_per_endpoint() {
    for (endpoint, file) in [
        (Endpoint::HttpApi, "rejections.http_api.http"),
        (Endpoint::FunctionUrl, "rejections.function_url.http"),
        (Endpoint::RestApi, "rejections.rest_api.http"),
    ] {
        let text: String = rejections()
            .into_iter()
            .map(|(name, reject)| {
                format!(
                    "### {name}\n{}",
                    response_text(reject.into_response(endpoint))
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        check(&dir("errors").join(file), &text);
    }
}

#[test]
fn control_plane_errors() {
    let errors = vec![
        ("NotFound", GatewayError::not_found("Route", "abc1234")),
        (
            "BadRequest",
            GatewayError::bad_request("Invalid PayloadFormatVersion 3.0: must be 1.0 or 2.0"),
        ),
        (
            "Conflict",
            GatewayError::Conflict(
                "Unable to create route GET /a: the API already has a route with that key".into(),
            ),
        ),
        (
            "Store",
            GatewayError::Store(nubo_store::StoreError::Backend("disk I/O error".into())),
        ),
    ];
    let text: String = errors
        .into_iter()
        .map(|(name, err)| {
            let aws = nubo_wire::AwsError::from(err);
            let response =
                nubo_wire::protocol::rest_json::error_response(&aws).map(http_body_util::Full::new);
            let response = response.map(|b| b.map_err(|never| match never {}).boxed_unsync());
            format!("### {name}\n{}", response_text(response))
        })
        .collect::<Vec<_>>()
        .join("\n");
    check(&dir("errors").join("control_plane.http"), &text);
}
