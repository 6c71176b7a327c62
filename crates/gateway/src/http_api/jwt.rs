//! JWT authorizers of HTTP APIs: the compiled form a route carries, the issuers' key sets (one
//! cache per gateway, keyed by issuer, so a recompile does not refetch), and verification — the
//! signature by the JWKS key the token's `kid` names (RS*, PS*, ES256/384; never HMAC), `iss`
//! exactly the configured issuer, `aud` (or, without one, `client_id`) one of the audiences,
//! `exp` in the future and `nbf` in the past, then the route's scopes (`scope` or `scp`).
//!
//! Fetching is the gateway's (`pipeline/jwt.rs`): the cache only says what it holds and whether a
//! refetch is due — after [`KEYS_FRESH_FOR`], or on an unknown `kid` at most every
//! [`REFETCH_AT_MOST_EVERY`] (keys rotated at the issuer are picked up without a storm of fetches
//! for tokens signed by unknown keys).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::RwLock;
use serde_json::{Map, Value};

use super::authorizers::AuthorizerRecord;

/// How long a fetched key set is used without asking the issuer again.
pub const KEYS_FRESH_FOR: Duration = Duration::from_secs(3600);
/// How often an unknown `kid` may make the gateway refetch an issuer's keys.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// Where the token is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A header (lower-cased name).
    Header(String),
    /// A query string parameter.
    Query(String),
}

/// A JWT authorizer as a route carries it.
#[derive(Debug)]
pub struct CompiledJwt {
    /// Authorizer id.
    pub id: String,
    /// The `iss` tokens must carry (and where the keys are found).
    pub issuer: String,
    /// Accepted audiences.
    pub audience: Vec<String>,
    /// Where the token is.
    pub source: TokenSource,
    /// Whether `aud`/`client_id` must be one of `audience` (REST's Cognito authorizers do not ask).
    pub check_audience: bool,
}

/// The environment variable naming local issuers of Cognito user pools:
/// `{poolId}={issuer URL},…` (a pool not named there has Cognito's own issuer, which Nubo can only
/// reach over TLS, so its tokens are refused).
pub const COGNITO_ISSUERS_VAR: &str = "NUBO_COGNITO_ISSUERS";

/// The issuer of a user pool, from its ARN (`arn:aws:cognito-idp:{region}:{account}:userpool/{id}`).
pub fn cognito_issuer(provider_arn: &str) -> Option<String> {
    let region = provider_arn.split(':').nth(3)?;
    let pool = provider_arn.rsplit_once("userpool/")?.1;
    if let Ok(configured) = std::env::var(COGNITO_ISSUERS_VAR) {
        for entry in configured.split(',') {
            if let Some((id, url)) = entry.trim().split_once('=') {
                if id == pool {
                    return Some(url.to_owned());
                }
            }
        }
    }
    Some(format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

impl CompiledJwt {
    /// Compiles a `JWT` authorizer (others: none).
    pub fn compile(record: &AuthorizerRecord) -> Option<Self> {
        if record.authorizer_type != "JWT" {
            return None;
        }
        let config = record.jwt_configuration.as_ref()?;
        let source = record.identity_source.first()?;
        let source = if let Some(h) = source.strip_prefix("$request.header.") {
            TokenSource::Header(h.to_ascii_lowercase())
        } else {
            TokenSource::Query(source.strip_prefix("$request.querystring.")?.to_owned())
        };
        Some(Self {
            id: record.authorizer_id.clone(),
            issuer: config.issuer.clone()?,
            audience: config.audience.clone(),
            source,
            check_audience: true,
        })
    }

    /// Compiles a REST API's `COGNITO_USER_POOLS` authorizer: its (first) user pool's issuer,
    /// the token from its identity source header.
    pub fn compile_cognito(record: &crate::rest_api::authorizer::AuthorizerRecord) -> Option<Self> {
        if record.authorizer_type != "COGNITO_USER_POOLS" {
            return None;
        }
        let header = record
            .identity_source
            .as_deref()
            .unwrap_or("method.request.header.Authorization")
            .strip_prefix("method.request.header.")?
            .to_ascii_lowercase();
        Some(Self {
            id: record.id.clone(),
            issuer: cognito_issuer(record.provider_arns.first()?)?,
            audience: Vec::new(),
            source: TokenSource::Header(header),
            check_audience: false,
        })
    }
}

/// Why a token is refused (the `error_description` of AWS's `WWW-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, or a header that does not parse.
    #[error("the token is malformed")]
    Malformed,
    /// No key of the issuer's set has the token's `kid` (after a refetch).
    #[error("no key in the issuer's JWKS matches the token's kid")]
    UnknownKey,
    /// An algorithm API Gateway does not accept (HMAC, none).
    #[error("unsupported signing algorithm")]
    Algorithm,
    /// The signature does not verify.
    #[error("signature validation failed")]
    Signature,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// No `exp`.
    #[error("the token has no exp claim")]
    NoExpiry,
    /// `iss` is not the configured issuer.
    #[error("the token has an invalid issuer")]
    Issuer,
    /// Neither `aud` nor `client_id` is one of the audiences.
    #[error("the token has an invalid audience")]
    Audience,
}

/// What a verified token tells the integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Every claim, as 2.0's `requestContext.authorizer.jwt.claims` shows them (strings).
    pub claims: Map<String, Value>,
    /// The token's scopes (`scope`, space-separated, or `scp`).
    pub scopes: Vec<String>,
}

