//! The Lambda API as botocore's `lambda/2015-03-31` model defines it (rest-json).
//!
//! Handlers parse wire shapes ([`shapes`]), call the lambda layer, and render its types back into
//! wire shapes. One module per resource: [`functions`], [`versions`] (and aliases),
//! [`concurrency`] (reserved and provisioned), [`invoke`], [`event_config`] (asynchronous
//! invocation settings), [`account`] (settings and tags), [`function_urls`] (Function URL configs).

mod account;
mod concurrency;
mod event_config;
mod function_urls;
mod functions;
mod invoke;
pub mod shapes;
mod versions;

use std::sync::Arc;

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use nubo_wire::AwsError;
use serde::de::DeserializeOwned;

use crate::query::Query;
use crate::response::{rest_json_error, ApiError};
use crate::EdgeState;

/// AWS's limit on a CreateFunction/UpdateFunctionCode request body.
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
            axum::routing::put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{function}/invocations",
            post(invoke::invoke),
        )
        .route(
            "/2015-03-31/functions/{function}/versions",
            post(versions::publish).get(versions::list_versions),
        )
        .route(
            "/2015-03-31/functions/{function}/aliases",
            post(versions::create_alias).get(versions::list_aliases),
        )
        .route(
            "/2015-03-31/functions/{function}/aliases/{alias}",
            get(versions::get_alias)
                .put(versions::update_alias)
                .delete(versions::delete_alias),
        )
        .route(
            "/2017-10-31/functions/{function}/concurrency",
            axum::routing::put(concurrency::put_reserved).delete(concurrency::delete_reserved),
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
        .route("/2016-08-19/account-settings", get(account::settings))
        .route("/2016-08-19/account-settings/", get(account::settings))
        .route(
            "/2017-03-31/tags/{resource}",
            get(account::list_tags)
                .post(account::tag)
                .delete(account::untag),
        )
        .fallback(|| async {
            rest_json_error(&AwsError::unknown_operation(
                "The requested operation is not supported by Nubo's Lambda API",
            ))
        })
        .with_state(state)
}

/// `MaxItems` from the query: `default` when absent, AWS's validation error outside `1..=max`.
pub(crate) fn max_items(query: &Query, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = query.get("MaxItems") else {
        return Ok(default);
    };
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError(AwsError::validation(format!(
                "1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and {max}"
            )))
        })
}

/// AWS's error for a required member that is missing.
pub(crate) fn required(member: &str) -> ApiError {
    ApiError(AwsError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    )))
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

/// Reads and parses a control-plane body.
pub(crate) async fn json_body<T: DeserializeOwned>(
    body: Body,
    operation: &str,
) -> Result<T, ApiError> {
    let bytes = read_body(
        body,
        MAX_CONTROL_BODY,
        &format!(
            "Request must be smaller than {MAX_CONTROL_BODY} bytes for the {operation} operation"
        ),
    )
    .await?;
    parse_json(&bytes)
}
