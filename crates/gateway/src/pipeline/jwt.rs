//! `authorize` for an HTTP API route with a JWT authorizer: the token from its identity source
//! (missing → 401; a `Bearer ` prefix is dropped), the issuer's key by `kid` (fetched from
//! `{issuer}/.well-known/openid-configuration`'s `jwks_uri` on first use, on an unknown `kid`
//! and after an hour; one fetch at a time), the token verified (else 401 with why in
//! `WWW-Authenticate`), then the route's scopes (none of them → 403). Claims and scopes reach the
//! integration as `requestContext.authorizer.jwt`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;

use super::ctx::{Principal, RequestCtx};
use super::reject::Reject;
use crate::http_api::jwt::{self, CompiledJwt, JwtError, Lookup, TokenSource};
use crate::{BoxError, Gateway, GatewayBody};

/// How long fetching an issuer's configuration or keys may take (AWS's 1 500 ms).
const FETCH_TIMEOUT: Duration = Duration::from_millis(1500);
/// The largest configuration or key set read.
const FETCH_LIMIT: usize = 1024 * 1024;

fn invalid(e: JwtError) -> Reject {
    Reject::InvalidToken(e.to_string())
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

impl Gateway {
    pub(super) async fn jwt_authorize(
        &self,
        ctx: &mut RequestCtx,
        authorizer: Arc<CompiledJwt>,
        scopes: Vec<String>,
        request: http::Request<GatewayBody>,
    ) -> Result<http::Request<GatewayBody>, Reject> {
        let raw = match &authorizer.source {
            TokenSource::Header(name) => request
                .headers()
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            TokenSource::Query(name) => query_value(request.uri().query().unwrap_or(""), name),
        };
        let Some(raw) = raw.filter(|v| !v.trim().is_empty()) else {
            return Err(Reject::Unauthenticated);
        };
        let raw = raw.trim();
        let token = raw
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .map_or(raw, |_| raw[7..].trim_start());
        let (kid, algorithm) = jwt::header(token).map_err(invalid)?;
        let key = self.jwt_key(&authorizer.issuer, kid.as_deref()).await?;
        let verified = jwt::verify(token, algorithm, &key, &authorizer).map_err(invalid)?;
        if !jwt::has_scope(&verified.scopes, &scopes) {
            return Err(Reject::InsufficientScope(scopes));
        }
        ctx.principal = Some(Principal::Jwt(Arc::new(verified)));
        Ok(request)
    }

    /// The issuer's key `kid` names, fetching the issuer's keys when the cache says so.
    async fn jwt_key(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<DecodingKey>, Reject> {
        match self.jwks.lookup(issuer, kid) {
            Lookup::Key(key) => return Ok(key),
            Lookup::Unknown => return Err(invalid(JwtError::UnknownKey)),
            Lookup::Fetch => {}
        }
        let _one_fetch = self.jwks.fetching.lock().await;
        // Another request may have fetched while this one waited.
        match self.jwks.lookup(issuer, kid) {
            Lookup::Key(key) => return Ok(key),
            Lookup::Unknown => return Err(invalid(JwtError::UnknownKey)),
            Lookup::Fetch => {}
        }
        match self.fetch_jwks(issuer).await {
            Ok(set) => self.jwks.store(issuer, &set),
            Err(why) => {
                tracing::warn!(%issuer, %why, "could not fetch a JWT issuer's keys");
                return Err(Reject::InvalidToken(
                    "unable to fetch the issuer's signing keys".into(),
                ));
            }
        }
        match self.jwks.lookup(issuer, kid) {
            Lookup::Key(key) => Ok(key),
            _ => Err(invalid(JwtError::UnknownKey)),
        }
    }

    /// The issuer's key set: `jwks_uri` of its OpenID configuration, else `/.well-known/jwks.json`.
    async fn fetch_jwks(&self, issuer: &str) -> Result<JwkSet, String> {
        let base = issuer.trim_end_matches('/');
        let config_url = format!("{base}/.well-known/openid-configuration");
        let jwks_url = match self.fetch_json(&config_url).await {
            Ok(config) => config
                .get("jwks_uri")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{config_url} names no jwks_uri"))?,
            Err(_) => format!("{base}/.well-known/jwks.json"),
        };
        let set = self.fetch_json(&jwks_url).await?;
        serde_json::from_value(set).map_err(|e| format!("{jwks_url} is not a JWKS: {e}"))
    }

    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "{url}: only http:// issuers can be fetched (no TLS client yet)"
            ));
        }
        let body: GatewayBody = Empty::<Bytes>::new()
            .map_err(|never| -> BoxError { match never {} })
            .boxed_unsync();
        let mut request = http::Request::new(body);
        *request.uri_mut() = uri;
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| format!("{url}: timed out"))?
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let bytes = tokio::time::timeout(
            FETCH_TIMEOUT,
            Limited::new(response.into_body(), FETCH_LIMIT).collect(),
        )
        .await
        .map_err(|_| format!("{url}: timed out"))?
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| format!("{url}: not JSON: {e}"))
    }
}
