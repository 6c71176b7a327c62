//! Signature Version 4: the credential scope (which service a request is for), signing, and
//! verification.
//!
//! The edge dispatches on the service named in the scope, then [`verify`]s the signature in the
//! header or presigned-query form; S3 streams aws-chunked bodies through [`AwsChunkedDecoder`].
//! [`sign`] exists so Nubo's own CLI signs its calls like any SDK; it shares the canonical-request
//! code with verification (`canonical.rs`), so the two cannot drift apart.

mod canonical;
mod chunked;
pub(crate) mod dates;
mod error;
mod payload;
mod verify;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::OffsetDateTime;

use crate::AwsError;

pub use canonical::{SigningKey, UriMode, EMPTY_SHA256};
pub use chunked::{AwsChunkedDecoder, ChunkMode, ChunkSignatureChain, MAX_CHUNK_BYTES};
pub use error::{
    AuthFamily, MismatchDetails, SigV4Error, SkewDetails, EXPIRED_TOKEN, INVALID_TOKEN,
    S3_SIGNATURE_MISMATCH, SIGNATURE_MISMATCH,
};
pub use verify::{
    verify, KeyError, KeyRequest, Payload, PayloadHash, SigningKeys, StaticKeys, Verified,
    VerifyOptions, VerifyRequest, MAX_PRESIGN_EXPIRES_SECONDS,
};

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// `YYYYMMDD` from the scope.
    pub date: &'a str,
    /// Region from the scope.
    pub region: &'a str,
    /// Signing name from the scope: `lambda`, `s3`, `apigateway`, …
    pub service: &'a str,
    /// The whole credential scope, `YYYYMMDD/region/service/aws4_request`.
    pub scope: &'a str,
    /// `;`-separated lower-case header names.
    pub signed_headers: &'a str,
    /// Lower-case hex signature.
    pub signature: &'a str,
}

/// Parses a SigV4 Authorization header. Anything malformed is `IncompleteSignatureException`.
pub fn parse_authorization(header: &str) -> Result<Authorization<'_>, AwsError> {
    parse_authorization_parts(header).map_err(AwsError::incomplete_signature)
}

/// Parses a SigV4 Authorization header; the error is AWS's explanation.
pub(crate) fn parse_authorization_parts(header: &str) -> Result<Authorization<'_>, String> {
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256")
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| format!("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header and a supported algorithm. Authorization={header}"))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim();
        if let Some(v) = component.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = component.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = component.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |part: &str| {
        format!("Authorization header requires '{part}' parameter. Authorization={header}")
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let mut scope_parts = credential.splitn(5, '/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request")) = (
        scope_parts.next(),
        scope_parts.next(),
        scope_parts.next(),
        scope_parts.next(),
        scope_parts.next(),
    ) else {
        return Err(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{credential}'."
        ));
    };
    if access_key_id.is_empty()
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || service.is_empty()
    {
        return Err(format!("Credential is malformed: '{credential}'."));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        scope: &credential[access_key_id.len() + 1..],
        signed_headers,
        signature,
    })
}

/// The characters SigV4 leaves unencoded: `A–Z a–z 0–9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// AWS URI encoding (upper-case hex, space as `%20`).
pub fn uri_encode(input: &str) -> String {
    utf8_percent_encode(input, UNRESERVED).to_string()
}

/// Credentials to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret key.
    pub secret_access_key: String,
}

/// What to sign: a request whose path is already URI-encoded as it goes on the wire.
#[derive(Debug)]
pub struct SigningRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The encoded path, e.g. `/2015-03-31/functions/my-fn/invocations`.
    pub encoded_path: &'a str,
    /// Query pairs, unencoded.
    pub query: &'a [(String, String)],
    /// `host[:port]` as sent.
    pub host: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// Signs a request for a non-S3 service; returns the headers to add
