//! IAM's and STS's errors, as the query protocol returns them (codes and statuses from
//! `botocore/data/iam/2010-05-08/service-2.json` and `sts/2011-06-15`; message texts as IAM writes
//! them, e.g. "The user with name alice cannot be found.").

use http::StatusCode;
use nubo_wire::AwsError;

/// A refused IAM/STS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    /// `NoSuchEntity` (404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// `EntityAlreadyExists` (409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// `MalformedPolicyDocument` (400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `ValidationError` (400): a parameter breaks the model's constraints.
    #[error("{0}")]
    Validation(String),
    /// `InvalidInput` (400).
    #[error("{0}")]
    InvalidInput(String),
    /// `LimitExceeded` (409).
    #[error("{0}")]
    LimitExceeded(String),
    /// `DeleteConflict` (409).
    #[error("{0}")]
    DeleteConflict(String),
    /// `UnmodifiableEntity` (400).
    #[error("{0}")]
    Unmodifiable(String),
    /// `AccessDenied` (403), e.g. a trust policy that does not name the caller.
    #[error("{0}")]
    AccessDenied(String),
    /// `ServiceFailure` (500): the store refused a write.
    #[error("{0}")]
    ServiceFailure(String),
}

impl From<IamError> for AwsError {
    fn from(e: IamError) -> Self {
        let (code, status) = match &e {
            IamError::NoSuchEntity(_) => ("NoSuchEntity", StatusCode::NOT_FOUND),
            IamError::EntityAlreadyExists(_) => ("EntityAlreadyExists", StatusCode::CONFLICT),
            IamError::MalformedPolicyDocument(_) => {
                ("MalformedPolicyDocument", StatusCode::BAD_REQUEST)
            }
            IamError::Validation(_) => ("ValidationError", StatusCode::BAD_REQUEST),
            IamError::InvalidInput(_) => ("InvalidInput", StatusCode::BAD_REQUEST),
            IamError::LimitExceeded(_) => ("LimitExceeded", StatusCode::CONFLICT),
            IamError::DeleteConflict(_) => ("DeleteConflict", StatusCode::CONFLICT),
            IamError::Unmodifiable(_) => ("UnmodifiableEntity", StatusCode::BAD_REQUEST),
            IamError::AccessDenied(_) => ("AccessDenied", StatusCode::FORBIDDEN),
            IamError::ServiceFailure(_) => ("ServiceFailure", StatusCode::INTERNAL_SERVER_ERROR),
        };
        AwsError::new(code, status, e.to_string())
    }
}

impl From<crate::policy::PolicyError> for IamError {
    fn from(e: crate::policy::PolicyError) -> Self {
        Self::MalformedPolicyDocument(e.message)
    }
}

/// `1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint: …`.
pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}
