//! The canonical request, the string to sign and the signing key: the one implementation that both
//! [`super::sign`] and [`super::verify`] use, so a request Nubo signs is a request Nubo accepts.
//!
//! Everything writes into a [`Sink`]: a SHA-256 hasher on the verification hot path (nothing is
//! allocated for the canonical request), a `String` when a caller wants to see the text (signing,
//! S3's `CanonicalRequest` error member, tests).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::uri_encode;

/// The SigV4 algorithm name, first line of every string to sign.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SHA-256 of the empty string, the payload hash of every body-less request.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How the path becomes the canonical URI. AWS differs by service (spec/sigv4.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMode {
    /// Every service but S3: remove `.`/`..` and empty segments, then URI-encode the path *as sent*
    /// once more (so `%3D` becomes `%253D`) — botocore's `SigV4Auth._normalize_url_path`.
    Normalized,
    /// S3: the path is significant byte for byte (`//` and `..` are key characters), encoded once.
    S3,
}

/// Where canonical text goes.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn put_str(&mut self, text: &str) {
        self.put(text.as_bytes());
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// True when `segment` is already in canonical form: only unreserved characters and `%XX` escapes
/// with upper-case hex. Such text needs no decode/encode round trip (the common case: SDKs encode
/// exactly as SigV4 does).
fn is_canonical_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => i += 1,
            b'%' if i + 2 < bytes.len()
                && is_upper_hex(bytes[i + 1])
                && is_upper_hex(bytes[i + 2]) =>
            {
                i += 3
            }
            _ => return false,
        }
    }
    true
}

fn is_upper_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(&b)
}

/// Decodes `%XX` and encodes again per SigV4 — unless it is already canonical.
fn recode(text: &str) -> Cow<'_, str> {
    if is_canonical_component(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(uri_encode(&percent_decode_str(text).decode_utf8_lossy()))
    }
}

/// Writes the canonical URI of `raw_path` (the path exactly as it arrived, still percent-encoded).
pub(crate) fn write_canonical_uri(raw_path: &str, mode: UriMode, out: &mut impl Sink) {
    match mode {
        UriMode::S3 => {
            if raw_path.is_empty() {
                out.put(b"/");
                return;
            }
            for (i, segment) in raw_path.split('/').enumerate() {
                if i > 0 {
                    out.put(b"/");
                }
                out.put_str(&recode(segment));
            }
        }
        UriMode::Normalized => {
            // botocore's remove_dot_segments, which also drops empty segments (AWS wants `//`
            // collapsed), then quote(path, safe='/~') over the still-encoded text.
            let mut kept: Vec<&str> = Vec::new();
            for segment in raw_path.split('/') {
                match segment {
                    "" | "." => {}
                    ".." => {
                        kept.pop();
                    }
                    other => kept.push(other),
                }
            }
            out.put(b"/");
            for (i, segment) in kept.iter().enumerate() {
                if i > 0 {
                    out.put(b"/");
                }
                if is_unreserved_only(segment) {
                    out.put_str(segment);
                } else {
                    out.put_str(&uri_encode(segment));
                }
            }
            if raw_path.ends_with('/') && !kept.is_empty() {
                out.put(b"/");
            }
        }
    }
}

fn is_unreserved_only(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Splits a raw query string into canonical `(name, value)` pairs, sorted, leaving out `skip`
/// (presigned URLs leave out `X-Amz-Signature`). An item without `=` has an empty value.
pub(crate) fn canonical_query_pairs<'q>(
    raw_query: &'q str,
    skip: Option<&str>,
) -> Vec<(Cow<'q, str>, Cow<'q, str>)> {
    let mut pairs: Vec<(Cow<'q, str>, Cow<'q, str>)> = raw_query
        .split('&')
        .filter(|item| !item.is_empty())
        .filter_map(|item| {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            if skip.is_some_and(|skip| name == skip) {
                return None;
            }
            Some((recode(name), recode(value)))
        })
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Writes `name=value&…` from canonical pairs.
pub(crate) fn write_canonical_query<K: AsRef<str>, V: AsRef<str>>(
    pairs: &[(K, V)],
    out: &mut impl Sink,
) {
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.put(b"&");
        }
        out.put_str(name.as_ref());
        out.put(b"=");
        out.put_str(value.as_ref());
    }
}

/// Writes one header value trimmed, with inner runs of spaces collapsed to one (SigV4 §3.4).
fn write_trimmed_value(value: &[u8], out: &mut impl Sink) {
    let mut start = 0;
    let mut end = value.len();
    while start < end && value[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && value[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let value = &value[start..end];
    if !value.windows(2).any(|w| w[0] == b' ' && w[1] == b' ') {
        out.put(value);
        return;
    }
    let mut previous_space = false;
    for &byte in value {
        let space = byte == b' ';
        if !(space && previous_space) {
            out.put(&[byte]);
        }
        previous_space = space;
    }
}

/// Writes `name:value\n` for each signed header, in the order the client listed them; several
/// occurrences of one header are joined with `,` in the order received.
pub(crate) fn write_canonical_headers(
    signed_headers: &str,
    headers: &HeaderMap,
    out: &mut impl Sink,
) {
    for name in signed_headers.split(';') {
        out.put_str(name);
        out.put(b":");
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.put(b",");
            }
            write_trimmed_value(value.as_bytes(), out);
        }
        out.put(b"\n");
    }
}

