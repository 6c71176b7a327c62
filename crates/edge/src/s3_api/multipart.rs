//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.

use http::StatusCode;
use nubo_objects::conditions::ByteRange;
use nubo_objects::multipart::MAX_PART_BYTES;
use nubo_objects::notifications::EventName;
use nubo_objects::{BucketName, ObjectKey};
use nubo_wire::AwsError;

use super::errors::S3Errors;
use super::notifications::emit;
use super::objects::{attributes, check_small_body, content_md5, copy_source, upload_body};
use super::{empty, iso, quoted, set_header, xml, S3Request, S3Result};

fn upload_id(request: &S3Request) -> String {
    request.query.get("uploadId").unwrap_or_default().to_owned()
}

fn part_number(request: &S3Request) -> Result<u32, AwsError> {
    let text = request.query.get("partNumber").unwrap_or_default();
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Errors::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .with_extra("ArgumentName", "partNumber")
            .with_extra("ArgumentValue", text.to_owned())
        })
}

pub(crate) async fn create(request: S3Request) -> S3Result {
    let bucket = BucketName::parse(request.bucket())?;
    let key = ObjectKey::parse(request.key())?;
    let id = request
        .state
        .objects
        .create_upload(&bucket, &key, attributes(&request.parts.headers)?)
        .await?;
    Ok(xml("InitiateMultipartUploadResult", |w| {
        w.text_element("Bucket", bucket.as_str())
            .text_element("Key", key.as_str())
            .text_element("UploadId", &id);
    }))
}

pub(crate) async fn upload_part(mut request: S3Request) -> S3Result {
    let number = part_number(&request)?;
    let id = upload_id(&request);
    let md5 = content_md5(&request.parts.headers)?;
    let mut body = upload_body(&mut request, MAX_PART_BYTES)?;
    let part = request
        .state
        .objects
        .upload_part(request.bucket(), request.key(), &id, number, &mut body, md5)
        .await?;
    let mut response = empty(StatusCode::OK);
    set_header(&mut response, "etag", &quoted(&part.etag));
    Ok(response)
}

pub(crate) async fn upload_part_copy(request: S3Request) -> S3Result {
    let number = part_number(&request)?;
    let id = upload_id(&request);
    let mut source = copy_source(&request)?;
    if let Some(range) = request.header("x-amz-copy-source-range") {
        source.range = Some(ByteRange::parse(range).ok_or_else(|| {
            S3Errors::invalid_argument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            )
        })?);
    }
    let part = request
        .state
        .objects
        .upload_part_copy(request.bucket(), request.key(), &id, number, &source)
        .await?;
    Ok(xml("CopyPartResult", |w| {
        w.text_element("ETag", &quoted(&part.etag))
            .text_element("LastModified", &iso(part.modified_ms));
    }))
}

pub(crate) async fn complete(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let id = upload_id(&request);
    let (request, body) = request.xml_body().await?;
    check_small_body(&request.parts.headers, &body)?;
    let document = nubo_wire::protocol::rest_xml::parse_body(&body)?;
    let mut parts = Vec::new();
    for part in document.children_named("Part") {
        let number = part
            .child_text("PartNumber")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(|| S3Errors::malformed_xml("A part has no PartNumber"))?;
        let etag = part
            .child_text("ETag")
            .unwrap_or_default()
            .trim()
            .to_owned();
        parts.push((number, etag));
    }
    if document.name != "CompleteMultipartUpload" {
        return Err(S3Errors::malformed_xml(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ).into());
    }
    let record = request
        .state
        .objects
        .complete_upload(request.bucket(), request.key(), &id, &parts)
        .await?;
    emit(
        &request,
        &bucket,
        EventName::CompleteMultipartUpload,
        request.key(),
        Some(&record),
    )
    .await;
    let location = format!("/{}/{}", request.bucket(), request.key());
    Ok(xml("CompleteMultipartUploadResult", |w| {
        w.text_element("Location", &location)
            .text_element("Bucket", request.bucket())
            .text_element("Key", request.key())
            .text_element("ETag", &quoted(&record.etag));
    }))
}

pub(crate) async fn abort(request: S3Request) -> S3Result {
    let id = upload_id(&request);
    request
        .state
        .objects
        .abort_upload(request.bucket(), request.key(), &id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn list_parts(request: S3Request) -> S3Result {
    let id = upload_id(&request);
    let marker = request
        .query
        .get("part-number-marker")
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    let max = request
        .query
        .get("max-parts")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let (_, parts, truncated) = request
        .state
        .objects
        .list_parts(request.bucket(), request.key(), &id, marker, max)
        .await?;
    let owner = request.scope().account_id;
    Ok(xml("ListPartsResult", |w| {
        w.text_element("Bucket", request.bucket())
            .text_element("Key", request.key())
            .text_element("UploadId", &id)
            .text_element("PartNumberMarker", &marker.to_string());
        if let Some(last) = parts.last() {
            w.text_element("NextPartNumberMarker", &last.number.to_string());
        }
        w.text_element("MaxParts", &max.to_string())
            .text_element("IsTruncated", if truncated { "true" } else { "false" });
        for part in &parts {
            w.element("Part", |w| {
                w.text_element("PartNumber", &part.number.to_string())
                    .text_element("LastModified", &iso(part.modified_ms))
                    .text_element("ETag", &quoted(&part.etag))
                    .text_element("Size", &part.size.to_string());
            });
        }
        w.element("Initiator", |w| {
            w.text_element("ID", &owner)
                .text_element("DisplayName", &owner);
        });
        w.element("Owner", |w| {
            w.text_element("ID", &owner)
                .text_element("DisplayName", &owner);
        });
        w.text_element("StorageClass", "STANDARD");
    }))
}

pub(crate) async fn list_uploads(request: S3Request) -> S3Result {
    let prefix = request.query.get("prefix").unwrap_or_default().to_owned();
    let uploads = request
        .state
        .objects
        .list_uploads(request.bucket(), &prefix)
        .await?;
    let max = request
        .query
        .get("max-uploads")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let truncated = uploads.len() > max;
    Ok(xml("ListMultipartUploadsResult", |w| {
        w.text_element("Bucket", request.bucket())
            .text_element("KeyMarker", "")
            .text_element("UploadIdMarker", "");
        w.text_element("Prefix", &prefix)
            .text_element("MaxUploads", &max.to_string())
            .text_element("IsTruncated", if truncated { "true" } else { "false" });
        for upload in uploads.iter().take(max) {
            w.element("Upload", |w| {
                w.text_element("Key", &upload.record.key)
                    .text_element("UploadId", &upload.id)
                    .text_element("Initiated", &iso(upload.record.initiated_ms))
                    .text_element("StorageClass", "STANDARD");
            });
        }
    }))
}
