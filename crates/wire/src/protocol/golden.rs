//! Golden files for the protocols: every reply and error encoding, and query requests as botocore
//! serializes them, under `crates/wire/tests/golden/protocol/`.
//!
//! Replies are written as `HTTP/1.1 <status>`, the headers (sorted), a blank line and the body.
//! `UPDATE_GOLDEN=1 cargo test -p nubo-wire golden` rewrites them; review the diff. The end-to-end
//! suite (`tests/e2e/test_wire_protocols.py`) feeds each reply to botocore's parser for its protocol
//! and checks what a client reads; it also checks each `.form` request is byte for byte what
//! botocore sends today (and writes it under `UPDATE_GOLDEN=1`), while the test here checks what
//! [`super::query::decode`] makes of it against the reviewed `.json` beside it.

use std::path::PathBuf;

use http::StatusCode;
use serde_json::Value;

use super::json::JsonVersion;
use super::{json, query, rest_json, rest_xml, WireResponse};
use crate::xml::XmlWriter;
use crate::AwsError;

const REQUEST_ID: &str = "golden-request-id";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/protocol")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file `name`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check(name: &str, actual: &[u8]) {
    let path = dir().join(name);
    if updating() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it; review the diff)"
    );
}

fn http_text(response: &WireResponse) -> Vec<u8> {
    let mut headers: Vec<String> = response
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    headers.sort();
    let mut out = format!(
        "HTTP/1.1 {}\n{}\n\n",
        response.status().as_u16(),
        headers.join("\n")
    )
    .into_bytes();
    out.extend_from_slice(response.body());
    out
}

#[test]
fn rest_json_error() {
    let err = AwsError::too_many_requests("Rate exceeded").with_extra(
        "Reason",
        "ReservedFunctionConcurrentInvocationLimitExceeded",
    );
    check(
        "rest_json_error.http",
        &http_text(&rest_json::error_response(&err)),
    );
}

#[test]
fn json_error() {
    let err = AwsError::new(
        "ResourceNotFoundException",
        StatusCode::BAD_REQUEST,
        "Requested resource not found: Table: \"orders\" not found",
    );
    check(
        "json_error.http",
        &http_text(&json::error_response(JsonVersion::V1_0, &err)),
    );
}

#[test]
fn json_reply() {
    let output = serde_json::json!({"TableNames": ["a", "b"], "LastEvaluatedTableName": "b"});
    check(
        "json_reply.http",
        &http_text(&json::response(JsonVersion::V1_0, &output)),
    );
}

#[test]
fn query_error() {
    let err = AwsError::new(
        "NoSuchEntity",
        StatusCode::NOT_FOUND,
        "The user with name <a&b> cannot be found.",
    );
    check(
        "query_error.http",
        &http_text(&query::error_response(
            "https://iam.amazonaws.com/doc/2010-05-08/",
            &err,
            REQUEST_ID,
        )),
    );
}

#[test]
fn query_reply() {
    let output = |w: &mut XmlWriter| {
        w.text_element("UserId", "AIDANUBO")
            .text_element("Account", "000000000000")
            .text_element("Arn", "arn:aws:iam::000000000000:user/a&b");
    };
    check(
        "query_reply.http",
        &http_text(&query::response(
            "https://sts.amazonaws.com/doc/2011-06-15/",
            "GetCallerIdentity",
            REQUEST_ID,
            &output,
        )),
    );
}

#[test]
fn query_reply_with_a_list() {
    let output = |w: &mut XmlWriter| {
        w.element("Topics", |w| {
            for arn in [
                "arn:aws:sns:us-east-1:000000000000:a",
                "arn:aws:sns:us-east-1:000000000000:b",
            ] {
                w.element("member", |w| {
                    w.text_element("TopicArn", arn);
                });
            }
        });
    };
    check(
        "query_reply_list.http",
        &http_text(&query::response(
            "http://sns.amazonaws.com/doc/2010-03-31/",
            "ListTopics",
            REQUEST_ID,
            &output,
        )),
    );
}

#[test]
fn rest_xml_error() {
    let err = AwsError::new(
        "NoSuchBucket",
        StatusCode::NOT_FOUND,
        "The specified bucket does not exist",
    )
    .with_extra("BucketName", "missing-bucket");
    check(
        "rest_xml_error.http",
        &http_text(&rest_xml::error_response(&err, REQUEST_ID)),
    );
}

#[test]
fn rest_xml_reply() {
    let output = |w: &mut XmlWriter| {
        w.element("Buckets", |w| {
            for name in ["alpha", "beta"] {
                w.element("Bucket", |w| {
                    w.text_element("Name", name);
                });
            }
        })
        .element("Owner", |w| {
            w.text_element("DisplayName", "nubo <dev>")
                .text_element("ID", "000000000000");
        });
    };
    check(
        "rest_xml_reply.http",
        &http_text(&rest_xml::response(
            StatusCode::OK,
            "ListAllMyBucketsResult",
            Some("http://s3.amazonaws.com/doc/2006-03-01/"),
            &output,
        )),
    );
}

/// Each `*.form` is a request body botocore serialized; its `.json` is what `decode` makes of it.
#[test]
fn query_requests_decode_into_structured_params() {
    let mut forms: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "form"))
        .collect();
    forms.sort();
    assert!(
        forms.len() >= 2,
        "no query request golden files in {}",
        dir().display()
    );
    for form in forms {
        let body = std::fs::read(&form).unwrap();
        let request = query::decode(None, &body).unwrap();
        let decoded = serde_json::json!({
            "Action": request.action,
            "Version": request.version,
            "params": Value::Object(request.params),
        });
        let mut text = serde_json::to_string_pretty(&decoded).unwrap();
        text.push('\n');
        let name = form.with_extension("json");
        check(name.file_name().unwrap().to_str().unwrap(), text.as_bytes());
    }
}
