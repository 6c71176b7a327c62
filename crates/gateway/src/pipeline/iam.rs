//! `authorize` for IAM: routes with `authorizationType: AWS_IAM` and Function URLs with
//! `AuthType: AWS_IAM` take SigV4-signed requests only (signing names `execute-api` and `lambda`),
//! verified against the same keys as the AWS APIs, and authorize the caller:
//!
//! - a route: `execute-api:Invoke` on `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`
//!   by the caller's identity policies (HTTP APIs have no resource policies);
//! - a Function URL: `lambda:InvokeFunctionUrl` on the function (qualified by the URL's alias) with
//!   `lambda:FunctionUrlAuthType = AWS_IAM`, by identity policy or the function's own policy
//!   (`nubo_lambda::Registry::authorize_invoke`).
//!
//! A Function URL with `AuthType: NONE` is called anonymously: the function's policy is consulted
//! for an explicit `Deny` only, as if it held the public-access statement AWS's console adds when
//! it creates such a URL (Nubo adds none, so URLs made before resource policies keep working).
//!
//! The signature covers the body, so a signed request's body is read (up to the payload limit)
//! before the integration, which then gets it buffered.

use bytes::Bytes;
use http::HeaderMap;
use nubo_identity::policy::{ConditionKeys, Decision};
use nubo_identity::Caller;
use nubo_wire::sigv4::{verify, AuthFamily, Payload, UriMode, VerifyOptions, VerifyRequest};
use time::OffsetDateTime;

use super::ctx::{IamCaller, Principal, RequestCtx, Selected};
use super::integrate::read_limited;
use super::reject::{full_body, Reject};
use crate::function_url::AuthType;
use crate::{Gateway, GatewayBody};

/// Bodies above this are hashed with the async worker handed off.
const LARGE_BODY: usize = 1024 * 1024;

/// What an IAM-authorized request must be allowed.
enum Needed {
    /// `execute-api:Invoke` on this ARN.
    Route(String),
    /// `lambda:InvokeFunctionUrl` on the URL's function.
    Url,
}

