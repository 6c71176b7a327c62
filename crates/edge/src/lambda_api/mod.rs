//! The Lambda API as botocore's `lambda/2015-03-31` model defines it (rest-json).
//!
//! Handlers parse wire shapes (`shapes`), call the lambda layer, and render its types back into
//! wire shapes. The function a request is about is parsed once, before the handler runs, by the
//! `reference` extractors (path + `Qualifier` + the request's scope). One module per resource:
//! `functions`, `versions`, `aliases`, `concurrency` (reserved and provisioned),
//! `invoke` (and the deprecated InvokeAsync), `event_config` (asynchronous invocation
//! settings), `account` (settings and tags), `function_urls` (Function URL configs),
//! `permissions` (resource-based policies).
//!
//! Every request body is read whole before routing (`read_body_first`), so an error answered
//! before a handler looks at the body leaves the client's keep-alive connection usable.

mod account;
mod aliases;
mod concurrency;
mod event_config;
mod event_source_mappings;
mod function_urls;
mod functions;
mod invoke;
mod layers;
mod permissions;
mod reference;

pub(crate) use reference::input_shapes;
pub mod shapes;
mod versions;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use nubo_lambda::Registry;
use nubo_wire::{AwsError, Violation};
use serde::de::DeserializeOwned;

use crate::query::Query;
use crate::response::{lambda_error, ApiError, Rendered};
use crate::EdgeState;

/// AWS's limit on a CreateFunction/UpdateFunctionCode request body (the largest of the API).
const MAX_CONTROL_BODY: usize = 70_167_211;

/// The Lambda service's routes (exact method + path templates).
pub fn router(state: Arc<EdgeState>) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions",
            post(functions::create).get(functions::list),
        )
        .route(
            "/2015-03-31/functions/",
            post(functions::create).get(functions::list),
        )
        .route(
            "/2015-03-31/functions/{function}",
            get(functions::get).delete(functions::delete),
        )
        .route(
            "/2015-03-31/functions/{function}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            "/2015-03-31/functions/{function}/code",
            put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{function}/invocations",
            post(invoke::invoke),
        )
        .route(
            "/2014-11-13/functions/{function}/invoke-async",
            post(invoke::invoke_async),
        )
        .route(
            "/2014-11-13/functions/{function}/invoke-async/",
            post(invoke::invoke_async),
        )
        .route(
            "/2015-03-31/functions/{function}/policy",
            post(permissions::add).get(permissions::get),
        )
        .route(
            "/2015-03-31/functions/{function}/policy/{statement}",
            delete(permissions::remove),
        )
        .route(
            "/2015-03-31/functions/{function}/versions",
            post(versions::publish).get(versions::list),
        )
        .route(
            "/2015-03-31/functions/{function}/aliases",
            post(aliases::create).get(aliases::list),
        )
        .route(
            "/2015-03-31/functions/{function}/aliases/{alias}",
            get(aliases::get)
                .put(aliases::update)
                .delete(aliases::delete),
        )
        .route(
            "/2017-10-31/functions/{function}/concurrency",
            put(concurrency::put_reserved).delete(concurrency::delete_reserved),
        )
        .route(
            "/2019-09-30/functions/{function}/concurrency",
            get(concurrency::get_reserved),
        )
        .route(
            "/2019-09-30/functions/{function}/provisioned-concurrency",
            get(concurrency::get_provisioned)
                .put(concurrency::put_provisioned)
                .delete(concurrency::delete_provisioned),
        )
        .route(
            "/2019-09-25/functions/{function}/event-invoke-config",
            get(event_config::get)
                .put(event_config::put)
                .post(event_config::update)
                .delete(event_config::delete),
        )
        .route(
            "/2019-09-25/functions/{function}/event-invoke-config/list",
            get(event_config::list),
        )
        .route(
            "/2021-10-31/functions/{function}/url",
            get(function_urls::get)
                .post(function_urls::create)
                .put(function_urls::update)
                .delete(function_urls::delete),
        )
        .route(
            "/2021-10-31/functions/{function}/urls",
            get(function_urls::list),
        )
        .route(
            "/2015-03-31/event-source-mappings",
            post(event_source_mappings::create).get(event_source_mappings::list),
        )
        .route(
            "/2015-03-31/event-source-mappings/",
            post(event_source_mappings::create).get(event_source_mappings::list),
        )
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(event_source_mappings::get)
                .put(event_source_mappings::update)
                .delete(event_source_mappings::delete),
        )
        .route("/2018-10-31/layers", get(layers::list_or_find))
        .route(
            "/2018-10-31/layers/{layer}/versions",
            post(layers::publish).get(layers::list_versions),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}",
            get(layers::get).delete(layers::delete),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy",
            post(layers::add_permission).get(layers::get_policy),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy/{statement}",
            delete(layers::remove_permission),
        )
        .route("/2016-08-19/account-settings", get(account::settings))
        .route("/2016-08-19/account-settings/", get(account::settings))
        .route(
            "/2017-03-31/tags/{resource}",
            get(account::list_tags)
                .post(account::tag)
                .delete(account::untag),
        )
        .fallback(|| async {
            ApiError(AwsError::unknown_operation(
                "The requested operation is not supported by Nubo's Lambda API",
            ))
        })
        .layer(axum::middleware::from_fn(read_body_first))
        .with_state(state)
}

