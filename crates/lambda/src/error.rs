//! Errors of the control plane and the invoker, and their one mapping to AWS error types.

use nubo_store::StoreError;
use nubo_wire::AwsError;

/// Control-plane failures (create, update, delete, …).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A member outside its constraints (AWS: `ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// A value Lambda refuses (`InvalidParameterValueException`).
    #[error("{0}")]
    InvalidParameter(String),
    /// No such function, version or alias.
    #[error("{0}")]
    NotFound(String),
    /// Already exists, or in a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
    /// A `RevisionId` / `CodeSha256` precondition did not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A function policy would grow over its size limit.
    #[error("{0}")]
    PolicyLengthExceeded(String),
    /// The caller may not use a resource of another account (`AccessDeniedException`).
    #[error("{0}")]
    AccessDenied(String),
    /// The upload is over a size limit.
    #[error("{0}")]
    RequestTooLarge(String),
    /// Persistence failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<nubo_wire::Violation> for ControlError {
    fn from(violation: nubo_wire::Violation) -> Self {
        Self::Validation(AwsError::from(violation).message)
    }
}

impl From<ControlError> for AwsError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Validation(m) => AwsError::validation(m),
            ControlError::InvalidParameter(m) => AwsError::invalid_parameter(m),
            ControlError::NotFound(m) => AwsError::resource_not_found(m),
            ControlError::Conflict(m) => AwsError::resource_conflict(m),
            ControlError::PreconditionFailed(m) => AwsError::precondition_failed(m),
            ControlError::RequestTooLarge(m) => AwsError::request_too_large(m),
            ControlError::AccessDenied(m) => {
                AwsError::new("AccessDeniedException", http::StatusCode::FORBIDDEN, m)
            }
            ControlError::PolicyLengthExceeded(m) => AwsError::new(
                "PolicyLengthExceededException",
                http::StatusCode::BAD_REQUEST,
                m,
            ),
            ControlError::Store(StoreError::InvalidZip(_)) => AwsError::invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            ),
            ControlError::Store(e @ StoreError::UnzippedTooLarge { .. }) => {
                AwsError::invalid_parameter(format!(
                    "Unzipped size must be smaller than {} bytes",
                    limit_of(&e)
                ))
            }
            ControlError::Store(StoreError::NotFound(m)) => AwsError::resource_not_found(m),
            ControlError::Store(StoreError::AlreadyExists(m) | StoreError::Conflict(m)) => {
                AwsError::resource_conflict(m)
            }
            ControlError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                AwsError::service("An internal error occurred in the state store.")
            }
        }
    }
}

fn limit_of(e: &StoreError) -> u64 {
    match e {
        StoreError::UnzippedTooLarge { limit } => *limit,
        _ => 0,
    }
}

/// Failures of an invocation that are not the function's own errors (those are results, see
/// [`crate::invoke::InvokeResult`]).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// Resolving the function failed.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The payload is not valid JSON.
    #[error("Could not parse request body into json: {0}")]
    InvalidRequestContent(String),
    /// Over a payload limit.
    #[error("{0}")]
    RequestTooLarge(String),
    /// Over a concurrency limit; the `Reason` AWS reports.
    #[error("Rate Exceeded.")]
    Throttled {
        /// `ConcurrentInvocationLimitExceeded` or `ReservedFunctionConcurrentInvocationLimitExceeded`.
        reason: &'static str,
    },
    /// The runtime has no interpreter or bootstrap support on this host.
    #[error("{0}")]
    InvalidRuntime(String),
    /// Starting the environment failed on our side.
    #[error("could not start an execution environment: {0}")]
    Sandbox(String),
}

impl From<InvokeError> for AwsError {
    fn from(err: InvokeError) -> Self {
        match err {
            InvokeError::Control(e) => e.into(),
            e @ InvokeError::InvalidRequestContent(_) => {
                AwsError::invalid_request_content(e.to_string())
            }
            InvokeError::RequestTooLarge(m) => AwsError::request_too_large(m),
            InvokeError::Throttled { reason } => {
                AwsError::too_many_requests("Rate Exceeded.").with_extra("Reason", reason)
            }
            InvokeError::InvalidRuntime(m) => AwsError::invalid_runtime(m),
            InvokeError::Sandbox(m) => {
                tracing::error!(error = %m, "sandbox failure");
                AwsError::service(format!("Could not start an execution environment: {m}"))
            }
        }
    }
}