/// Whether a request carries a SigV4 signature at all (header or presigned query).
fn is_signed(headers: &HeaderMap, query: &str) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"))
        || query
            .split('&')
            .any(|pair| pair.starts_with("X-Amz-Signature="))
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}` for a request.
pub(super) fn execute_api_arn(ctx: &RequestCtx) -> Option<String> {
    let Some(Selected::Api { api, stage }) = &ctx.selected else {
        return None;
    };
    Some(format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
        api.scope.region,
        api.scope.account_id,
        stage.api_id,
        stage.stage_name,
        ctx.method,
        ctx.route_path().trim_start_matches('/'),
    ))
}

impl Gateway {
    /// `authorize`: verifies and authorizes an `AWS_IAM` route's or Function URL's caller (the
    /// request comes back with its body read), and checks a public Function URL against its
    /// function's explicit denials. Everything else passes as it is.
    pub(crate) async fn authorize(
        &self,
        ctx: &mut RequestCtx,
        request: http::Request<GatewayBody>,
    ) -> Result<http::Request<GatewayBody>, Reject> {
        let needed = match &ctx.selected {
            Some(Selected::Api { stage, .. }) => {
                let Some(route) = &ctx.route else {
                    return Ok(request);
                };
                let compiled = &stage.routes[route.index as usize];
                if let Some(custom) = compiled.custom.clone() {
                    return self.custom_authorize(ctx, custom, request).await;
                }
                if let Some((jwt, scopes)) = compiled.jwt.clone() {
                    return self.jwt_authorize(ctx, jwt, scopes, request).await;
                }
                if !compiled.aws_iam {
                    return Ok(request);
                }
                Needed::Route(execute_api_arn(ctx).ok_or(Reject::NotFound)?)
            }
            Some(Selected::Url(url)) if url.auth_type == AuthType::None => {
                // Without a policy there is nothing that could deny: one map read, no evaluation.
                if self
                    .invoker
                    .registry()
                    .policy(&url.target.function)
                    .is_none()
                {
                    return Ok(request);
                }
                let keys = ConditionKeys::default().with("lambda:FunctionUrlAuthType", "NONE");
                let decision = self.invoker.registry().authorize_invoke(
                    &Caller::anonymous(),
                    "lambda:InvokeFunctionUrl",
                    &url.target.function,
                    &keys,
                    OffsetDateTime::now_utc(),
                );
                return match decision {
                    Err(denied) if matches!(denied.decision, Decision::ExplicitDeny(_)) => {
                        Err(Reject::Forbidden)
                    }
                    _ => Ok(request),
                };
            }
            Some(Selected::Url(_)) => Needed::Url,
            None => return Ok(request),
        };
        let (parts, body) = request.into_parts();
        if !is_signed(&parts.headers, parts.uri.query().unwrap_or("")) {
            return Err(Reject::MissingAuthenticationToken);
        }
        let body = read_limited(body).await?;
        let now = OffsetDateTime::now_utc();
        let caller = self.authenticate(&parts, &body, &needed, now)?;
        let keys = ConditionKeys::default()
            .with("aws:SourceIp", ctx.ingress.source_ip.clone())
            .with("aws:SecureTransport", "false");
        let allowed = match (&needed, &ctx.selected) {
            (Needed::Route(arn), Some(Selected::Api { api, .. })) => caller.authorize(
                "execute-api:Invoke",
                arn,
                None,
                Some(&api.scope.account_id),
                &keys,
                now,
            ),
            (Needed::Url, Some(Selected::Url(url))) => {
                let keys = keys.with("lambda:FunctionUrlAuthType", "AWS_IAM");
                self.invoker.registry().authorize_invoke(
                    &caller,
                    "lambda:InvokeFunctionUrl",
                    &url.target.function,
                    &keys,
                    now,
                )
            }
            _ => return Err(Reject::Forbidden),
        };
        if let Err(denied) = allowed {
            tracing::debug!(reason = %denied.message(), "IAM authorization refused a gateway request");
            return Err(Reject::Forbidden);
        }
        let principal = &caller.principal;
        ctx.principal = Some(Principal::Iam(IamCaller {
            access_key: signed_key(&parts.headers, parts.uri.query().unwrap_or("")),
            account_id: principal.account.clone(),
            user_id: principal.id.clone(),
            user_arn: principal.arn.clone(),
        }));
        Ok(http::Request::from_parts(parts, full_body(body)))
    }

    /// A WebSocket `$connect` with `AWS_IAM`: the upgrade request (no body) signed for
    /// `execute-api`, its caller resolved.
    pub(crate) fn socket_caller(&self, parts: &http::request::Parts) -> Result<Caller, Reject> {
        if !is_signed(&parts.headers, parts.uri.query().unwrap_or("")) {
            return Err(Reject::MissingAuthenticationToken);
        }
        self.authenticate(
            parts,
            &Bytes::new(),
            &Needed::Route(String::new()),
            OffsetDateTime::now_utc(),
        )
    }

    /// Verifies the signature over the request and its body, for the signing name the resource
    /// wants, and resolves the caller.
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        needed: &Needed,
        now: OffsetDateTime,
    ) -> Result<Caller, Reject> {
        let service = match needed {
            Needed::Route(_) => "execute-api",
            Needed::Url => "lambda",
        };
        let rejected = |e: nubo_wire::sigv4::SigV4Error| {
            Reject::Unauthorized(e.to_aws_error(AuthFamily::RestJson).message)
        };
        let run = || {
            let verified = verify(
                &VerifyRequest {
                    method: parts.method.as_str(),
                    path: parts.uri.path(),
                    query: parts.uri.query().unwrap_or(""),
                    headers: &parts.headers,
                    payload: Payload::Bytes(body),
                    uri_mode: UriMode::Normalized,
                },
                self.identity.as_ref(),
                now,
                &VerifyOptions {
                    max_skew: time::Duration::minutes(5),
                },
            )
            .map_err(rejected)?;
            if verified.service != service {
                return Err(Reject::Unauthorized(format!(
                    "Credential should be scoped to correct service: '{service}'. "
                )));
            }
            self.identity.authenticate(&verified, now).map_err(rejected)
        };
        if body.len() > LARGE_BODY {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }
}

/// The access key id of a signed request (for `requestContext.authorizer.iam.accessKey`).
fn signed_key(headers: &HeaderMap, query: &str) -> String {
    let from_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next());
    let from_query = || {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
            .and_then(|c| c.split("%2F").next())
    };
    from_header.or_else(from_query).unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_recognized_in_either_form() {
        let mut headers = HeaderMap::new();
        assert!(!is_signed(&headers, ""));
        assert!(is_signed(&headers, "a=1&X-Amz-Signature=abc"));
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKIA1/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert!(is_signed(&headers, ""));
        assert_eq!(signed_key(&headers, ""), "AKIA1");
        assert_eq!(
            signed_key(
                &HeaderMap::new(),
                "X-Amz-Credential=AKIA2%2F20240101%2Fus-east-1"
            ),
            "AKIA2"
        );
    }
}
