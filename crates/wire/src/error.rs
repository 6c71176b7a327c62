//! The one error type that becomes a wire response.
//!
//! Every layer has its own error enum; each converts into [`AwsError`] with the exact AWS error code
//! and HTTP status. Rendering is the protocol's job ([`crate::protocol`]), and the edge is the only
//! caller; error codes live in one table per service ([`crate::error_table!`]).

use http::StatusCode;
use serde_json::{Map, Value};

/// An AWS-shaped error: code (e.g. `ResourceNotFoundException`), status, human message and any
/// extra members AWS adds to the body (e.g. `Reason` on throttles).
#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    /// The error type as it appears in `x-amzn-ErrorType` and botocore's `Error.Code`.
    pub code: &'static str,
    /// HTTP status.
    pub status: StatusCode,
    /// Human readable message.
    pub message: String,
    /// Extra body members, e.g. `{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}`.
    pub extra: Option<Map<String, Value>>,
}

/// The JSON body of a rest-json error, rendered.
pub type ErrorBody = Vec<u8>;

/// Declares a table of AWS error codes: one constructor per code, each taking the message.
///
/// Every service keeps its codes in one such table (the codes and statuses are botocore's), so a
/// code is spelled once and handlers write `S3Errors::no_such_bucket(msg)`:
///
/// ```
/// nubo_wire::error_table! {
///     /// Errors of an example service.
///     pub struct ExampleErrors {
///         no_such_thing => ("NoSuchThing", NOT_FOUND),
///     }
/// }
/// let err = ExampleErrors::no_such_thing("The thing does not exist");
/// assert_eq!((err.code, err.status.as_u16()), ("NoSuchThing", 404));
/// ```
#[macro_export]
macro_rules! error_table {
    (
        $(#[$meta:meta])*
        $vis:vis struct $table:ident {
            $($fn_name:ident => ($code:literal, $status:ident)),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $table;

        impl $table {
            $(
                #[doc = concat!("`", $code, "` (", stringify!($status), ").")]
                #[allow(dead_code)]
                $vis fn $fn_name(message: impl Into<String>) -> $crate::AwsError {
                    $crate::AwsError::new($code, $crate::__http::StatusCode::$status, message)
                }
            )*
        }
    };
}

macro_rules! constructors {
    ($($fn_name:ident => ($code:literal, $status:ident)),* $(,)?) => {
        impl AwsError {
            $(
                #[doc = concat!("`", $code, "` (", stringify!($status), ").")]
                pub fn $fn_name(message: impl Into<String>) -> Self {
                    Self::new($code, StatusCode::$status, message)
                }
            )*
        }
    };
}

// Lambda's table (the first service, so its constructors sit on `AwsError` itself), plus the
// signature errors every service shares; statuses are botocore's. Other services declare their
// own with [`crate::error_table!`].
constructors! {
    invalid_parameter => ("InvalidParameterValueException", BAD_REQUEST),
    validation => ("ValidationException", BAD_REQUEST),
    resource_not_found => ("ResourceNotFoundException", NOT_FOUND),
    resource_conflict => ("ResourceConflictException", CONFLICT),
    precondition_failed => ("PreconditionFailedException", PRECONDITION_FAILED),
    too_many_requests => ("TooManyRequestsException", TOO_MANY_REQUESTS),
    request_too_large => ("RequestEntityTooLargeException", PAYLOAD_TOO_LARGE),
    invalid_request_content => ("InvalidRequestContentException", BAD_REQUEST),
    unsupported_media_type => ("UnsupportedMediaTypeException", UNSUPPORTED_MEDIA_TYPE),
    invalid_runtime => ("InvalidRuntimeException", BAD_GATEWAY),
    service => ("ServiceException", INTERNAL_SERVER_ERROR),
    missing_authentication_token => ("MissingAuthenticationTokenException", FORBIDDEN),
    incomplete_signature => ("IncompleteSignatureException", FORBIDDEN),
    invalid_signature => ("InvalidSignatureException", FORBIDDEN),
    unknown_operation => ("UnknownOperationException", NOT_FOUND),
}

impl AwsError {
    /// An error with an explicit code and status.
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            extra: None,
        }
    }

    /// Adds a body member (AWS puts e.g. `Reason` beside `message`).
    pub fn with_extra(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }

    /// `User` for client faults, `Server` for ours — the `Type` member Lambda puts in error bodies.
    pub fn fault_type(&self) -> &'static str {
        if self.status.is_server_error() {
            "Server"
        } else {
            "User"
        }
    }

    /// `Sender` for client faults, `Receiver` for ours — the `Type` of query and XML error bodies.
    pub fn xml_fault_type(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// The rest-json body: `{"Type": "User", "message": "...", ...extra}`.
    pub fn rest_json_body(&self) -> ErrorBody {
        self.typed_body("message")
    }

    /// Lambda's body: `{"Type": "User", "Message": "...", ...extra}`.
    pub fn lambda_body(&self) -> ErrorBody {
        self.typed_body("Message")
    }

    fn typed_body(&self, message_key: &str) -> ErrorBody {
        let mut body = Map::new();
        body.insert("Type".into(), Value::from(self.fault_type()));
        body.insert(message_key.into(), Value::from(self.message.clone()));
        if let Some(extra) = &self.extra {
            for (key, value) in extra {
                body.insert(key.clone(), value.clone());
            }
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_type_message_and_extra() {
        let err = AwsError::too_many_requests("Rate exceeded").with_extra(
            "Reason",
            "ReservedFunctionConcurrentInvocationLimitExceeded",
        );
        let body: Value = serde_json::from_slice(&err.rest_json_body()).unwrap();
        assert_eq!(body["Type"], "User");
        assert_eq!(body["message"], "Rate exceeded");
        assert_eq!(
            body["Reason"],
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        );
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn server_faults_say_server() {
        assert_eq!(AwsError::service("boom").fault_type(), "Server");
    }
}
