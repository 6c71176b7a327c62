//! Tag sets: the `<Tagging><TagSet><Tag>` document of Put/GetBucketTagging and
//! Put/GetObjectTagging, and the `x-amz-tagging` header (a URL-encoded query) of uploads.

use nubo_wire::xml::XmlWriter;
use nubo_wire::AwsError;

use super::errors::S3Errors;
use crate::query::Query;

/// Tags an object may carry.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// Tags a bucket may carry.
pub(crate) const MAX_BUCKET_TAGS: usize = 50;

/// Checks S3's tag rules: at most `max`, keys 1–128 and values 0–256 characters, no key twice.
pub(crate) fn check(tags: &[(String, String)], max: usize) -> Result<(), AwsError> {
    if tags.len() > max {
        return Err(S3Errors::invalid_tag(format!(
            "Object tags cannot be greater than {max}"
        )));
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(S3Errors::invalid_tag(
                "The TagKey you have provided is invalid",
            ));
        }
        if value.chars().count() > 256 {
            return Err(S3Errors::invalid_tag(
                "The TagValue you have provided is invalid",
            ));
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(S3Errors::invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// The tags of a `Tagging` document.
pub(crate) fn parse(body: &[u8], max: usize) -> Result<Vec<(String, String)>, AwsError> {
    let document = nubo_wire::protocol::rest_xml::parse_body(body)?;
    let tags: Vec<(String, String)> = document
        .child("TagSet")
        .map(|set| {
            set.children_named("Tag")
                .map(|tag| {
                    (
                        tag.child_text("Key").unwrap_or_default().to_owned(),
                        tag.child_text("Value").unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if document.name != "Tagging" || document.child("TagSet").is_none() {
        return Err(S3Errors::malformed_xml(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    check(&tags, max)?;
    Ok(tags)
}

/// The tags of an `x-amz-tagging` header.
pub(crate) fn from_header(value: &str) -> Result<Vec<(String, String)>, AwsError> {
    let tags: Vec<(String, String)> = Query::parse(Some(value)).into_pairs();
    check(&tags, MAX_OBJECT_TAGS)?;
    Ok(tags)
}

/// `<TagSet><Tag><Key/><Value/></Tag>…</TagSet>`.
pub(crate) fn write(w: &mut XmlWriter, tags: &[(String, String)]) {
    w.element("TagSet", |w| {
        for (key, value) in tags {
            w.element("Tag", |w| {
                w.text_element("Key", key).text_element("Value", value);
            });
        }
    });
}
