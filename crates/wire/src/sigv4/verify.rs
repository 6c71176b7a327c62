//! Verifying a SigV4 request, in its header form (`Authorization: AWS4-HMAC-SHA256 …`) and its
//! presigned-query form (`?X-Amz-Algorithm=AWS4-HMAC-SHA256&…&X-Amz-Signature=…`).
//!
//! [`verify`] is pure: the caller hands it the request as it arrived, a [`SigningKeys`] lookup and
//! `now`, and gets back the [`Verified`] caller or a [`SigV4Error`] that the edge renders per
//! protocol family. On success nothing is allocated for the canonical request (it is hashed as it
//! is written); on failure the canonical request and string to sign are rebuilt as text for S3's
//! error body.

use std::borrow::Cow;
use std::collections::HashMap;

use http::header::{AUTHORIZATION, DATE};
use http::HeaderMap;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::canonical::{
    canonical_query_pairs, string_to_sign, write_canonical_headers, write_canonical_request,
    CanonicalParts, SigningKey, UriMode, ALGORITHM,
};
use super::chunked::ChunkSignatureChain;
use super::dates::{parse_amz_date, parse_http_date};
use super::error::{MismatchDetails, SigV4Error, SkewDetails};
use super::parse_authorization_parts;
use super::payload::payload_hash;

/// The longest a presigned URL may live: seven days (`X-Amz-Expires` ≤ 604800).
pub const MAX_PRESIGN_EXPIRES_SECONDS: i64 = 604_800;

/// What the caller knows of the body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body, hashed here only when the request does not name its own hash.
    Bytes(&'a [u8]),
    /// The body's SHA-256, computed by the caller.
    Sha256([u8; 32]),
    /// The body is not read yet (a streaming upload); the request must carry
    /// `x-amz-content-sha256`, and the caller checks a hex hash against the body itself later.
    Unavailable,
}

/// A request as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path exactly as sent, still percent-encoded.
    pub path: &'a str,
    /// The raw query string without `?` (empty when none).
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The body, or what is known of it.
    pub payload: Payload<'a>,
    /// S3 canonicalizes paths differently from every other service.
    pub uri_mode: UriMode,
}

/// Knobs of verification.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// How far the header form's `X-Amz-Date` may be from now (AWS: 5 minutes for Lambda, API
    /// Gateway, IAM; 15 for S3, STS, DynamoDB).
    pub max_skew: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_skew: Duration::minutes(5),
        }
    }
}

/// What a key lookup is asked: the key id, the session token if the request carried one, and the
/// credential scope (a cache of signing keys is keyed by all of it).
#[derive(Debug, Clone, Copy)]
pub struct KeyRequest<'a> {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: &'a str,
    /// `X-Amz-Security-Token`, if sent.
    pub session_token: Option<&'a str>,
    /// `YYYYMMDD` from the scope.
    pub day: &'a str,
    /// Region from the scope.
    pub region: &'a str,
    /// Signing name from the scope.
    pub service: &'a str,
    /// The verifier's now, for token expiry.
    pub now: OffsetDateTime,
}

/// Why a key lookup found no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// No such access key (or it is inactive).
    UnknownAccessKey,
    /// The session token is malformed, forged, or not for this key.
    InvalidToken,
    /// The session token has expired.
    ExpiredToken,
}

/// Finds the signing key for an access key id. The identity layer implements it over its registry
/// (with a cache, since deriving a key costs four HMACs); [`StaticKeys`] serves tests and fixed keys.
pub trait SigningKeys: Send + Sync {
    /// The signing key for the request's key id and scope.
    fn signing_key(&self, request: &KeyRequest<'_>) -> Result<SigningKey, KeyError>;

    /// The secret itself, for S3's legacy SigV2 presigned URLs (HMAC-SHA1 over the secret; no
    /// derived key). Only S3's verification asks for it.
    fn secret_access_key(&self, request: &KeyRequest<'_>) -> Result<String, KeyError> {
        let _ = request;
        Err(KeyError::UnknownAccessKey)
    }
}

/// Fixed long-term keys: access key id → secret. Tokens are refused.
#[derive(Debug, Default, Clone)]
pub struct StaticKeys {
    secrets: HashMap<String, String>,
}

impl StaticKeys {
    /// Adds a key pair.
    pub fn with(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.secrets
            .insert(access_key_id.to_owned(), secret_access_key.to_owned());
        self
    }
}

impl SigningKeys for StaticKeys {
    fn signing_key(&self, request: &KeyRequest<'_>) -> Result<SigningKey, KeyError> {
        let secret = self
            .secrets
            .get(request.access_key_id)
            .ok_or(KeyError::UnknownAccessKey)?;
        if request.session_token.is_some() {
            return Err(KeyError::InvalidToken);
        }
        Ok(SigningKey::derive(
            secret,
            request.day,
            request.region,
            request.service,
        ))
    }

