//! `POST /2015-03-31/functions/{FunctionName}/invocations`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderValue, StatusCode};
use nubo_lambda::invoke::MAX_SYNC_PAYLOAD_BYTES;
use nubo_lambda::{InvokeRequest, Invoker};
use nubo_wire::arn::FunctionRef;
use nubo_wire::AwsError;

use super::read_body;
use crate::query::Query;
use crate::response::{empty, ApiError, ApiResult, RequestId};
use crate::EdgeState;

/// AWS's current asynchronous payload limit (raised from 256 KB to 1 MB in 2025).
pub(crate) const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Decoded client context limit.
const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn client_context(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let invalid = || {
        ApiError(AwsError::invalid_parameter(
            "Client context must be a valid Base64-encoded JSON object.",
        ))
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| invalid())?;
    if decoded.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(ApiError(AwsError::invalid_parameter(format!(
            "Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes."
        ))));
    }
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|_| invalid())?;
    Ok(Some(text))
}

/// Invoke: `RequestResponse` (default), `Event`, `DryRun`.
pub(crate) async fn invoke(
    State(state): State<Arc<EdgeState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> ApiResult {
    let query = Query::parse(query.as_deref());
    let registry = state.invoker.registry();
    let reference = FunctionRef::parse(&function, registry.scope())?
        .with_query_qualifier(query.get("Qualifier"))?;
    let invocation_type = header(&req, "x-amz-invocation-type")
        .unwrap_or("RequestResponse")
        .to_owned();
    let tail_log = match header(&req, "x-amz-log-type").unwrap_or("None") {
        "None" => false,
        "Tail" => true,
        other => {
            return Err(ApiError(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
            ))))
        }
    };
    let client_context = client_context(header(&req, "x-amz-client-context"))?;
    let req_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    match invocation_type.as_str() {
        "DryRun" => {
            registry.resolve(&reference.name, reference.qualifier.as_deref())?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        "RequestResponse" => {
            let too_large = format!("Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation");
            let payload = read_body(req.into_body(), MAX_SYNC_PAYLOAD_BYTES, &too_large).await?;
            let result = state.invoker.invoke(InvokeRequest { function: reference, payload, client_context, tail_log, request_id: req_id }).await?;
            let mut response = Response::new(axum::body::Body::from(result.payload));
            let headers = response.headers_mut();
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&result.executed_version) {
                headers.insert("x-amz-executed-version", v);
            }
            if result.function_error {
                headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            }
            if let Some(tail) = result.log_tail.and_then(|t| HeaderValue::from_str(&t).ok()) {
                headers.insert("x-amz-log-result", tail);
            }
            Ok(response)
        }
        "Event" => {
            let too_large = format!("Request must be smaller than {MAX_ASYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation");
            let payload = read_body(req.into_body(), MAX_ASYNC_PAYLOAD_BYTES, &too_large).await?;
            let payload = Invoker::check_payload(payload, MAX_ASYNC_PAYLOAD_BYTES, &too_large)?;
            // The invocation keeps the id of this request: the caller's x-amzn-RequestId.
            let request_id = req_id.unwrap_or_else(nubo_wire::new_request_id);
            state.async_invoker.accept(reference, payload, client_context, request_id).await?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        other => Err(ApiError(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )))),
    }
}