/// The pieces of a canonical request other than the headers, which come either from a request's
/// `HeaderMap` (verification) or from the signer's own list (signing).
pub(crate) struct CanonicalParts<'a, K, V> {
    pub(crate) method: &'a str,
    pub(crate) raw_path: &'a str,
    pub(crate) uri_mode: UriMode,
    pub(crate) query: &'a [(K, V)],
    pub(crate) signed_headers: &'a str,
    pub(crate) payload_hash: &'a str,
}

/// Writes the whole canonical request; `write_headers` writes the canonical header lines.
pub(crate) fn write_canonical_request<K: AsRef<str>, V: AsRef<str>, S: Sink>(
    parts: &CanonicalParts<'_, K, V>,
    out: &mut S,
    write_headers: impl FnOnce(&mut S),
) {
    out.put_str(parts.method);
    out.put(b"\n");
    write_canonical_uri(parts.raw_path, parts.uri_mode, out);
    out.put(b"\n");
    write_canonical_query(parts.query, out);
    out.put(b"\n");
    write_headers(out);
    out.put(b"\n");
    out.put_str(parts.signed_headers);
    out.put(b"\n");
    out.put_str(parts.payload_hash);
}

/// `kSigning`, derived once per (secret, day, region, service) and worth caching: deriving costs
/// four HMACs, more than the rest of a verification. It keeps the HMAC state with the key already
/// absorbed, so each signature costs only the message's own blocks.
#[derive(Clone)]
pub struct SigningKey {
    bytes: [u8; 32],
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("SigningKey(…)")
    }
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl SigningKey {
    /// `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, day), region), service), "aws4_request")`.
    pub fn derive(secret_access_key: &str, day: &str, region: &str, service: &str) -> Self {
        let mut seed = Vec::with_capacity(4 + secret_access_key.len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret_access_key.as_bytes());
        let k_date = hmac(&seed, day.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        Self::from_bytes(hmac(&k_service, b"aws4_request"))
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mac = Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC accepts any key length");
        Self { bytes, mac }
    }

    /// The raw key (test vectors print it).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// HMAC-SHA256 of the pieces, concatenated, under this key.
    pub(crate) fn sign_pieces(&self, pieces: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for piece in pieces {
            mac.update(piece);
        }
        mac.finalize().into_bytes().into()
    }

    /// The signature of a string to sign made of `amz_date`, `scope` and the canonical request's
    /// hash, without building the string.
    pub(crate) fn sign_request_hash(
        &self,
        amz_date: &str,
        scope: &str,
        hash: &[u8; 32],
    ) -> [u8; 32] {
        let mut hex_hash = [0u8; 64];
        hex::encode_to_slice(hash, &mut hex_hash).expect("64 bytes hold 32 as hex");
        self.sign_pieces(&[
            ALGORITHM.as_bytes(),
            b"\n",
            amz_date.as_bytes(),
            b"\n",
            scope.as_bytes(),
            b"\n",
            &hex_hash,
        ])
    }
}

/// The string to sign, as text (for error bodies and tests; verification never builds it).
pub(crate) fn string_to_sign(
    amz_date: &str,
    scope: &str,
    canonical_request_hash: &[u8; 32],
) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(canonical_request_hash)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, mode: UriMode) -> String {
        let mut out = Vec::new();
        write_canonical_uri(path, mode, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn normalized_paths_drop_dots_and_double_encode() {
        assert_eq!(uri("", UriMode::Normalized), "/");
        assert_eq!(uri("/", UriMode::Normalized), "/");
        assert_eq!(uri("//example//", UriMode::Normalized), "/example/");
        assert_eq!(uri("/a/./b/../c", UriMode::Normalized), "/a/c");
        assert_eq!(uri("/..", UriMode::Normalized), "/");
        assert_eq!(
            uri("/prod/@connections/L0SM9cOFvHcCIhw%3D", UriMode::Normalized),
            "/prod/%40connections/L0SM9cOFvHcCIhw%253D"
        );
        assert_eq!(
            uri(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
                UriMode::Normalized
            ),
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Af/invocations"
        );
    }

    #[test]
    fn s3_paths_stay_as_sent() {
        assert_eq!(uri("//example//", UriMode::S3), "//example//");
        assert_eq!(
            uri("/mybucket/photos/Happy%20Face%2B1.jpg", UriMode::S3),
            "/mybucket/photos/Happy%20Face%2B1.jpg"
        );
        assert_eq!(uri("/b/a b!", UriMode::S3), "/b/a%20b%21");
        assert_eq!(uri("/b/%7e%2f", UriMode::S3), "/b/~%2F");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        let pairs =
            canonical_query_pairs("Param-3=Value3&Param=Value2&%E1%88%B4=Value1&uploads", None);
        let mut out = Vec::new();
        write_canonical_query(&pairs, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3&uploads="
        );
        let pairs =
            canonical_query_pairs("a=x/y&X-Amz-Signature=abc&b=c%2fd", Some("X-Amz-Signature"));
        let mut out = Vec::new();
        write_canonical_query(&pairs, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a=x%2Fy&b=c%2Fd");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let mut headers = HeaderMap::new();
        headers.append("my-header1", " value4 ".parse().unwrap());
        headers.append("my-header1", "value1".parse().unwrap());
        headers.append("my-header2", "\"a   b   c\"".parse().unwrap());
        let mut out = Vec::new();
        write_canonical_headers("my-header1;my-header2", &headers, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "my-header1:value4,value1\nmy-header2:\"a b c\"\n"
        );
    }

    /// The intermediate keys of AWS's `get-vanilla` vector (spec/sigv4.md §7.1).
    #[test]
    fn signing_key_matches_the_suite() {
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "service",
        );
        assert_eq!(
            hex::encode(key.as_bytes()),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
        );
    }
}
