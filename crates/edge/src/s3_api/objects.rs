//! Object operations: PutObject, GetObject/HeadObject, DeleteObject, DeleteObjects, CopyObject,
//! object tagging. Uploads stream in through [`RequestBody`]; downloads stream out of open files.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use nubo_objects::conditions::{ByteRange, Conditions};
use nubo_objects::notifications::EventName;
use nubo_objects::{
    BucketName, ContentHeaders, CopySource, MetadataDirective, ObjectAttributes, ObjectBody,
    ObjectKey, ObjectRecord, PutObject, MAX_OBJECT_BYTES,
};
use nubo_wire::timefmt::{http_date, parse_http_date};
use nubo_wire::AwsError;

use super::body::{Checksum, RequestBody};
use super::errors::S3Errors;
use super::notifications::emit;
use super::{empty, from_ms, iso, quoted, set_header, tags, xml, S3Request, S3Result};
use crate::auth::StreamedPayload;

/// The attributes an upload's headers give an object.
pub(crate) fn attributes(headers: &HeaderMap) -> Result<ObjectAttributes, AwsError> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // aws-chunked is how the body travelled, not what the object is.
    let content_encoding = text("content-encoding").and_then(|value| {
        let kept: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let mut metadata = BTreeMap::new();
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            metadata.insert(meta.to_owned(), value);
        }
    }
    let tags = match text("x-amz-tagging") {
        Some(value) => tags::from_header(&value)?,
        None => Vec::new(),
    };
    Ok(ObjectAttributes {
        headers: ContentHeaders {
            content_type: Some(
                text("content-type").unwrap_or_else(|| "binary/octet-stream".to_owned()),
            ),
            content_encoding,
            content_disposition: text("content-disposition"),
            content_language: text("content-language"),
            cache_control: text("cache-control"),
            expires: text("expires"),
        },
        metadata,
        tags,
    })
}

/// `Content-MD5`, decoded (`InvalidDigest` when it is not base64 of 16 bytes).
pub(crate) fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, AwsError> {
    let Some(value) = headers.get("content-md5") else {
        return Ok(None);
    };
    let invalid = || S3Errors::invalid_digest("The Content-MD5 you specified was invalid.");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| invalid())?;
    let md5: [u8; 16] = bytes.try_into().map_err(|_| invalid())?;
    Ok(Some(md5))
}