    fn secret_access_key(&self, request: &KeyRequest<'_>) -> Result<String, KeyError> {
        if request.session_token.is_some() {
            return Err(KeyError::InvalidToken);
        }
        self.secrets
            .get(request.access_key_id)
            .cloned()
            .ok_or(KeyError::UnknownAccessKey)
    }
}

/// What `x-amz-content-sha256` (or its absence) said about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// A hex SHA-256 the signature covers. When the body was at hand it has been checked; when it
    /// was [`Payload::Unavailable`] the caller must check it as the body streams in.
    Sha256Hex(String),
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: aws-chunked, each chunk signed; see
    /// [`Verified::chunk_chain`].
    StreamingSigned {
        /// `-TRAILER`: a signed trailer follows the last chunk.
        trailer: bool,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, chunks unsigned, a checksum trailer.
    StreamingUnsignedTrailer,
}

/// A caller whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified<'a> {
    /// The access key id.
    pub access_key_id: Cow<'a, str>,
    /// The region of the credential scope.
    pub region: Cow<'a, str>,
    /// The signing name of the credential scope.
    pub service: Cow<'a, str>,
    /// The session token, for temporary credentials.
    pub session_token: Option<Cow<'a, str>>,
    /// When the request was signed.
    pub signed_at: OffsetDateTime,
    /// True for the presigned-query form.
    pub presigned: bool,
    /// How the body is covered.
    pub payload: PayloadHash,
    seed: Option<ChunkSeed>,
}

#[derive(Debug, Clone)]
struct ChunkSeed {
    key: SigningKey,
    amz_date: String,
    scope: String,
    signature: [u8; 32],
}

impl<'a> Verified<'a> {
    /// A caller verified by another scheme (S3's SigV2 presigned URLs): an unsigned payload, no
    /// chunk chain.
    pub fn legacy(
        access_key_id: Cow<'a, str>,
        session_token: Option<Cow<'a, str>>,
        region: Cow<'a, str>,
        service: Cow<'a, str>,
        signed_at: OffsetDateTime,
    ) -> Self {
        Self {
            access_key_id,
            region,
            service,
            session_token,
            signed_at,
            presigned: true,
            payload: PayloadHash::Unsigned,
            seed: None,
        }
    }
}

impl Verified<'_> {
    /// For a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body: the chain that checks each
    /// chunk's `chunk-signature`, seeded with this request's signature.
    pub fn chunk_chain(&self) -> Option<ChunkSignatureChain> {
        self.seed.as_ref().map(|seed| {
            ChunkSignatureChain::new(
                seed.key.clone(),
                &seed.amz_date,
                &seed.scope,
                seed.signature,
            )
        })
    }
}

/// What the request claims, from either form.
struct Claim<'a> {
    access_key_id: Cow<'a, str>,
    day: Cow<'a, str>,
    region: Cow<'a, str>,
    service: Cow<'a, str>,
    scope: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    amz_date: Cow<'a, str>,
    signed_at: OffsetDateTime,
    session_token: Option<Cow<'a, str>>,
    presigned: bool,
}

pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies `request`'s signature at `now`.
pub fn verify<'a>(
    request: &VerifyRequest<'a>,
    keys: &dyn SigningKeys,
    now: OffsetDateTime,
    options: &VerifyOptions,
) -> Result<Verified<'a>, SigV4Error> {
    let claim = if let Some(value) = request.headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| SigV4Error::incomplete("Authorization header is not valid ASCII."))?;
        header_claim(value, request.headers, now, options)?
    } else if request.query.contains("X-Amz-")
        && query_param(request.query, "X-Amz-Algorithm").is_some()
    {
        presigned_claim(request.query, now, options)?
    } else {
        return Err(SigV4Error::MissingAuthentication);
    };

    if !claim.signed_headers.split(';').any(|h| h == "host") {
        return Err(claim.incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let payload_hash = payload_hash(request, claim.presigned)?;

    let key = keys
        .signing_key(&KeyRequest {
            access_key_id: &claim.access_key_id,
            session_token: claim.session_token.as_deref(),
            day: &claim.day,
            region: &claim.region,
            service: &claim.service,
            now,
        })
        .map_err(|e| match e {
            KeyError::UnknownAccessKey => SigV4Error::UnknownAccessKey,
            KeyError::InvalidToken => SigV4Error::InvalidToken,
            KeyError::ExpiredToken => SigV4Error::ExpiredToken,
        })?;

    let skip = claim.presigned.then_some("X-Amz-Signature");
    let query = canonical_query_pairs(request.query, skip);
    let parts = CanonicalParts {
        method: request.method,
        raw_path: request.path,
        uri_mode: request.uri_mode,
        query: &query,
        signed_headers: &claim.signed_headers,
        payload_hash: payload_hash.canonical(),
    };
    let mut hasher = Sha256::new();
    write_canonical_request(&parts, &mut hasher, |out| {
        write_canonical_headers(&claim.signed_headers, request.headers, out)
    });
    let hash: [u8; 32] = hasher.finalize().into();
    let expected = key.sign_request_hash(&claim.amz_date, &claim.scope, &hash);

    let mut provided = [0u8; 32];
    let well_formed = claim.signature.len() == 64
        && hex::decode_to_slice(claim.signature.as_bytes(), &mut provided).is_ok();
    if !well_formed || !bool::from(expected.ct_eq(&provided)) {
        let mut text = Vec::new();
        write_canonical_request(&parts, &mut text, |out| {
            write_canonical_headers(&claim.signed_headers, request.headers, out)
        });
        return Err(SigV4Error::SignatureMismatch(Box::new(MismatchDetails {
            access_key_id: claim.access_key_id.into_owned(),
            string_to_sign: string_to_sign(&claim.amz_date, &claim.scope, &hash),
            signature_provided: claim.signature.into_owned(),
            canonical_request: String::from_utf8_lossy(&text).into_owned(),
        })));
    }

    let payload = payload_hash.into_verified(request.payload)?;
    let seed = matches!(payload, PayloadHash::StreamingSigned { .. }).then(|| ChunkSeed {
        key,
        amz_date: claim.amz_date.clone().into_owned(),
        scope: claim.scope.clone().into_owned(),
        signature: expected,
    });
    Ok(Verified {
        access_key_id: claim.access_key_id,
        region: claim.region,
        service: claim.service,
        session_token: claim.session_token,
        signed_at: claim.signed_at,
        presigned: claim.presigned,
        payload,
        seed,
    })
}

impl Claim<'_> {
    fn incomplete(&self, message: &str) -> SigV4Error {
        if self.presigned {
            SigV4Error::presign(message)
        } else {
            SigV4Error::incomplete(message)
        }
    }
}