/// (`authorization`, `x-amz-date`, `x-amz-content-sha256`).
pub fn sign(
    request: &SigningRequest<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    at: OffsetDateTime,
) -> Vec<(&'static str, String)> {
    sign_with_token(request, credentials, None, region, service, at)
}

/// [`sign`] for temporary credentials: `session_token` is sent and signed as
/// `x-amz-security-token`, as SDKs do.
pub fn sign_with_token(
    request: &SigningRequest<'_>,
    credentials: &Credentials,
    session_token: Option<&str>,
    region: &str,
    service: &str,
    at: OffsetDateTime,
) -> Vec<(&'static str, String)> {
    use sha2::{Digest, Sha256};

    let amz_date = crate::timefmt::amz_date(at);
    let day = &amz_date[..8];
    let payload_hash = hex::encode(Sha256::digest(request.body));
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let signed_headers = if session_token.is_some() {
        "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
    } else {
        "host;x-amz-content-sha256;x-amz-date"
    };
    let parts = canonical::CanonicalParts {
        method: request.method,
        raw_path: request.encoded_path,
        uri_mode: UriMode::Normalized,
        query: &query,
        signed_headers,
        payload_hash: &payload_hash,
    };
    let mut hasher = Sha256::new();
    canonical::write_canonical_request(&parts, &mut hasher, |out| {
        use canonical::Sink;
        let token = session_token.map(|t| ("x-amz-security-token", t));
        for (name, value) in [
            ("host", request.host),
            ("x-amz-content-sha256", payload_hash.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ]
        .into_iter()
        .chain(token)
        {
            out.put_str(name);
            out.put(b":");
            out.put_str(value);
            out.put(b"\n");
        }
    });
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let key = SigningKey::derive(&credentials.secret_access_key, day, region, service);
    let signature =
        hex::encode(key.sign_request_hash(&amz_date, &scope, &hasher.finalize().into()));
    let mut headers = vec![
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                credentials.access_key_id
            ),
        ),
        ("x-amz-date", amz_date),
        ("x-amz-content-sha256", payload_hash),
    ];
    if let Some(token) = session_token {
        headers.push(("x-amz-security-token", token.to_owned()));
    }
    headers
}