/// One issuer's keys.
struct IssuerKeys {
    fetched: Instant,
    by_kid: HashMap<String, Arc<DecodingKey>>,
    /// The key of a set's only key without a `kid`, or of the only key (tokens without `kid`).
    only: Option<Arc<DecodingKey>>,
}

/// Every issuer's keys, shared by all JWT authorizers of the gateway.
#[derive(Default)]
pub struct KeyCache {
    issuers: RwLock<HashMap<String, Arc<IssuerKeys>>>,
    /// Held while fetching, so concurrent requests wait for one fetch instead of each making one.
    pub fetching: tokio::sync::Mutex<()>,
}

/// What the cache has for a token.
pub enum Lookup {
    /// The key.
    Key(Arc<DecodingKey>),
    /// Fetch the issuer's keys (none yet, stale, or an unknown `kid` and a refetch is allowed).
    Fetch,
    /// An unknown `kid`, and the keys were fetched too recently to ask again.
    Unknown,
}

impl KeyCache {
    /// The key for `kid` of `issuer`.
    pub fn lookup(&self, issuer: &str, kid: Option<&str>) -> Lookup {
        let issuers = self.issuers.read();
        let Some(keys) = issuers.get(issuer) else {
            return Lookup::Fetch;
        };
        let age = keys.fetched.elapsed();
        if age > KEYS_FRESH_FOR {
            return Lookup::Fetch;
        }
        let found = match kid {
            Some(kid) => keys.by_kid.get(kid).cloned(),
            None => keys.only.clone(),
        };
        match found {
            Some(key) => Lookup::Key(key),
            None if age > REFETCH_AT_MOST_EVERY => Lookup::Fetch,
            None => Lookup::Unknown,
        }
    }

    /// Stores a fetched set (keys that do not parse are left out).
    pub fn store(&self, issuer: &str, set: &JwkSet) {
        let mut by_kid = HashMap::new();
        let mut without_kid = Vec::new();
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let key = Arc::new(key);
            match &jwk.common.key_id {
                Some(kid) => {
                    by_kid.insert(kid.clone(), key);
                }
                None => without_kid.push(key),
            }
        }
        let only = if without_kid.len() == 1 {
            without_kid.pop()
        } else if without_kid.is_empty() && by_kid.len() == 1 {
            by_kid.values().next().cloned()
        } else {
            None
        };
        self.issuers.write().insert(
            issuer.to_owned(),
            Arc::new(IssuerKeys {
                fetched: Instant::now(),
                by_kid,
                only,
            }),
        );
    }
}

