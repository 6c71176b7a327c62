//! ListObjects (v1: markers) and ListObjectsV2 (continuation tokens), with `encoding-type=url`.

use base64::Engine as _;
use nubo_objects::listing::{ListPage, ListParams};
use nubo_wire::xml::XmlWriter;
use nubo_wire::AwsError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::errors::S3Errors;
use super::{iso, quoted, xml, S3Request, S3Result};

/// What `encoding-type=url` leaves as is: unreserved characters and `/`.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The common parameters: prefix, delimiter, max-keys (0–1000), encoding type.
struct Common {
    prefix: String,
    delimiter: Option<String>,
    max_keys: usize,
    url: bool,
}

fn common(request: &S3Request) -> Result<Common, AwsError> {
    let max_keys = match request.query.get("max-keys") {
        None => 1000,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                S3Errors::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                )
                .with_extra("ArgumentName", "max-keys")
                .with_extra("ArgumentValue", text.to_owned())
            })?
            .min(1000) as usize,
    };
    let url = match request.query.get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => {
            return Err(
                S3Errors::invalid_argument("Invalid Encoding Method specified in Request")
                    .with_extra("ArgumentName", "encoding-type")
                    .with_extra("ArgumentValue", other.to_owned()),
            )
        }
    };
    Ok(Common {
        prefix: request.query.get("prefix").unwrap_or_default().to_owned(),
        delimiter: request
            .query
            .get("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        max_keys,
        url,
    })
}

impl Common {
    fn text(&self, value: &str) -> String {
        if self.url {
            utf8_percent_encode(value, KEY_ENCODE).to_string()
        } else {
            value.to_owned()
        }
    }

    fn write_entries(&self, w: &mut XmlWriter, page: &ListPage, owner: Option<&str>) {
        for (key, record) in &page.objects {
            w.element("Contents", |w| {
                w.text_element("Key", &self.text(key))
                    .text_element("LastModified", &iso(record.modified_ms))
                    .text_element("ETag", &quoted(&record.etag))
                    .text_element("Size", &record.size.to_string())
                    .text_element("StorageClass", "STANDARD");
                if let Some(owner) = owner {
                    w.element("Owner", |w| {
                        w.text_element("DisplayName", owner)
                            .text_element("ID", owner);
                    });
                }
            });
        }
    }

    fn write_tail(&self, w: &mut XmlWriter, bucket: &str, page: &ListPage) {
        w.text_element("Name", bucket)
            .text_element("Prefix", &self.text(&self.prefix));
        if let Some(delimiter) = &self.delimiter {
            w.text_element("Delimiter", &self.text(delimiter));
        }
        w.text_element("MaxKeys", &self.max_keys.to_string());
        for prefix in &page.common_prefixes {
            w.element("CommonPrefixes", |w| {
                w.text_element("Prefix", &self.text(prefix));
            });
        }
        if self.url {
            w.text_element("EncodingType", "url");
        }
    }
}

pub(crate) async fn list_v1(request: S3Request) -> S3Result {
    let common = common(&request)?;
    let marker = request.query.get("marker").filter(|m| !m.is_empty());
    let params = ListParams {
        prefix: common.prefix.clone(),
        delimiter: common.delimiter.clone(),
        start_after: marker.map(str::to_owned),
        max_keys: common.max_keys,
    };
    let page = request
        .state
        .objects
        .list_objects(request.bucket(), &params)
        .await?;
    let owner = request.scope().account_id;
    Ok(xml("ListBucketResult", |w| {
        w.text_element("IsTruncated", if page.truncated { "true" } else { "false" })
            .text_element("Marker", &common.text(marker.unwrap_or_default()));
        // S3 gives NextMarker only with a delimiter; without one the last key is the marker.
        if page.truncated && common.delimiter.is_some() {
            if let Some(last) = &page.last {
                w.text_element("NextMarker", &common.text(last));
            }
        }
        common.write_entries(w, &page, Some(&owner));
        common.write_tail(w, request.bucket(), &page);
    }))
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_token(token: &str) -> Result<String, AwsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            S3Errors::invalid_argument("The continuation token provided is incorrect")
                .with_extra("ArgumentName", "continuation-token")
        })
}

pub(crate) async fn list_v2(request: S3Request) -> S3Result {
    let common = common(&request)?;
    let token = request
        .query
        .get("continuation-token")
        .filter(|t| !t.is_empty());
    let start_after = request.query.get("start-after").filter(|s| !s.is_empty());
    let after = match token {
        Some(token) => Some(decode_token(token)?),
        None => start_after.map(str::to_owned),
    };
    let params = ListParams {
        prefix: common.prefix.clone(),
        delimiter: common.delimiter.clone(),
        start_after: after,
        max_keys: common.max_keys,
    };
    let page = request
        .state
        .objects
        .list_objects(request.bucket(), &params)
        .await?;
    let owner =
        (request.query.get("fetch-owner") == Some("true")).then(|| request.scope().account_id);
    Ok(xml("ListBucketResult", |w| {
        w.text_element("IsTruncated", if page.truncated { "true" } else { "false" });
        common.write_entries(w, &page, owner.as_deref());
        common.write_tail(w, request.bucket(), &page);
        w.text_element(
            "KeyCount",
            &(page.objects.len() + page.common_prefixes.len()).to_string(),
        );
        if let Some(token) = token {
            w.text_element("ContinuationToken", token);
        }
        if page.truncated {
            if let Some(last) = &page.last {
                w.text_element("NextContinuationToken", &encode_token(last));
            }
        }
        if let Some(start_after) = start_after {
            w.text_element("StartAfter", &common.text(start_after));
        }
    }))
}
