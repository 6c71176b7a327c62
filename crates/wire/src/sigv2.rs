//! S3's legacy query-string authentication: SigV2 presigned URLs
//! (`?AWSAccessKeyId=…&Expires=…&Signature=…`), what boto3's `generate_presigned_url` makes for S3
//! unless told to use SigV4.
//!
//! The string to sign (S3's "RESTAuthentication", botocore's `HmacV1QueryAuth`):
//! ```text
//! METHOD\n Content-MD5\n Content-Type\n Expires\n [x-amz-name:value\n …] /bucket/key[?subresources]
//! ```
//! signed with HMAC-SHA1 under the secret key itself, base64. The headers the client signed travel
//! in the query (`content-type=`, `x-amz-security-token=`, …); sub-resources of interest
//! (`uploadId`, `partNumber`, `response-content-type`, …) are appended sorted, values decoded.

use std::borrow::Cow;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::sigv4::{KeyError, KeyRequest, MismatchDetails, SigV4Error, SigningKeys, Verified};

/// The query parameters that belong to the canonical resource (botocore's `QSAOfInterest`).
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "cors",
    "defaultObjectAcl",
    "location",
    "logging",
    "partNumber",
    "policy",
    "requestPayment",
    "torrent",
    "versioning",
    "versionId",
    "versions",
    "website",
    "uploads",
    "uploadId",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "delete",
    "lifecycle",
    "tagging",
    "restore",
    "storageClass",
    "notification",
    "replication",
    "analytics",
    "metrics",
    "inventory",
    "select",
    "select-type",
    "object-lock",
];

/// A request as it arrived, for SigV2 verification.
#[derive(Debug, Clone, Copy)]
pub struct V2Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The raw path.
    pub path: &'a str,
    /// The raw query (without `?`).
    pub query: &'a str,
    /// The bucket a virtual-host `Host` named (its path then lacks `/bucket`).
    pub host_bucket: Option<&'a str>,
    /// The region the request acts in (SigV2 names none).
    pub region: &'a str,
}

fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

fn decoded(value: &str) -> Cow<'_, str> {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
        .into()
}

/// Whether a query carries a SigV2 presigned signature.
pub fn is_presigned_v2(query: &str) -> bool {
    let mut key = false;
    let mut signature = false;
    for (name, _) in pairs(query) {
        key |= name == "AWSAccessKeyId";
        signature |= name == "Signature";
    }
    key && signature
}

/// The access key id of a SigV2 presigned query.
pub fn access_key_id(query: &str) -> Option<String> {
    pairs(query)
        .find(|(n, _)| *n == "AWSAccessKeyId")
        .map(|(_, v)| decoded(v).into_owned())
}

/// The string to sign of a presigned request.
pub fn string_to_sign(request: &V2Request<'_>, expires: &str) -> String {
    let find = |name: &str| {
        pairs(request.query)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| decoded(v).into_owned())
            .unwrap_or_default()
    };
    let mut amz: Vec<(String, String)> = pairs(request.query)
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), decoded(v).trim().to_owned()))
        .collect();
    amz.sort();
    let mut resource = String::new();
    if let Some(bucket) = request.host_bucket {
        resource.push('/');
        resource.push_str(bucket);
    }
    resource.push_str(request.path);
    let mut sub: Vec<(&str, Option<Cow<'_, str>>)> = request
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            SUBRESOURCES.contains(&name).then(|| {
                (
                    name,
                    value.map(|v| percent_decode_str(v).decode_utf8_lossy()),
                )
            })
        })
        .collect();
    sub.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in sub.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(name);
        if let Some(value) = value {
            resource.push('=');
            resource.push_str(value);
        }
    }
    let mut out = format!(
        "{}\n{}\n{}\n{expires}\n",
        request.method,
        find("content-md5"),
        find("content-type")
    );
    for (name, value) in &amz {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(&resource);
    out
}

/// Signs a string to sign (what a client does; tests use it).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Verifies a SigV2 presigned request at `now`.
pub fn verify<'a>(
    request: &V2Request<'a>,
    keys: &dyn SigningKeys,
    now: OffsetDateTime,
) -> Result<Verified<'a>, SigV4Error> {
    let param = |name: &str| {
        pairs(request.query)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| decoded(v).into_owned())
    };
    let access_key_id = param("AWSAccessKeyId").ok_or(SigV4Error::MissingAuthentication)?;
    let provided = param("Signature").ok_or(SigV4Error::MissingAuthentication)?;
    let expires_text = param("Expires").ok_or(SigV4Error::MissingAuthentication)?;
    let expires: i64 = expires_text
        .parse()
        .map_err(|_| SigV4Error::MissingAuthentication)?;
    if now.unix_timestamp() > expires {
        return Err(SigV4Error::PresignExpired);
    }
    let token = param("x-amz-security-token");
    let secret = keys
        .secret_access_key(&KeyRequest {
            access_key_id: &access_key_id,
            session_token: token.as_deref(),
            day: "",
            region: request.region,
            service: "s3",
            now,
        })
        .map_err(|e| match e {
            KeyError::UnknownAccessKey => SigV4Error::UnknownAccessKey,
            KeyError::InvalidToken => SigV4Error::InvalidToken,
            KeyError::ExpiredToken => SigV4Error::ExpiredToken,
        })?;
    let string_to_sign = string_to_sign(request, &expires_text);
    let expected = sign(&secret, &string_to_sign);
    if !bool::from(expected.as_bytes().ct_eq(provided.as_bytes())) {
        return Err(SigV4Error::SignatureMismatch(Box::new(MismatchDetails {
            access_key_id,
            string_to_sign,
            signature_provided: provided,
            canonical_request: String::new(),
        })));
    }
    Ok(Verified::legacy(
        Cow::Owned(access_key_id),
        token.map(Cow::Owned),
        Cow::Owned(request.region.to_owned()),
        Cow::Borrowed("s3"),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::StaticKeys;

    #[test]
    fn verifies_what_botocore_signs() {
        // botocore's HmacV1QueryAuth for GET /bucket/a b.txt?response-content-type=text/plain.
        let keys = StaticKeys::default().with("AKID", "secret");
        let base = "response-content-type=text%2Fplain";
        let request = V2Request {
            method: "GET",
            path: "/bucket/a%20b.txt",
            query: base,
            host_bucket: None,
            region: "us-east-1",
        };
        let sts = string_to_sign(&request, "2000000000");
        assert_eq!(
            sts,
            "GET\n\n\n2000000000\n/bucket/a%20b.txt?response-content-type=text/plain"
        );
        let signature = sign("secret", &sts);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&signature, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let query = format!("{base}&AWSAccessKeyId=AKID&Signature={encoded}&Expires=2000000000");
        let signed = V2Request {
            query: &query,
            ..request
        };
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let verified = verify(&signed, &keys, now).unwrap();
        assert_eq!(verified.access_key_id, "AKID");
        let late = OffsetDateTime::from_unix_timestamp(2_000_000_001).unwrap();
        assert!(matches!(
            verify(&signed, &keys, late),
            Err(SigV4Error::PresignExpired)
        ));
        let tampered = query.replace("text%2Fplain", "text%2Fhtml");
        let tampered = V2Request {
            query: &tampered,
            ..request
        };
        assert!(matches!(
            verify(&tampered, &keys, now),
            Err(SigV4Error::SignatureMismatch(_))
        ));
        assert!(is_presigned_v2(&query) && !is_presigned_v2(base));
    }
}
