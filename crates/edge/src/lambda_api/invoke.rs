//! `POST /2015-03-31/functions/{FunctionName}/invocations` (Invoke) and the deprecated
//! `POST /2014-11-13/functions/{FunctionName}/invoke-async/` (InvokeAsync).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use nubo_lambda::control::validate;
use nubo_lambda::invoke::MAX_SYNC_PAYLOAD_BYTES;
use nubo_lambda::{InvokeRequest, Invoker};
use nubo_wire::arn::FunctionRef;
use nubo_wire::Violation;

use super::read_request;
use super::reference::Function;
use crate::response::{empty, json, ApiError, ApiResult, RequestId};
use crate::EdgeState;

/// AWS's current asynchronous payload limit (raised from 256 KB to 1 MB in 2025).
pub(crate) const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The invocations before this one in its chain: the `Lineage` count of the trace header a
/// function's SDK sends back (`nubo_lambda::lineage`), 0 for anyone else's call.
fn lineage(req: &Request) -> u32 {
    header(req, "x-amzn-trace-id").map_or(0, nubo_lambda::lineage::parse)
}

/// Accepts an `Event` invocation of `function` under the request's id: 202 once queued.
async fn accept_event(
    state: &EdgeState,
    function: FunctionRef,
    req: Request,
    client_context: Option<String>,
) -> Result<(), ApiError> {
    let too_large = format!("Request must be smaller than {MAX_ASYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation");
    let lineage = lineage(&req);
    // The invocation keeps the id of this request: the caller's x-amzn-RequestId.
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(nubo_wire::new_request_id, |r| r.0.clone());
    let payload = read_request(req, MAX_ASYNC_PAYLOAD_BYTES, &too_large).await?;
    let payload = Invoker::check_payload(payload, MAX_ASYNC_PAYLOAD_BYTES, &too_large)?;
    state
        .async_invoker
        .accept(function, payload, client_context, request_id, lineage)
        .await?;
    Ok(())
}

/// Invoke: `RequestResponse` (default), `Event`, `DryRun`.
pub(crate) async fn invoke(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    let invocation_type = header(&req, "x-amz-invocation-type")
        .unwrap_or("RequestResponse")
        .to_owned();
    let tail_log = match header(&req, "x-amz-log-type").unwrap_or("None") {
        "None" => false,
        "Tail" => true,
        other => return Err(Violation::enum_set(other, "logType", &["None", "Tail"]).into()),
    };
    let client_context = validate::client_context(header(&req, "x-amz-client-context"))?;
    match invocation_type.as_str() {
        "DryRun" => {
            state.invoker.registry().resolve(&function)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        "RequestResponse" => {
            let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
            let lineage = lineage(&req);
            let trace = req
                .extensions()
                .get::<nubo_observe::TraceContext>()
                .copied();
            let too_large = format!("Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation");
            let payload = read_request(req, MAX_SYNC_PAYLOAD_BYTES, &too_large).await?;
            let result = state
                .invoker
                .invoke(InvokeRequest {
                    function,
                    payload,
                    client_context,
                    tail_log,
                    request_id,
                    lineage,
                    trace,
                })
                .await?;
            let mut response = Response::new(axum::body::Body::from(result.payload));
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = HeaderValue::from_str(&result.executed_version) {
                headers.insert("x-amz-executed-version", v);
            }
            if result.function_error {
                headers.insert(
                    "x-amz-function-error",
                    HeaderValue::from_static("Unhandled"),
                );
            }
            if let Some(tail) = result.log_tail.and_then(|t| HeaderValue::from_str(&t).ok()) {
                headers.insert("x-amz-log-result", tail);
            }
            Ok(response)
        }
        "Event" => {
            accept_event(&state, function, req, client_context).await?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        other => Err(Violation::enum_set(
            other,
            "invocationType",
            &["Event", "RequestResponse", "DryRun"],
        )
        .into()),
    }
}

/// InvokeAsync (deprecated, still in botocore): the body is the event, queued as an `Event`
/// invocation would be; 202 with `{"Status": 202}` (boto3 reads `Status` from the status code).
pub(crate) async fn invoke_async(
    State(state): State<Arc<EdgeState>>,
    Function(function): Function,
    req: Request,
) -> ApiResult {
    accept_event(&state, function, req, None).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "Status": 202 }),
    ))
}
