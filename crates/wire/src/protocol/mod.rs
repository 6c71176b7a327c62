//! The four wire protocols AWS services speak (botocore's `metadata.protocol`), one module each:
//! how a request names its operation and carries its input, and how a reply or an error looks.
//!
//! | protocol | operation named by | input | reply | error |
//! |---|---|---|---|---|
//! | [`rest_json`] | method + path | path, query, headers, JSON body | JSON | `x-amzn-ErrorType` + JSON |
//! | [`json`] 1.0 / 1.1 | `X-Amz-Target: Prefix.Operation` | JSON body | JSON | `{"__type", "message"}` |
//! | [`query`] | `Action=` (form fields) | flattened form fields | `<OpResponse><OpResult>` | `<ErrorResponse>` |
//! | [`rest_xml`] | method + path | path, query, headers, XML body | XML | S3's `<Error>` |
//!
//! A service declares its [`Protocol`]; the edge finds the operation, the handler returns
//! `Result<Output, AwsError>`, and the protocol encodes either. Replies are plain
//! `http::Response<Bytes>` ([`WireResponse`]) so this crate stays free of any HTTP server.
//! What each encoding must look like is pinned by golden files under `tests/golden/` that the
//! end-to-end suite feeds to botocore's own parsers (`tests/e2e/test_wire_protocols.py`).

pub mod json;
pub mod query;
pub mod rest_json;
pub mod rest_xml;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::Value;

use crate::xml::XmlWriter;
use crate::AwsError;

/// A reply ready for the wire.
pub type WireResponse = http::Response<Bytes>;

/// The protocol a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `rest-json` (Lambda, API Gateway, X-Ray, …).
    RestJson,
    /// `json` 1.0 or 1.1 (DynamoDB, SQS, CloudWatch Logs, EventBridge, …).
    Json(json::JsonVersion),
    /// `query` (IAM, STS, SNS, CloudFormation, SQS before 2023, …), with the service's XML namespace.
    Query {
        /// e.g. `https://iam.amazonaws.com/doc/2010-05-08/`.
        xml_namespace: &'static str,
    },
    /// `rest-xml` with S3's error shape.
    RestXml,
}

impl Protocol {
    /// botocore's name for the protocol.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::RestJson => "rest-json",
            Protocol::Json(_) => "json",
            Protocol::Query { .. } => "query",
            Protocol::RestXml => "rest-xml",
        }
    }

    /// Renders `err` as this protocol's error reply.
    pub fn error_response(self, err: &AwsError, request_id: &str) -> WireResponse {
        match self {
            Protocol::RestJson => rest_json::error_response(err),
            Protocol::Json(version) => json::error_response(version, err),
            Protocol::Query { xml_namespace } => {
                query::error_response(xml_namespace, err, request_id)
            }
            Protocol::RestXml => rest_xml::error_response(err, request_id),
        }
    }

    /// The error a service of this protocol answers for an operation it does not have — the
    /// same error an AWS service gives, so SDKs raise their usual exception.
    pub fn unknown_operation(self, message: impl Into<String>) -> AwsError {
        match self {
            Protocol::RestJson => AwsError::unknown_operation(message),
            Protocol::Json(_) => json::JsonErrors::unknown_operation(message),
            Protocol::Query { .. } => query::QueryErrors::invalid_action(message),
            Protocol::RestXml => rest_xml::RestXmlErrors::not_implemented(message),
        }
    }
}

/// A reply with a status, a content type and a body.
pub(crate) fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> WireResponse {
    let mut response = http::Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response
}

/// Writes an error's extra members (e.g. S3's `BucketName`) as elements: strings, numbers and
/// booleans as text, objects as nested elements, arrays as repeated elements, nulls not at all.
pub(crate) fn write_extra(w: &mut XmlWriter, err: &AwsError) {
    for (name, value) in err.extra.iter().flatten() {
        write_value(w, name, value);
    }
}

fn write_value(w: &mut XmlWriter, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(text) => {
            w.text_element(name, text);
        }
        Value::Bool(_) | Value::Number(_) => {
            w.text_element(name, &value.to_string());
        }
        Value::Array(items) => {
            for item in items {
                write_value(w, name, item);
            }
        }
        Value::Object(members) => {
            w.element(name, |w| {
                for (member, value) in members {
                    write_value(w, member, value);
                }
            });
        }
    }
}

#[cfg(test)]
mod golden;