/// The function registry.
pub(crate) fn registry(state: &EdgeState) -> &Registry {
    state.invoker.registry()
}

/// Set on a request whose body was over [`MAX_CONTROL_BODY`]: the handler answers with its own
/// operation's 413.
#[derive(Debug, Clone, Copy)]
struct BodyTooLarge;

/// Reads the whole body before the request is routed, and words every error as Lambda does.
///
/// Hyper closes a keep-alive connection whose request body was left unread, and clients that
/// reuse connections (boto3) then fail their next request on it; reading first keeps the
/// connection usable whatever a handler answers, and costs nothing extra (every Lambda operation
/// buffers its body anyway). On the way out, an error (a handler's or an extractor's) gets
/// Lambda's body, `{"Type", "Message"}`.
async fn read_body_first(req: Request, next: Next) -> Response {
    let response = read_then_route(req, next).await;
    match response.extensions().get::<Rendered>() {
        Some(Rendered(err)) => lambda_error(err),
        None => response,
    }
}

async fn read_then_route(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_CONTROL_BODY).collect().await {
        Ok(collected) => Body::from(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            parts.extensions.insert(BodyTooLarge);
            Body::empty()
        }
        Err(e) => {
            return ApiError(AwsError::invalid_request_content(format!(
                "Could not read the request body: {e}"
            )))
            .into_response()
        }
    };
    next.run(Request::from_parts(parts, body)).await
}

/// `MaxItems` from the query: `default` when absent, AWS's validation error outside `1..=max`.
pub(crate) fn max_items(query: &Query, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = query.get("MaxItems") else {
        return Ok(default);
    };
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| Violation::between(raw, "maxItems", 1, max).into())
}

/// One page of `all` (ordered by `key`), as Lambda's list operations page: after the entry whose
/// key is the `Marker` (or, when that entry is gone, after every entry whose key sorts before
/// it), at most `MaxItems` entries (1..=`max`, `default` when absent). Returns the page and, when
/// more entries follow, the marker of its last one.
pub(crate) fn page<'a, T>(
    all: &'a [T],
    query: &Query,
    (default, max): (usize, usize),
    key: impl Fn(&T) -> String,
) -> Result<(&'a [T], Option<String>), ApiError> {
    let limit = max_items(query, default, max)?;
    let start = match query.get("Marker").filter(|m| !m.is_empty()) {
        None => 0,
        Some(marker) => all.iter().position(|e| key(e) == marker).map_or_else(
            || all.iter().take_while(|e| key(e).as_str() <= marker).count(),
            |i| i + 1,
        ),
    };
    let rest = all.get(start..).unwrap_or_default();
    let page = &rest[..rest.len().min(limit)];
    let next = (rest.len() > limit).then(|| key(&page[limit - 1]));
    Ok((page, next))
}

/// AWS's error for a required member that is missing.
pub(crate) fn required(member: &str) -> ApiError {
    Violation::required(member).into()
}

/// A Lambda request's body, at most `limit` bytes; over it is AWS's 413 with `too_large` as the
/// message.
pub(crate) async fn read_request(
    req: Request,
    limit: usize,
    too_large: &str,
) -> Result<Bytes, ApiError> {
    if req.extensions().get::<BodyTooLarge>().is_some() {
        return Err(ApiError(AwsError::request_too_large(too_large)));
    }
    read_body(req.into_body(), limit, too_large).await
}

/// Reads a body up to `limit` bytes; over it is AWS's 413 with `too_large` as the message.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    too_large: &str,
) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError(AwsError::request_too_large(too_large)))
        }
        Err(e) => Err(ApiError(AwsError::invalid_request_content(format!(
            "Could not read the request body: {e}"
        )))),
    }
}

/// Parses a JSON body into a wire shape; malformed JSON gets AWS's error, not a framework's.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.is_empty() {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError(AwsError::invalid_request_content(format!(
            "Could not parse request body into json: {e}"
        )))
    })
}

/// Reads and parses a control-plane body of `operation`.
pub(crate) async fn json_body<T: DeserializeOwned>(
    req: Request,
    operation: &str,
) -> Result<T, ApiError> {
    let bytes = read_request(
        req,
        MAX_CONTROL_BODY,
        &format!(
            "Request must be smaller than {MAX_CONTROL_BODY} bytes for the {operation} operation"
        ),
    )
    .await?;
    parse_json(&bytes)
}
