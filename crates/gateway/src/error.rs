//! `GatewayError`: the control plane's failures, with the apigatewayv2 error types they become.

use http::StatusCode;
use nubo_wire::AwsError;

/// Failures of an API Gateway or Function URL control operation.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No such API, route, integration, stage or deployment (`NotFoundException`, 404).
    #[error("{message}")]
    NotFound {
        /// `resourceType` in the body (e.g. `Api`, `Route`).
        resource_type: &'static str,
        /// What was not found.
        message: String,
    },
    /// The request is invalid (`BadRequestException`, 400).
    #[error("{0}")]
    BadRequest(String),
    /// It clashes with an existing resource (`ConflictException`, 409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("could not persist the change: {0}")]
    Store(#[from] nubo_store::StoreError),
}

impl GatewayError {
    /// `NotFoundException` for a resource of `resource_type` with `id`.
    pub fn not_found(resource_type: &'static str, id: &str) -> Self {
        Self::NotFound {
            resource_type,
            message: format!("Invalid {resource_type} identifier specified {id}"),
        }
    }

    /// `BadRequestException`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
}

impl From<GatewayError> for AwsError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::NotFound {
                resource_type,
                message,
            } => AwsError::new("NotFoundException", StatusCode::NOT_FOUND, message)
                .with_extra("resourceType", resource_type),
            GatewayError::BadRequest(m) => {
                AwsError::new("BadRequestException", StatusCode::BAD_REQUEST, m)
            }
            GatewayError::Conflict(m) => {
                AwsError::new("ConflictException", StatusCode::CONFLICT, m)
            }
            GatewayError::Store(e) => {
                tracing::error!(error = %e, "gateway store failure");
                AwsError::new(
                    "InternalServerErrorException",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string(),
                )
            }
        }
    }
}