fn header_claim<'a>(
    value: &'a str,
    headers: &'a HeaderMap,
    now: OffsetDateTime,
    options: &VerifyOptions,
) -> Result<Claim<'a>, SigV4Error> {
    let auth = parse_authorization_parts(value).map_err(SigV4Error::incomplete)?;
    let (amz_date, signed_at): (Cow<'a, str>, OffsetDateTime) = if let Some(raw) =
        header_str(headers, "x-amz-date")
    {
        let at = parse_amz_date(raw).ok_or_else(|| {
                SigV4Error::incomplete(format!(
                    "Date must be in ISO-8601 'basic format'. Got '{raw}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ))
            })?;
        (Cow::Borrowed(raw), at)
    } else if let Some(raw) = header_str(headers, DATE.as_str()) {
        let at = parse_http_date(raw).ok_or_else(|| {
            SigV4Error::incomplete(format!(
                "Date header is not a valid HTTP date. Got '{raw}'."
            ))
        })?;
        (Cow::Owned(crate::timefmt::amz_date(at)), at)
    } else {
        return Err(SigV4Error::incomplete(format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={value}"
            )));
    };
    check_skew(&amz_date, signed_at, now, options)?;
    check_scope_day(auth.date, &amz_date)?;
    Ok(Claim {
        access_key_id: Cow::Borrowed(auth.access_key_id),
        day: Cow::Borrowed(auth.date),
        region: Cow::Borrowed(auth.region),
        service: Cow::Borrowed(auth.service),
        scope: Cow::Borrowed(auth.scope),
        signed_headers: Cow::Borrowed(auth.signed_headers),
        signature: Cow::Borrowed(auth.signature),
        amz_date,
        signed_at,
        session_token: header_str(headers, "x-amz-security-token").map(Cow::Borrowed),
        presigned: false,
    })
}

fn check_skew(
    amz_date: &str,
    signed_at: OffsetDateTime,
    now: OffsetDateTime,
    options: &VerifyOptions,
) -> Result<(), SigV4Error> {
    let skew = |ahead: bool| {
        let bound = if ahead {
            now + options.max_skew
        } else {
            now - options.max_skew
        };
        SigV4Error::Skewed(Box::new(SkewDetails {
            request_time: amz_date.to_owned(),
            bound: crate::timefmt::amz_date(bound),
            server_time: crate::timefmt::amz_date(now),
            skew_minutes: options.max_skew.whole_minutes().max(0) as u32,
            ahead,
        }))
    };
    if signed_at < now - options.max_skew {
        return Err(skew(false));
    }
    if signed_at > now + options.max_skew {
        return Err(skew(true));
    }
    Ok(())
}

fn check_scope_day(scope_day: &str, amz_date: &str) -> Result<(), SigV4Error> {
    if amz_date.get(..8) != Some(scope_day) {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_day}' != '{}', from '{amz_date}'.",
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    Ok(())
}

/// The raw value of the first query parameter called `name`.
pub(crate) fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|item| {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        (key == name).then_some(value)
    })
}

fn decoded(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

fn presigned_claim<'a>(
    query: &'a str,
    now: OffsetDateTime,
    options: &VerifyOptions,
) -> Result<Claim<'a>, SigV4Error> {
    let param = |name: &str| query_param(query, name).map(decoded);
    let required = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(amz_date),
        Some(signed_headers),
        Some(expires),
    ) = (
        param("X-Amz-Algorithm"),
        param("X-Amz-Credential"),
        param("X-Amz-Signature"),
        param("X-Amz-Date"),
        param("X-Amz-SignedHeaders"),
        param("X-Amz-Expires"),
    )
    else {
        return Err(SigV4Error::presign(required));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::presign(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\""
        )));
    }
    let signed_at = parse_amz_date(&amz_date).ok_or_else(|| {
        SigV4Error::presign(format!(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"; got '{amz_date}'"
        ))
    })?;
    let expires: i64 = expires
        .parse()
        .map_err(|_| SigV4Error::presign("X-Amz-Expires should be a number"))?;
    if expires < 0 {
        return Err(SigV4Error::presign("X-Amz-Expires must be non-negative"));
    }
    if expires > MAX_PRESIGN_EXPIRES_SECONDS {
        return Err(SigV4Error::presign(format!(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than {MAX_PRESIGN_EXPIRES_SECONDS} seconds"
        )));
    }
    if signed_at > now + options.max_skew {
        return Err(SigV4Error::PresignNotYetValid);
    }
    if now > signed_at + Duration::seconds(expires) {
        return Err(SigV4Error::PresignExpired);
    }
    let (access_key_id, day, region, service, scope) = split_credential(credential)?;
    check_scope_day(&day, &amz_date)?;
    Ok(Claim {
        access_key_id,
        day,
        region,
        service,
        scope,
        signed_headers,
        signature,
        amz_date,
        signed_at,
        session_token: param("X-Amz-Security-Token"),
        presigned: true,
    })
}

type CredentialParts<'a> = (
    Cow<'a, str>,
    Cow<'a, str>,
    Cow<'a, str>,
    Cow<'a, str>,
    Cow<'a, str>,
);

/// Splits a decoded `AKID/YYYYMMDD/region/service/aws4_request` into its parts and the scope.
fn split_credential(credential: Cow<'_, str>) -> Result<CredentialParts<'_>, SigV4Error> {
    let owned = credential.into_owned();
    let parts: Vec<&str> = owned.split('/').collect();
    let [key, day, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(SigV4Error::presign(format!(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". Credential={owned}"
        )));
    };
    let scope = owned[key.len() + 1..].to_owned();
    Ok((
        Cow::Owned((*key).to_owned()),
        Cow::Owned((*day).to_owned()),
        Cow::Owned((*region).to_owned()),
        Cow::Owned((*service).to_owned()),
        Cow::Owned(scope),
    ))
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
