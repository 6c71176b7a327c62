//! `rest-xml` as S3 speaks it: the operation is the method + path (routing is the edge's), input
//! members come from the path, query string, headers and an XML body, replies are XML documents.
//!
//! Errors are S3's `<Error><Code/><Message/>…extra<RequestId/></Error>` with extra members such as
//! `BucketName` or `Resource` beside the code, and the request id also in `x-amz-request-id`:
//! botocore's RestXMLParser recognises S3's shape by the `Error` root and takes the request id from
//! that header.

use http::{HeaderValue, StatusCode};

use super::{reply, write_extra, WireResponse};
use crate::xml::{XmlElement, XmlOutput, XmlWriter};
use crate::AwsError;

/// The content type of rest-xml replies.
pub const CONTENT_TYPE: &str = "application/xml";

/// S3's request-id header.
pub const REQUEST_ID_HEADER: &str = "x-amz-request-id";

crate::error_table! {
    /// The errors every rest-xml service shares (S3's general ones).
    pub struct RestXmlErrors {
        malformed_xml => ("MalformedXML", BAD_REQUEST),
        not_implemented => ("NotImplemented", NOT_IMPLEMENTED),
    }
}

/// Reads an XML request body; a document that is not well formed is S3's `MalformedXML`.
pub fn parse_body(body: &[u8]) -> Result<XmlElement, AwsError> {
    XmlElement::parse(body).map_err(|e| {
        RestXmlErrors::malformed_xml(format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {e}"
        ))
    })
}

/// A reply whose body is the document `<{root} xmlns=…>…members</{root}>`.
pub fn response(
    status: StatusCode,
    root: &str,
    xml_namespace: Option<&str>,
    output: &dyn XmlOutput,
) -> WireResponse {
    let mut w = XmlWriter::document();
    let members = |w: &mut XmlWriter| output.write_xml(w);
    match xml_namespace {
        Some(namespace) => w.element_ns(root, namespace, members),
        None => w.element(root, members),
    };
    reply(status, CONTENT_TYPE, w.into_string())
}

/// `<?xml …?>` + `<Error><Code/><Message/>…extra<RequestId/></Error>`.
pub fn error_body(err: &AwsError, request_id: &str) -> String {
    let mut w = XmlWriter::document();
    w.element("Error", |w| {
        w.text_element("Code", err.code)
            .text_element("Message", &err.message);
        write_extra(w, err);
        w.text_element("RequestId", request_id);
    });
    w.into_string()
}

/// The error reply, with the request id in `x-amz-request-id` too.
pub fn error_response(err: &AwsError, request_id: &str) -> WireResponse {
    let mut response = reply(err.status, CONTENT_TYPE, error_body(err, request_id));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_carries_extra_members_before_the_request_id() {
        let err = AwsError::new(
            "NoSuchBucket",
            StatusCode::NOT_FOUND,
            "The specified bucket does not exist",
        )
        .with_extra("BucketName", "a&b");
        let response = error_response(&err, "rid");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-amz-request-id"], "rid");
        assert_eq!(response.headers()["content-type"], "application/xml");
        assert_eq!(
            std::str::from_utf8(response.body()).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>\
             <Message>The specified bucket does not exist</Message>\
             <BucketName>a&amp;b</BucketName><RequestId>rid</RequestId></Error>"
        );
    }

    #[test]
    fn reply_is_a_document_with_a_namespaced_root() {
        let output = |w: &mut XmlWriter| {
            w.text_element("LocationConstraint", "eu-west-1");
        };
        let response = response(
            StatusCode::OK,
            "CreateBucketConfiguration",
            Some("http://s3.amazonaws.com/doc/2006-03-01/"),
            &output,
        );
        let parsed = XmlElement::parse(response.body()).unwrap();
        assert_eq!(parsed.name, "CreateBucketConfiguration");
        assert_eq!(parsed.child_text("LocationConstraint"), Some("eu-west-1"));
    }

    #[test]
    fn malformed_bodies_are_malformed_xml() {
        let err = parse_body(b"<CreateBucketConfiguration>").unwrap_err();
        assert_eq!(
            (err.code, err.status),
            ("MalformedXML", StatusCode::BAD_REQUEST)
        );
    }
}
