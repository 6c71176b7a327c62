//! A REST API's non-proxy `HTTP` integration: the backend request built from the integration's
//! `requestParameters` and request template, the backend's status selecting the integration
//! response, whose template and `responseParameters` shape the answer.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::ctx::RequestCtx;
use super::integrate::{read_limited, template_context, MAX_PAYLOAD_BYTES};
use super::reject::{full_body, with_headers, Reject};
use crate::rest_api::compile::{MappedHttp, ParamPlace, ParamSource};
use crate::rest_api::template::Inputs;
use crate::{Gateway, GatewayBody, GatewayResponse};

/// What stays as it is in a path segment or query value.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The route facts the integration reads.
pub(super) struct HttpRoute<'a> {
    pub path_parameters: &'a [(String, String)],
    pub stage_variables: &'a std::collections::BTreeMap<String, String>,
    pub stage: &'a str,
    pub api_id: &'a str,
    pub resource: &'a str,
}

/// REST APIs' own answer to a failed integration.
fn rest_message(status: StatusCode, message: &str) -> GatewayResponse {
    let mut response = http::Response::new(full_body(
        serde_json::json!({ "message": message }).to_string(),
    ));
    *response.status_mut() = status;
    with_headers(
        response,
        &[("content-type".into(), "application/json".into())],
    )
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn context_value(context: &serde_json::Value, path: &str) -> Option<String> {
    let value = path.split('.').try_fold(context, |v, key| v.get(key))?;
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Gateway {
    /// Calls the backend of an `HTTP` integration and maps its answer.
    pub(super) async fn mapped_http(
        &self,
        ctx: &RequestCtx,
        mapped: &MappedHttp,
        route: HttpRoute<'_>,
        request: http::Request<GatewayBody>,
    ) -> Result<GatewayResponse, Reject> {
        let (parts, body) = request.into_parts();
        let body = read_limited(body).await?;
        let context = template_context(ctx, route.stage, route.api_id, route.resource);
        let query = parts.uri.query().unwrap_or("");
        let inputs = |body| Inputs {
            body,
            path_parameters: route.path_parameters,
            query,
            headers: Some(&parts.headers),
            stage_variables: route.stage_variables,
            context: &context,
        };
        // The backend request: URI path parameters, query string and headers from the mappings.
        let mut uri = mapped.uri.clone();
        let mut query_out: Vec<String> = Vec::new();
        let mut headers_out: Vec<(String, String)> = Vec::new();
        for (place, name, source) in &mapped.parameters {
            let value = match source {
                ParamSource::Literal(v) => Some(v.clone()),
                ParamSource::Path(n) => route
                    .path_parameters
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone()),
                ParamSource::Query(n) => query_value(query, n),
                ParamSource::Header(n) => parts
                    .headers
                    .get(n.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                ParamSource::StageVariable(n) => route.stage_variables.get(n).cloned(),
                ParamSource::Context(n) => context_value(&context, n),
            };
            let Some(value) = value else { continue };
            match place {
                ParamPlace::Path => {
                    let encoded = utf8_percent_encode(&value, UNRESERVED).to_string();
                    uri = uri
                        .replace(&format!("{{{name}+}}"), &value)
                        .replace(&format!("{{{name}}}"), &encoded);
                }
                ParamPlace::Query => query_out.push(format!(
                    "{}={}",
                    utf8_percent_encode(name, UNRESERVED),
                    utf8_percent_encode(&value, UNRESERVED)
                )),
                ParamPlace::Header => headers_out.push((name.clone(), value)),
            }
        }
        if !query_out.is_empty() {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(&query_out.join("&"));
        }
        let target_uri = uri
            .parse::<http::Uri>()
            .map_err(|e| Reject::IntegrationFailed(format!("invalid backend URI {uri}: {e}")))?;
        if target_uri.scheme_str() != Some("http") {
            tracing::warn!(uri = %uri, "HTTP integration to https is not supported yet (no TLS client)");
            return Ok(rest_message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ));
        }
        let (content_type, payload) = match &mapped.request {
            Some((content_type, template)) => (
                Some(content_type.clone()),
                Bytes::from(
                    template
                        .render(&inputs(&body))
                        .map_err(Reject::IntegrationFailed)?,
                ),
            ),
            None => (
                parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body.clone(),
            ),
        };
        let mut forward = http::Request::new(full_body(payload));
        *forward.method_mut() = mapped.method.clone().unwrap_or(parts.method.clone());
        *forward.uri_mut() = target_uri;
        if let Some(content_type) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
            forward
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, content_type);
        }
        for (name, value) in headers_out {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                forward.headers_mut().insert(name, value);
            }
        }
        let response = match tokio::time::timeout(mapped.timeout, self.http.request(forward)).await
        {
            Err(_) => {
                return Ok(rest_message(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Endpoint request timed out",
                ))
            }
            Ok(Err(e)) => {
                tracing::warn!(uri = %uri, error = %e, "HTTP integration failed");
                return Ok(rest_message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ));
            }
            Ok(Ok(response)) => response,
        };
        let (backend, backend_body) = response.into_parts();
        let backend_body = match Limited::new(backend_body, MAX_PAYLOAD_BYTES)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                tracing::warn!(uri = %uri, error = %e, "HTTP integration body failed");
                return Ok(rest_message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ));
            }
        };
        let Some(chosen) = mapped.select(backend.status.as_u16()) else {
            tracing::warn!(
                status = backend.status.as_u16(),
                "no integration response matches the backend's status and none is the default"
            );
            return Ok(rest_message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ));
        };
        let (content_type, out) = match &chosen.template {
            Some((content_type, template)) => (
                content_type.clone(),
                Bytes::from(
                    template
                        .render(&inputs(&backend_body))
                        .map_err(Reject::IntegrationFailed)?,
                ),
            ),
            None => (
                backend
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned(),
                backend_body.clone(),
            ),
        };
        let mut response = http::Response::new(full_body(out));
        *response.status_mut() = StatusCode::from_u16(chosen.status).unwrap_or(StatusCode::OK);
        let mut headers = vec![("content-type".to_owned(), content_type)];
        headers.extend(chosen.headers.iter().cloned());
        headers.extend(chosen.from_backend.iter().filter_map(|(to, from)| {
            if from.is_empty() {
                let body = std::str::from_utf8(&backend_body).ok()?;
                return Some((to.clone(), body.trim().to_owned()));
            }
            let value = backend.headers.get(from.as_str())?.to_str().ok()?;
            Some((to.clone(), value.to_owned()))
        }));
        Ok(with_headers(response, &headers))
    }
}