/// The token's header: its `kid` and algorithm (only asymmetric ones are accepted).
pub fn header(token: &str) -> Result<(Option<String>, Algorithm), JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    match header.alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512
        | Algorithm::ES256
        | Algorithm::ES384 => Ok((header.kid, header.alg)),
        _ => Err(JwtError::Algorithm),
    }
}

fn audience_matches(claims: &Map<String, Value>, audience: &[String]) -> bool {
    let one_of = |v: &str| audience.iter().any(|a| a == v);
    match claims.get("aud") {
        Some(Value::String(aud)) => one_of(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(one_of),
        _ => claims
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(one_of),
    }
}

/// A claim as 2.0 events show it: strings as they are, arrays as `[a b]`, others as JSON.
fn claim_string(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            Value::String(format!("[{}]", parts.join(" ")))
        }
        other => Value::String(other.to_string()),
    }
}

/// Verifies `token` with `key` for `authorizer`.
pub fn verify(
    token: &str,
    algorithm: Algorithm,
    key: &DecodingKey,
    authorizer: &CompiledJwt,
) -> Result<Verified, JwtError> {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.required_spec_claims = ["exp".to_owned()].into_iter().collect();
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::MissingRequiredClaim(_) => JwtError::NoExpiry,
                ErrorKind::InvalidAlgorithm => JwtError::Algorithm,
                ErrorKind::InvalidSignature => JwtError::Signature,
                _ => JwtError::Malformed,
            }
        })?;
    let claims = data.claims;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if claims
        .get("iat")
        .and_then(Value::as_f64)
        .is_some_and(|iat| iat > now as f64)
    {
        return Err(JwtError::NotYetValid);
    }
    if claims.get("iss").and_then(Value::as_str) != Some(authorizer.issuer.as_str()) {
        return Err(JwtError::Issuer);
    }
    if authorizer.check_audience && !audience_matches(&claims, &authorizer.audience) {
        return Err(JwtError::Audience);
    }
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
        (_, Some(Value::Array(items))) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::String(s))) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Ok(Verified {
        claims: claims
            .iter()
            .map(|(k, v)| (k.clone(), claim_string(v)))
            .collect(),
        scopes,
    })
}

/// Whether a token with `scopes` may call a route that asks for `wanted` (one of them suffices;
/// a route asking for none admits every valid token).
pub fn has_scope(scopes: &[String], wanted: &[String]) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| scopes.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audiences_and_claims_read_as_aws_shows_them() {
        let aud = vec!["api".to_owned()];
        let claims = |v: Value| v.as_object().unwrap().clone();
        assert!(audience_matches(&claims(json!({"aud": "api"})), &aud));
        assert!(audience_matches(
            &claims(json!({"aud": ["x", "api"]})),
            &aud
        ));
        assert!(audience_matches(&claims(json!({"client_id": "api"})), &aud));
        assert!(!audience_matches(
            &claims(json!({"aud": "x", "client_id": "api"})),
            &aud
        ));
        assert_eq!(claim_string(&json!(["a", "b"])), json!("[a b]"));
        assert_eq!(claim_string(&json!(12)), json!("12"));
        assert!(has_scope(&["r".into(), "w".into()], &["w".into()]));
        assert!(!has_scope(&["r".into()], &["w".into()]));
        assert!(has_scope(&[], &[]));
    }

    #[test]
    fn hmac_and_garbage_are_refused_before_any_key_lookup() {
        // {"alg":"HS256","typ":"JWT"}
        let hs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x";
        assert_eq!(header(hs), Err(JwtError::Algorithm));
        assert_eq!(header("not-a-token"), Err(JwtError::Malformed));
    }

    #[test]
    fn unknown_kids_refetch_at_most_every_second() {
        let cache = KeyCache::default();
        assert!(matches!(cache.lookup("i", Some("k")), Lookup::Fetch));
        cache.store("i", &JwkSet { keys: Vec::new() });
        assert!(matches!(cache.lookup("i", Some("k")), Lookup::Unknown));
    }
}
