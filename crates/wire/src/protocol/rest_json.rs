//! `rest-json`: the operation is the method + path template (routing is the edge's), input members
//! come from the path, query string, headers and a JSON body, replies are JSON.
//!
//! Errors carry the code in `x-amzn-ErrorType` (botocore's RestJSONParser prefers that header to
//! any body member) and a JSON body: `{"Type": "User", "message": …}` plus any extra members for
//! most services, and Lambda's own `{"Type": "User", "Message": …}` ([`lambda_error_response`]), as
//! AWS Lambda words its error bodies (SDKs that read the body, not botocore, look for `Message`).

use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{reply, WireResponse};
use crate::AwsError;

/// The content type of rest-json bodies.
pub const CONTENT_TYPE: &str = "application/json";

/// Decodes a JSON body into an input shape; an empty body is an input with no members.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let body = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
}

/// A JSON reply with `status`.
pub fn response<T: Serialize + ?Sized>(status: StatusCode, output: &T) -> WireResponse {
    reply(
        status,
        CONTENT_TYPE,
        serde_json::to_vec(output).unwrap_or_default(),
    )
}

/// The error reply: status, `x-amzn-ErrorType: Code`, `{"Type", "message", …extra}`.
pub fn error_response(err: &AwsError) -> WireResponse {
    with_error_type(reply(err.status, CONTENT_TYPE, err.rest_json_body()), err)
}

/// Lambda's error reply: status, `x-amzn-ErrorType: Code`, `{"Type", "Message", …extra}`.
pub fn lambda_error_response(err: &AwsError) -> WireResponse {
    with_error_type(reply(err.status, CONTENT_TYPE, err.lambda_body()), err)
}

fn with_error_type(mut response: WireResponse, err: &AwsError) -> WireResponse {
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(err.code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_keeps_lambdas_body_and_names_the_code_in_a_header() {
        let err = AwsError::resource_not_found(
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f",
        );
        let response = error_response(&err);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "ResourceNotFoundException"
        );
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            response.body().as_ref(),
            br#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:f"}"#
        );
    }

    #[test]
    fn lambda_says_message_with_a_capital() {
        let err = AwsError::resource_not_found("The resource you requested does not exist.");
        let response = lambda_error_response(&err);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "ResourceNotFoundException"
        );
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"Type": "User", "Message": "The resource you requested does not exist."})
        );
    }

    #[test]
    fn empty_body_is_an_empty_input() {
        #[derive(serde::Deserialize)]
        struct Input {
            name: Option<String>,
        }
        assert!(decode::<Input>(b"").unwrap().name.is_none());
        assert!(decode::<Input>(b"{\"name\":").is_err());
    }
}