/// Checks a small (guard-read) body against its `Content-MD5` and `x-amz-checksum-*` header.
pub(crate) fn check_small_body(headers: &HeaderMap, body: &[u8]) -> Result<(), AwsError> {
    use md5::Digest as _;
    if let Some(expected) = content_md5(headers)? {
        let actual: [u8; 16] = md5::Md5::digest(body).into();
        if actual != expected {
            return Err(S3Errors::bad_digest(
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    for (name, value) in headers {
        if let Some(mut checksum) = Checksum::named(name.as_str()) {
            let expected = value.to_str().unwrap_or_default().trim().to_owned();
            checksum.update(body);
            let name = checksum.name();
            if checksum.finish() != expected {
                return Err(S3Errors::bad_checksum(format!(
                    "The {name} you specified did not match the calculated checksum."
                )));
            }
        }
    }
    Ok(())
}

/// The checks a write's declared size allows before a byte is read.
fn check_declared_size(headers: &HeaderMap, limit: u64) -> Result<(), AwsError> {
    let declared = headers
        .get("x-amz-decoded-content-length")
        .or_else(|| headers.get(http::header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|size| size > limit) {
        return Err(S3Errors::entity_too_large(
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with_extra("MaxSizeAllowed", limit.to_string()));
    }
    Ok(())
}

/// The body of an upload request, checked as it streams.
pub(crate) fn upload_body(request: &mut S3Request, limit: u64) -> Result<RequestBody, AwsError> {
    check_declared_size(&request.parts.headers, limit)?;
    let payload = request.parts.extensions.remove::<StreamedPayload>();
    let body = request.take_body();
    RequestBody::new(body, &request.parts.headers, payload)
}

pub(crate) async fn put(mut request: S3Request) -> S3Result {
    let bucket = BucketName::parse(request.bucket())?;
    let key = ObjectKey::parse(request.key())?;
    let bucket_record = request.state.objects.writable_bucket(bucket.as_str())?;
    let put = PutObject {
        bucket,
        key,
        attributes: attributes(&request.parts.headers)?,
        content_md5: content_md5(&request.parts.headers)?,
    };
    let mut body = upload_body(&mut request, MAX_OBJECT_BYTES)?;
    let record = request.state.objects.put_object(put, &mut body).await?;
    emit(
        &request,
        &bucket_record,
        EventName::Put,
        request.key(),
        Some(&record),
    )
    .await;
    let mut response = empty(StatusCode::OK);
    set_header(&mut response, "etag", &quoted(&record.etag));
    Ok(response)
}

/// The conditions of a GET/HEAD (`If-*`) or of a copy's source (`x-amz-copy-source-if-*`).
pub(crate) fn conditions(headers: &HeaderMap, prefix: &str) -> Conditions {
    let text = |name: &str| {
        headers
            .get(format!("{prefix}{name}"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let date = |name: &str| {
        text(name)
            .and_then(|v| parse_http_date(&v))
            .map(|t| t.unix_timestamp())
    };
    Conditions {
        if_match: text("if-match"),
        if_none_match: text("if-none-match"),
        if_modified_since: date("if-modified-since"),
        if_unmodified_since: date("if-unmodified-since"),
    }
}

/// Headers every GET/HEAD of an object carries.
fn object_headers(response: &mut Response, record: &ObjectRecord, request: &S3Request) {
    let h = &record.attributes.headers;
    let pick = |query: &str, stored: &Option<String>| -> Option<String> {
        request
            .query
            .get(query)
            .map(str::to_owned)
            .or_else(|| stored.clone())
    };
    let pairs = [
        (
            "content-type",
            pick("response-content-type", &h.content_type),
        ),
        (
            "content-encoding",
            pick("response-content-encoding", &h.content_encoding),
        ),
        (
            "content-disposition",
            pick("response-content-disposition", &h.content_disposition),
        ),
        (
            "content-language",
            pick("response-content-language", &h.content_language),
        ),
        (
            "cache-control",
            pick("response-cache-control", &h.cache_control),
        ),
        ("expires", pick("response-expires", &h.expires)),
    ];
    for (name, value) in pairs {
        if let Some(value) = value {
            set_header(response, name, &value);
        }
    }
    set_header(response, "etag", &quoted(&record.etag));
    set_header(
        response,
        "last-modified",
        &http_date(from_ms(record.modified_ms)),
    );
    set_header(response, "accept-ranges", "bytes");
    for (name, value) in &record.attributes.metadata {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    if !record.attributes.tags.is_empty() {
        set_header(
            response,
            "x-amz-tagging-count",
            &record.attributes.tags.len().to_string(),
        );
    }
}

/// An object's bytes as a response body, streamed.
fn stream(body: ObjectBody) -> Body {
    Body::from_stream(futures_util::stream::unfold(body, |mut body| async move {
        match body.next_piece().await {
            Ok(Some(piece)) => Some((Ok::<_, std::io::Error>(piece), body)),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), body)),
        }
    }))
}

pub(crate) async fn get(request: S3Request, head: bool) -> S3Result {
    let conditions = conditions(&request.parts.headers, "");
    let range = request.header("range").and_then(ByteRange::parse);
    let read = request
        .state
        .objects
        .get_object(request.bucket(), request.key(), &conditions, range)
        .await?;
    let length = read.body.remaining();
    let mut response = if head {
        empty(StatusCode::OK)
    } else {
        Response::new(stream(read.body))
    };
    object_headers(&mut response, &read.record, &request);
    if let Some((first, last)) = read.range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        set_header(
            &mut response,
            "content-range",
            &format!("bytes {first}-{last}/{}", read.record.size),
        );
    }
    set_header(&mut response, "content-length", &length.to_string());
    Ok(response)
}

pub(crate) async fn delete(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let removed = request
        .state
        .objects
        .delete_object(request.bucket(), request.key())
        .await?;
    if removed.is_some() {
        emit(&request, &bucket, EventName::Delete, request.key(), None).await;
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// DeleteObjects: at most 1000 keys; each deleted, or an error entry for it.
pub(crate) async fn delete_many(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let (request, body) = request.xml_body().await?;
    check_small_body(&request.parts.headers, &body)?;
    let document = nubo_wire::protocol::rest_xml::parse_body(&body)?;
    let quiet = document.child_text("Quiet").map(str::trim) == Some("true");
    let keys: Vec<String> = document
        .children_named("Object")
        .map(|o| o.child_text("Key").unwrap_or_default().to_owned())
        .collect();
    if document.name != "Delete" || keys.is_empty() || keys.len() > 1000 {
        return Err(S3Errors::malformed_xml(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ).into());
    }
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    for key in keys {
        if let Err(e) = ObjectKey::parse(&key) {
            let e = super::errors::from_objects(e);
            failed.push((key, e.code, e.message));
            continue;
        }
        match request
            .state
            .objects
            .delete_object(request.bucket(), &key)
            .await
        {
            Ok(removed) => {
                if removed.is_some() {
                    emit(&request, &bucket, EventName::Delete, &key, None).await;
                }
                deleted.push(key);
            }
            Err(e) => {
                let e = super::errors::from_objects(e);
                failed.push((key, e.code, e.message));
            }
        }
    }
    Ok(xml("DeleteResult", |w| {
        if !quiet {
            for key in &deleted {
                w.element("Deleted", |w| {
                    w.text_element("Key", key);
                });
            }
        }
        for (key, code, message) in &failed {
            w.element("Error", |w| {
                w.text_element("Key", key)
                    .text_element("Code", code)
                    .text_element("Message", message);
            });
        }
    }))
}

/// A copy's source from `x-amz-copy-source` and its conditions.
pub(crate) fn copy_source(request: &S3Request) -> Result<CopySource, AwsError> {
    let (bucket, key) = super::operations::copy_source(&request.parts).ok_or_else(|| {
        S3Errors::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    })?;
    Ok(CopySource {
        bucket,
        key,
        conditions: conditions(&request.parts.headers, "x-amz-copy-source-"),
        range: None,
    })
}

pub(crate) async fn copy(request: S3Request) -> S3Result {
    let bucket = BucketName::parse(request.bucket())?;
    let key = ObjectKey::parse(request.key())?;
    let bucket_record = request.state.objects.bucket(bucket.as_str())?;
    let source = copy_source(&request)?;
    let directive = match request.header("x-amz-metadata-directive") {
        None | Some("COPY") => MetadataDirective::Copy,
        Some("REPLACE") => MetadataDirective::Replace(attributes(&request.parts.headers)?),
        Some(other) => {
            return Err(
                S3Errors::invalid_argument(format!("Unknown metadata directive: {other}")).into(),
            )
        }
    };
    let tags = match request.header("x-amz-tagging-directive") {
        None | Some("COPY") => None,
        Some("REPLACE") => Some(match request.header("x-amz-tagging") {
            Some(value) => tags::from_header(value)?,
            None => Vec::new(),
        }),
        Some(other) => {
            return Err(
                S3Errors::invalid_argument(format!("Unknown tagging directive: {other}")).into(),
            )
        }
    };
    let record = request
        .state
        .objects
        .copy_object(&source, &bucket, &key, directive, tags)
        .await?;
    emit(
        &request,
        &bucket_record,
        EventName::Copy,
        request.key(),
        Some(&record),
    )
    .await;
    Ok(xml("CopyObjectResult", |w| {
        w.text_element("ETag", &quoted(&record.etag))
            .text_element("LastModified", &iso(record.modified_ms));
    }))
}

pub(crate) async fn get_tagging(request: S3Request) -> S3Result {
    let record = request
        .state
        .objects
        .head_object(request.bucket(), request.key())
        .await?;
    Ok(xml("Tagging", |w| tags::write(w, &record.attributes.tags)))
}

pub(crate) async fn put_tagging(request: S3Request) -> S3Result {
    request
        .state
        .objects
        .head_object(request.bucket(), request.key())
        .await?;
    let (request, body) = request.xml_body().await?;
    check_small_body(&request.parts.headers, &body)?;
    let tags = tags::parse(&body, tags::MAX_OBJECT_TAGS)?;
    request
        .state
        .objects
        .set_object_tags(request.bucket(), request.key(), tags)
        .await?;
    Ok(empty(StatusCode::OK))
}

pub(crate) async fn delete_tagging(request: S3Request) -> S3Result {
    request
        .state
        .objects
        .set_object_tags(request.bucket(), request.key(), Vec::new())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
