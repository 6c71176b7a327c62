//! Why a request ends with the gateway's own answer, and that answer: every phase returns
//! `Result<_, Reject>`, and a `Reject` becomes a response in exactly one place
//! ([`Reject::into_response`]), per endpoint kind (an HTTP API and a Function URL answer some
//! failures with different statuses, as AWS's do).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::{GatewayBody, GatewayResponse};

/// Which kind of endpoint is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// An HTTP API (apigatewayv2).
    HttpApi,
    /// A Lambda Function URL.
    FunctionUrl,
    /// A REST API (apigateway v1): an unknown resource or method is 403 `Missing
    /// Authentication Token`, as AWS answers it.
    RestApi,
}

/// The request stops here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// No such API, stage or route (404 `Not Found`).
    NotFound,
    /// The caller may not call this (403 `Forbidden`).
    Forbidden,
    /// An `AWS_IAM` route or URL called without a signature (403 `Missing Authentication Token`).
    MissingAuthenticationToken,
    /// A signature that does not verify, or an unknown or expired key (403, with why).
    Unauthorized(String),
    /// A Lambda authorizer found no identity or answered `Unauthorized` (401).
    Unauthenticated,
    /// A JWT route's token does not verify (401 `Unauthorized`, with why in `WWW-Authenticate`).
    InvalidToken(String),
    /// A JWT route's token has none of the route's scopes (403 `Forbidden`, the scopes in
    /// `WWW-Authenticate`).
    InsufficientScope(Vec<String>),
    /// A throttle bucket is empty (429 `Too Many Requests`).
    Throttled,
    /// A usage plan's quota is used up (429 `Limit Exceeded`).
    LimitExceeded,
    /// The body is over the payload limit (413).
    PayloadTooLarge,
    /// The body could not be read (400).
    BadRequest,
    /// A CORS preflight the gateway answers itself, with these headers.
    Preflight(Vec<(String, String)>),
    /// The function failed (unhandled error, timeout inside Lambda, crash).
    FunctionError,
    /// The function's output does not make a response.
    MalformedResponse(String),
    /// The integration did not answer within `timeoutInMillis`.
    IntegrationTimeout,
    /// Lambda refused the invocation for concurrency.
    FunctionThrottled,
    /// The integration could not be reached or run (function not found, backend down, …).
    IntegrationFailed(String),
    /// An HTTP backend did not answer in time.
    GatewayTimeout,
}

impl Reject {
    /// The gateway's answer.
    pub fn into_response(self, endpoint: Endpoint) -> GatewayResponse {
        let url = endpoint == Endpoint::FunctionUrl;
        match self {
            Self::NotFound if endpoint == Endpoint::RestApi => {
                message(StatusCode::FORBIDDEN, "Missing Authentication Token")
            }
            Self::NotFound => message(StatusCode::NOT_FOUND, "Not Found"),
            Self::Forbidden => message(StatusCode::FORBIDDEN, "Forbidden"),
            Self::MissingAuthenticationToken => {
                message(StatusCode::FORBIDDEN, "Missing Authentication Token")
            }
            Self::Unauthorized(why) => message(StatusCode::FORBIDDEN, &why),
            Self::Throttled | Self::FunctionThrottled => {
                message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
            }
            Self::Unauthenticated => message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            Self::InvalidToken(why) => with_headers(
                message(StatusCode::UNAUTHORIZED, "Unauthorized"),
                &[(
                    "www-authenticate".into(),
                    format!(
                        "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{why}\""
                    ),
                )],
            ),
            Self::InsufficientScope(scopes) => {
                let scopes = scopes.join(" ");
                with_headers(
                    message(StatusCode::FORBIDDEN, "Forbidden"),
                    &[(
                        "www-authenticate".into(),
                        format!(
                            "Bearer scope=\"{scopes}\" error=\"insufficient_scope\" \
                             error_description=\"expected scopes: [{scopes}]\""
                        ),
                    )],
                )
            }
            Self::LimitExceeded => message(StatusCode::TOO_MANY_REQUESTS, "Limit Exceeded"),
            Self::PayloadTooLarge => {
                message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
            }
            Self::BadRequest => message(StatusCode::BAD_REQUEST, "Bad Request"),
            Self::Preflight(headers) => {
                // HTTP APIs answer a preflight with 204; Function URLs with 200.
                let status = if url {
                    StatusCode::OK
                } else {
                    StatusCode::NO_CONTENT
                };
                let mut response = http::Response::new(full_body(Bytes::new()));
                *response.status_mut() = status;
                with_headers(response, &headers)
            }
            // A Function URL answers a function's failure as a bad gateway.
            Self::FunctionError | Self::MalformedResponse(_) if url => {
                message(StatusCode::BAD_GATEWAY, "Internal Server Error")
            }
            Self::FunctionError | Self::MalformedResponse(_) | Self::IntegrationFailed(_) => {
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Self::IntegrationTimeout => {
                message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
            Self::GatewayTimeout => message(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout"),
        }
    }

    /// What the access log's `$context.error.message` says.
    pub fn log_message(&self) -> Option<String> {
        match self {
            Self::FunctionError => Some("function error".into()),
            Self::MalformedResponse(why) | Self::IntegrationFailed(why) => Some(why.clone()),
            Self::IntegrationTimeout => Some("integration timeout".into()),
            Self::FunctionThrottled => Some("function throttled".into()),
            _ => None,
        }
    }
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

/// Appends headers (names or values that are not valid HTTP are left out).
pub fn with_headers(
    mut response: GatewayResponse,
    headers: &[(String, String)],
) -> GatewayResponse {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_decides_how_a_function_failure_is_answered() {
        let api = Reject::FunctionError.into_response(Endpoint::HttpApi);
        let url = Reject::FunctionError.into_response(Endpoint::FunctionUrl);
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(url.status(), StatusCode::BAD_GATEWAY);
        let preflight = Reject::Preflight(vec![("access-control-allow-origin".into(), "*".into())]);
        assert_eq!(
            preflight.clone().into_response(Endpoint::HttpApi).status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            preflight.into_response(Endpoint::FunctionUrl).status(),
            StatusCode::OK
        );
    }
}
