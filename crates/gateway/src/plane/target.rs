//! Integration targets: where a route's requests go, compiled once per deployment.
//!
//! A Lambda integration's function resolves in the scope its ARN names (an API may call a function
//! of another region, as on AWS); a bare function name, in the API's own scope.

use std::time::Duration;

use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;

use crate::http_api::model::IntegrationRecord;

/// A Lambda function as an integration names it: the scope it lives in and the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaTarget {
    /// The account and region of the function (the ARN's, else the API's).
    pub scope: Scope,
    /// The function, with its qualifier if the URI named one.
    pub function: FunctionRef,
}

/// Where a route's requests go.
#[derive(Debug)]
pub enum Target {
    /// A Lambda proxy integration.
    Lambda {
        /// The function.
        target: LambdaTarget,
        /// Payload format 2.0 (else 1.0).
        v2: bool,
        /// `timeoutInMillis`.
        timeout: Duration,
    },
    /// An HTTP proxy integration.
    Http {
        /// URL template (`{name}` path parameters substituted).
        uri: String,
        /// Method to use; `None` forwards the request's (`ANY`).
        method: Option<http::Method>,
        /// `timeoutInMillis`.
        timeout: Duration,
    },
    /// A REST API's `AWS` Lambda integration: the request and response mapped by templates.
    Mapped(Box<crate::rest_api::compile::MappedLambda>),
    /// A REST API's non-proxy `HTTP` integration.
    MappedHttp(Box<crate::rest_api::compile::MappedHttp>),
    /// A REST API's MOCK integration: a fixed answer, computed at deploy.
    Mock {
        /// Status.
        status: u16,
        /// Headers.
        headers: Vec<(String, String)>,
        /// Body (the response template as written, when it is static).
        body: bytes::Bytes,
        /// The response template, when it has references or directives: rendered per request.
        template: Option<Box<crate::rest_api::template::Named>>,
    },
}

/// The scope a function reference names: a full ARN's region and account, `ACCOUNT:function:…`'s
/// account in the API's region, else the API's own scope.
fn scope_of(reference: &str, api: &Scope) -> Scope {
    let parts: Vec<&str> = reference.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, account, "function", ..] => Scope {
            region: (*region).to_owned(),
            account_id: (*account).to_owned(),
        },
        [account, "function", ..] => Scope {
            region: api.region.clone(),
            account_id: (*account).to_owned(),
        },
        _ => api.clone(),
    }
}

/// Parses a Lambda integration URI: a function ARN (optionally qualified), a bare name, or
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`.
pub fn lambda_function(uri: &str, api: &Scope) -> Option<LambdaTarget> {
    let arn = match uri.split_once(":lambda:path/") {
        Some((_, path)) => path
            .split_once("/functions/")?
            .1
            .strip_suffix("/invocations")?,
        None => uri,
    };
    let scope = scope_of(arn, api);
    let function = FunctionRef::parse(arn, &scope).ok()?;
    Some(LambdaTarget { scope, function })
}

impl Target {
    /// Compiles an integration record (validated at definition time) of an API in `scope`.
    pub fn compile(record: &IntegrationRecord, scope: &Scope) -> Option<Self> {
        let timeout = Duration::from_millis(record.timeout_in_millis.clamp(50, 30_000) as u64);
        let uri = record.integration_uri.as_deref()?;
        match record.integration_type.as_str() {
            "AWS_PROXY" => Some(Self::Lambda {
                target: lambda_function(uri, scope)?,
                v2: record.payload_format_version == "2.0",
                timeout,
            }),
            "HTTP_PROXY" => Some(Self::Http {
                uri: uri.to_owned(),
                method: record
                    .integration_method
                    .as_deref()
                    .filter(|m| *m != "ANY")
                    .and_then(|m| m.parse().ok()),
                timeout,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_uris_in_every_accepted_form() {
        let id = Scope::default();
        let plain = lambda_function("arn:aws:lambda:us-east-1:000000000000:function:f", &id)
            .unwrap()
            .function;
        assert_eq!(
            (plain.name.as_str(), plain.qualifier.as_deref()),
            ("f", None)
        );
        let qualified =
            lambda_function("arn:aws:lambda:us-east-1:000000000000:function:f:live", &id).unwrap();
        assert_eq!(qualified.function.qualifier.as_deref(), Some("live"));
        assert_eq!(qualified.scope, id);
        let wrapped = lambda_function(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:g/invocations",
            &id,
        )
        .unwrap();
        assert_eq!(wrapped.function.name, "g");
        assert_eq!(lambda_function("h", &id).unwrap().scope, id);
        assert!(lambda_function("arn:aws:lambda:us-east-1:000000000000:layer:x", &id).is_none());
    }

    #[test]
    fn a_function_resolves_in_the_scope_its_arn_names() {
        let api = Scope::default();
        let eu = lambda_function("arn:aws:lambda:eu-west-1:123456789012:function:f", &api).unwrap();
        assert_eq!(
            eu.scope,
            Scope {
                region: "eu-west-1".into(),
                account_id: "123456789012".into()
            }
        );
        let partial = lambda_function("123456789012:function:f:live", &api).unwrap();
        assert_eq!(
            (
                partial.scope.region.as_str(),
                partial.scope.account_id.as_str()
            ),
            ("us-east-1", "123456789012")
        );
    }
}
