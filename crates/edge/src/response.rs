//! Errors become wire responses here, and only here.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use nubo_wire::AwsError;

/// The request id minted at ingress, carried as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A handler error: any layer's error converts into it with `?`.
#[derive(Debug)]
pub struct ApiError(pub AwsError);

impl<E: Into<AwsError>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = rest_json_error(&self.0);
        // A service whose error body differs (Lambda's `Message`) renders it again from this.
        response.extensions_mut().insert(Rendered(self.0));
        response
    }
}

/// The error a response was rendered from, for a router that words its errors its own way.
#[derive(Debug, Clone)]
pub(crate) struct Rendered(pub(crate) AwsError);

/// Renders an error in rest-json form: status, `x-amzn-ErrorType`, `{"Type","message"}`.
pub fn rest_json_error(err: &AwsError) -> Response {
    nubo_wire::protocol::rest_json::error_response(err).map(Body::from)
}

/// Renders an error as Lambda does: status, `x-amzn-ErrorType`, `{"Type","Message"}`.
pub fn lambda_error(err: &AwsError) -> Response {
    nubo_wire::protocol::rest_json::lambda_error_response(err).map(Body::from)
}

/// A JSON success response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An empty response with a status.
pub fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Handler result.
pub type ApiResult = Result<Response, ApiError>;
