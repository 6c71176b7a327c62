//! `json` (awsJson1_0 and awsJson1_1): every call is `POST /` with
//! `X-Amz-Target: {TargetPrefix}.{Operation}`, `Content-Type: application/x-amz-json-1.x` and the
//! input's members as a JSON body; a reply is the output's members as JSON.
//!
//! Errors are `{"__type": "Code", "message": "…"}` with the code also in `x-amzn-ErrorType`:
//! botocore's JSONParser reads `__type` (dropping a `namespace#` prefix) and `message` or
//! `Message`; other SDKs read the header.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{reply, WireResponse};
use crate::AwsError;

/// The header that names the operation.
pub const TARGET_HEADER: &str = "x-amz-target";

/// The two versions differ only in their content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonVersion {
    /// `application/x-amz-json-1.0` (DynamoDB, SQS, CloudWatch, Step Functions).
    V1_0,
    /// `application/x-amz-json-1.1` (CloudWatch Logs, EventBridge, ECR, Kinesis, KMS, …).
    V1_1,
}

impl JsonVersion {
    /// The content type of requests and replies.
    pub fn content_type(self) -> &'static str {
        match self {
            JsonVersion::V1_0 => "application/x-amz-json-1.0",
            JsonVersion::V1_1 => "application/x-amz-json-1.1",
        }
    }

    /// The version a request's content type names, if it names one.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case("application/x-amz-json-1.0") {
            Some(JsonVersion::V1_0)
        } else if media_type.eq_ignore_ascii_case("application/x-amz-json-1.1") {
            Some(JsonVersion::V1_1)
        } else {
            None
        }
    }
}

crate::error_table! {
    /// The errors every json-protocol service shares.
    pub struct JsonErrors {
        unknown_operation => ("UnknownOperationException", BAD_REQUEST),
        serialization => ("SerializationException", BAD_REQUEST),
    }
}

/// An `X-Amz-Target` value, split at its last dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The whole value, e.g. `DynamoDB_20120810.PutItem`: services route on it.
    pub full: &'a str,
    /// e.g. `DynamoDB_20120810`.
    pub prefix: &'a str,
    /// e.g. `PutItem`.
    pub operation: &'a str,
}

/// The operation a request names; a missing or malformed target is `UnknownOperationException`.
pub fn target(headers: &HeaderMap) -> Result<Target<'_>, AwsError> {
    let value = headers.get(TARGET_HEADER).ok_or_else(|| {
        JsonErrors::unknown_operation("The request names no operation (X-Amz-Target is missing)")
    })?;
    let full = value
        .to_str()
        .map_err(|_| JsonErrors::unknown_operation("X-Amz-Target is not valid text"))?;
    match full.rsplit_once('.') {
        Some((prefix, operation)) if !prefix.is_empty() && !operation.is_empty() => Ok(Target {
            full,
            prefix,
            operation,
        }),
        _ => Err(JsonErrors::unknown_operation(format!(
            "X-Amz-Target '{full}' is not of the form Prefix.Operation"
        ))),
    }
}

/// Decodes a JSON body into an input shape (an empty body has no members); anything else that is
/// not the shape is `SerializationException`, as AWS answers.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let body = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|e| JsonErrors::serialization(format!("Could not read the request body: {e}")))
}

/// A 200 reply carrying the output's members.
pub fn response<T: Serialize + ?Sized>(version: JsonVersion, output: &T) -> WireResponse {
    encoded_response(version, serde_json::to_vec(output).unwrap_or_default())
}

/// A 200 reply whose body the handler has already encoded as JSON.
pub fn encoded_response(version: JsonVersion, body: impl Into<Bytes>) -> WireResponse {
    reply(StatusCode::OK, version.content_type(), body)
}

/// `{"__type": code, "message": …, …extra}`.
pub fn error_body(err: &AwsError) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("__type".into(), Value::from(err.code));
    body.insert("message".into(), Value::from(err.message.as_str()));
    for (key, value) in err.extra.iter().flatten() {
        body.insert(key.clone(), value.clone());
    }
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

/// The error reply: status, `x-amzn-ErrorType`, JSON body.
pub fn error_response(version: JsonVersion, err: &AwsError) -> WireResponse {
    let mut response = reply(err.status, version.content_type(), error_body(err));
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(err.code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(target: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TARGET_HEADER, HeaderValue::from_str(target).unwrap());
        headers
    }

    #[test]
    fn target_splits_at_the_last_dot() {
        let headers = headers("AWSEvents.PutEvents");
        let target = target(&headers).unwrap();
        assert_eq!(
            (target.full, target.prefix, target.operation),
            ("AWSEvents.PutEvents", "AWSEvents", "PutEvents")
        );
        for bad in ["PutEvents", ".PutEvents", "AWSEvents."] {
            let err = super::target(&self::headers(bad)).unwrap_err();
            assert_eq!(err.code, "UnknownOperationException", "{bad}");
        }
        assert_eq!(
            super::target(&HeaderMap::new()).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            JsonVersion::from_content_type("application/x-amz-json-1.0; charset=utf-8"),
            Some(JsonVersion::V1_0)
        );
        assert_eq!(
            JsonVersion::from_content_type("application/x-amz-json-1.1"),
            Some(JsonVersion::V1_1)
        );
        assert_eq!(JsonVersion::from_content_type("application/json"), None);
    }

    #[test]
    fn error_reply() {
        let err = JsonErrors::unknown_operation("no such operation");
        let response = error_response(JsonVersion::V1_0, &err);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()["content-type"],
            "application/x-amz-json-1.0"
        );
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "UnknownOperationException"
        );
        assert_eq!(
            response.body().as_ref(),
            br#"{"__type":"UnknownOperationException","message":"no such operation"}"#
        );
    }

    #[test]
    fn malformed_input_is_a_serialization_error() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Input {
            #[serde(rename = "TableName")]
            table_name: String,
        }
        assert_eq!(
            decode::<Input>(b"{").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            decode::<Input>(b"{}").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            decode::<Input>(br#"{"TableName":"t"}"#).unwrap().table_name,
            "t"
        );
    }
}