/// A presigned URL's query string for a non-S3 service (botocore's `SigV4QueryAuth`): the
/// request's own query pairs, then `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`,
/// `-SignedHeaders` (`host` only) and `-Signature`, valid for `expires_seconds` from `at`.
/// The payload hash is that of `request.body` (empty for a `GET`), as [`verify`] recomputes it.
pub fn presign(
    request: &SigningRequest<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    at: OffsetDateTime,
    expires_seconds: u32,
) -> String {
    use sha2::{Digest, Sha256};

    let amz_date = crate::timefmt::amz_date(at);
    let day = &amz_date[..8];
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let credential = format!("{}/{scope}", credentials.access_key_id);
    let expires = expires_seconds.to_string();
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([
            ("X-Amz-Algorithm", canonical::ALGORITHM),
            ("X-Amz-Credential", credential.as_str()),
            ("X-Amz-Date", amz_date.as_str()),
            ("X-Amz-Expires", expires.as_str()),
            ("X-Amz-SignedHeaders", "host"),
        ])
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let payload_hash = hex::encode(Sha256::digest(request.body));
    let parts = canonical::CanonicalParts {
        method: request.method,
        raw_path: request.encoded_path,
        uri_mode: UriMode::Normalized,
        query: &query,
        signed_headers: "host",
        payload_hash: &payload_hash,
    };
    let mut hasher = Sha256::new();
    canonical::write_canonical_request(&parts, &mut hasher, |out| {
        use canonical::Sink;
        out.put_str("host:");
        out.put_str(request.host);
        out.put(b"\n");
    });
    let key = SigningKey::derive(&credentials.secret_access_key, day, region, service);
    let signature =
        hex::encode(key.sign_request_hash(&amz_date, &scope, &hasher.finalize().into()));
    let mut out = String::with_capacity(256);
    for (name, value) in &query {
        out.push_str(name);
        out.push('=');
        out.push_str(value);
        out.push('&');
    }
    out.push_str("X-Amz-Signature=");
    out.push_str(&signature);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boto3_header() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20260102/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let a = parse_authorization(h).unwrap();
        assert_eq!(
            (a.service, a.region, a.date, a.access_key_id),
            ("lambda", "us-east-1", "20260102", "AKID")
        );
        assert_eq!(a.signed_headers, "host;x-amz-date");
    }

    #[test]
    fn malformed_is_incomplete_signature() {
        for h in [
            "Bearer x",
            "AWS4-HMAC-SHA256 Credential=garbage",
            "AWS4-HMAC-SHA256 Credential=AKID/20260102/us-east-1/lambda/aws4_request, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=a",
        ] {
            assert_eq!(parse_authorization(h).unwrap_err().code, "IncompleteSignatureException", "{h}");
        }
    }

    /// A presigned URL verifies until it expires, and not after.
    #[test]
    fn presigned_urls_verify_until_they_expire() {
        let at = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        let creds = Credentials {
            access_key_id: "NUBOCODE".into(),
            secret_access_key: "code-secret".into(),
        };
        let query = presign(
            &SigningRequest {
                method: "GET",
                encoded_path: "/_nubo/code/abc.zip",
                query: &[],
                host: "127.0.0.1:4750",
                body: b"",
            },
            &creds,
            "us-east-1",
            "s3",
            at,
            600,
        );
        assert!(query.contains("X-Amz-Expires=600&"), "{query}");
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "127.0.0.1:4750".parse().unwrap());
        let keys = StaticKeys::default().with("NUBOCODE", "code-secret");
        let request = VerifyRequest {
            method: "GET",
            path: "/_nubo/code/abc.zip",
            query: &query,
            headers: &headers,
            payload: Payload::Bytes(b""),
            uri_mode: UriMode::Normalized,
        };
        let options = VerifyOptions::default();
        let later = at + time::Duration::seconds(599);
        assert!(verify(&request, &keys, later, &options).unwrap().presigned);
        let expired = at + time::Duration::seconds(601);
        assert_eq!(
            verify(&request, &keys, expired, &options).unwrap_err(),
            SigV4Error::PresignExpired
        );
        let other = StaticKeys::default().with("NUBOCODE", "another-secret");
        assert!(matches!(
            verify(&request, &other, later, &options),
            Err(SigV4Error::SignatureMismatch(_))
        ));
    }

    /// The signer's output verifies, and its request matches botocore's canonical form (the
    /// suite's vectors themselves are checked in `tests/sigv4_vectors.rs`).
    #[test]
    fn signed_requests_verify() {
        let at = time::macros::datetime!(2015-08-30 12:36:00 UTC);
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        };
        let query = [("Marker".to_owned(), "a b/c".to_owned())];
        let body = br#"{"a":1}"#;
        let headers = sign(
            &SigningRequest {
                method: "POST",
                encoded_path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
                query: &query,
                host: "localhost:4750",
                body,
            },
            &creds,
            "us-east-1",
            "lambda",
            at,
        );
        let mut map = http::HeaderMap::new();
        map.insert("host", "localhost:4750".parse().unwrap());
        for (name, value) in &headers {
            map.insert(*name, value.parse().unwrap());
        }
        let keys = StaticKeys::default().with(&creds.access_key_id, &creds.secret_access_key);
        let verified = verify(
            &VerifyRequest {
                method: "POST",
                path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
                query: "Marker=a%20b%2Fc",
                headers: &map,
                payload: Payload::Bytes(body),
                uri_mode: UriMode::Normalized,
            },
            &keys,
            at,
            &VerifyOptions::default(),
        )
        .unwrap();
        assert_eq!(verified.service, "lambda");
        assert_eq!(
            parse_authorization(&headers[0].1).unwrap().scope,
            "20150830/us-east-1/lambda/aws4_request"
        );
    }
}
