//! Lambda authorizers of REST APIs (TOKEN and REQUEST): the record, the compiled form a route
//! carries (with its decision cache, per identity source, for `authorizerResultTtlInSeconds`),
//! and how a function's answer (an IAM policy) becomes a decision.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plane::LambdaTarget;
use crate::GatewayError;

/// An authorizer as stored and rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRecord {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `TOKEN`, `REQUEST` or `COGNITO_USER_POOLS`.
    #[serde(rename = "type", default)]
    pub authorizer_type: String,
    /// The function (`arn:aws:apigateway:…:lambda:path/…/invocations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    /// `method.request.header.Authorization` (TOKEN), comma-separated sources (REQUEST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<String>,
    /// TOKEN: a regex the token must match (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
    /// Cache TTL, 0–3600 (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    /// Cognito user pools (`COGNITO_USER_POOLS`).
    #[serde(
        rename = "providerARNs",
        alias = "providerArns",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub provider_arns: Vec<String>,
    /// Credentials (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_credentials: Option<String>,
    /// Auth type (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
}

/// CreateAuthorizer's validation.
pub fn validate(record: &AuthorizerRecord) -> Result<(), GatewayError> {
    if record.name.is_empty() {
        return Err(GatewayError::bad_request("Authorizer name is required"));
    }
    match record.authorizer_type.as_str() {
        "TOKEN" | "REQUEST" => {
            if record.authorizer_uri.as_deref().is_none_or(str::is_empty) {
                return Err(GatewayError::bad_request(
                    "Authorizer URI is required for TOKEN and REQUEST authorizers",
                ));
            }
        }
        "COGNITO_USER_POOLS" => {
            let valid = |arn: &String| {
                arn.starts_with("arn:aws:cognito-idp:") && arn.contains(":userpool/")
            };
            if record.provider_arns.is_empty() || !record.provider_arns.iter().all(valid) {
                return Err(GatewayError::bad_request(
                    "providerARNs must name Cognito user pools (arn:aws:cognito-idp:{region}:{account}:userpool/{id})",
                ));
            }
        }
        other => {
            return Err(GatewayError::bad_request(format!(
                "Invalid authorizer type {other}: TOKEN, REQUEST or COGNITO_USER_POOLS"
            )))
        }
    }
    if record.authorizer_type == "TOKEN"
        && !record
            .identity_source
            .as_deref()
            .is_some_and(|s| s.starts_with("method.request.header."))
    {
        return Err(GatewayError::bad_request(
            "Invalid identity source: a TOKEN authorizer reads method.request.header.<name>",
        ));
    }
    if !(0..=3600).contains(&record.authorizer_result_ttl_in_seconds.unwrap_or(300)) {
        return Err(GatewayError::bad_request(
            "authorizerResultTtlInSeconds must be between 0 and 3600",
        ));
    }
    Ok(())
}

/// Where an identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A header (lower-cased).
    Header(String),
    /// A query string parameter.
    Query(String),
    /// A stage variable.
    StageVariable(String),
    /// HTTP APIs: a `$context` variable (`requestId`, `stage`, `apiId`, `routeKey`, …).
    Context(String),
}

/// The event a Lambda authorizer receives and the answer it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// REST TOKEN: `authorizationToken` + `methodArn`; an IAM policy.
    Token,
    /// REST REQUEST: headers, query, path, stage variables; an IAM policy.
    Request,
    /// HTTP API REQUEST, payload 1.0 (REST's REQUEST event plus `version`, `identitySource`) or
    /// 2.0 (`routeArn`, `identitySource` list, the 2.0 request); `simple`: `isAuthorized`.
    Http {
        /// Payload 2.0.
        v2: bool,
        /// `enableSimpleResponses`.
        simple: bool,
    },
}

/// A decision the function made.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Whether the policy allows the method.
    pub allowed: bool,
    /// `principalId`.
    pub principal_id: Value,
    /// `context` (flat string/number/boolean values).
    pub context: serde_json::Map<String, Value>,
    /// `usageIdentifierKey`.
    pub usage_key: Option<String>,
}

/// A Lambda authorizer as a route carries it.
#[derive(Debug)]
pub struct CompiledAuthorizer {
    /// Id.
    pub id: String,
    /// The event and answer.
    pub format: Format,
    /// The function.
    pub function: LambdaTarget,
    /// Identity sources.
    pub sources: Vec<Source>,
    /// Cache TTL.
    pub ttl: Duration,
    /// Decisions by identity (and, for REQUEST, by method ARN as AWS's cache keys do not).
    cache: Mutex<HashMap<String, (Instant, Arc<Decision>)>>,
}

impl CompiledAuthorizer {
    /// Compiles a TOKEN or REQUEST authorizer (others: none).
    pub fn compile(record: &AuthorizerRecord, scope: &nubo_wire::Scope) -> Option<Self> {
        let token = match record.authorizer_type.as_str() {
            "TOKEN" => true,
            "REQUEST" => false,
            _ => return None,
        };
        let function = crate::plane::lambda_function(record.authorizer_uri.as_deref()?, scope)?;
        let sources = record
            .identity_source
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|s| {
                let s = s.trim();
                if let Some(h) = s.strip_prefix("method.request.header.") {
                    Some(Source::Header(h.to_ascii_lowercase()))
                } else if let Some(q) = s.strip_prefix("method.request.querystring.") {
                    Some(Source::Query(q.to_owned()))
                } else {
                    s.strip_prefix("stageVariables.")
                        .map(|v| Source::StageVariable(v.to_owned()))
                }
            })
            .collect();
        Some(Self {
            id: record.id.clone(),
            format: if token {
                Format::Token
            } else {
                Format::Request
            },
            function,
            sources,
            ttl: Duration::from_secs(record.authorizer_result_ttl_in_seconds.unwrap_or(300) as u64),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Compiles an HTTP API `REQUEST` authorizer (others: none).
    pub fn compile_http(
        record: &crate::http_api::authorizers::AuthorizerRecord,
        scope: &nubo_wire::Scope,
    ) -> Option<Self> {
        if record.authorizer_type != "REQUEST" {
            return None;
        }
        let function = crate::plane::lambda_function(record.authorizer_uri.as_deref()?, scope)?;
        let sources = record
            .identity_source
            .iter()
            .filter_map(|s| {
                if let Some(h) = s.strip_prefix("$request.header.") {
                    Some(Source::Header(h.to_ascii_lowercase()))
                } else if let Some(q) = s.strip_prefix("$request.querystring.") {
                    Some(Source::Query(q.to_owned()))
                } else if let Some(v) = s.strip_prefix("$stageVariables.") {
                    Some(Source::StageVariable(v.to_owned()))
                } else {
                    s.strip_prefix("$context.")
                        .map(|c| Source::Context(c.to_owned()))
                }
            })
            .collect();
        Some(Self {
            id: record.authorizer_id.clone(),
            format: Format::Http {
                v2: record.authorizer_payload_format_version.as_deref() == Some("2.0"),
                simple: record.enable_simple_responses == Some(true),
            },
            function,
            sources,
            ttl: Duration::from_secs(
                record.authorizer_result_ttl_in_seconds.unwrap_or(0).max(0) as u64
            ),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A cached decision for `identity`, if still fresh.
    pub fn cached(&self, identity: &str) -> Option<Arc<Decision>> {
        let cache = self.cache.lock();
        let (at, decision) = cache.get(identity)?;
        (at.elapsed() < self.ttl).then(|| decision.clone())
    }

    /// Remembers a decision (not when the TTL is 0).
    pub fn remember(&self, identity: String, decision: Arc<Decision>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock();
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        cache.insert(identity, (Instant::now(), decision));
    }
}

/// Whether an IAM resource pattern (`*`, `?`) matches an ARN.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A function's answer as a decision for `method_arn`: allowed when an `Allow` statement for
/// `execute-api:Invoke` names it and no `Deny` does. `None`: not a policy answer.
pub fn decide(output: &Value, method_arn: &str) -> Option<Decision> {
    let statements = match output.get("policyDocument")?.get("Statement")? {
        Value::Array(items) => items.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => return None,
    };
    let mut allow = false;
    let mut deny = false;
    for statement in &statements {
        let action = strings(statement.get("Action"))
            .iter()
            .any(|a| wildcard(&a.to_ascii_lowercase(), "execute-api:invoke"));
        let resource = strings(statement.get("Resource"))
            .iter()
            .any(|r| wildcard(r, method_arn));
        if !(action && resource) {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => allow = true,
            Some("Deny") => deny = true,
            _ => {}
        }
    }
    let context = output
        .get("context")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.is_string() || v.is_number() || v.is_boolean())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Some(Decision {
        allowed: allow && !deny,
        principal_id: output.get("principalId").cloned().unwrap_or(Value::Null),
        context,
        usage_key: output
            .get("usageIdentifierKey")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// A simple response (`{"isAuthorized": bool, "context": {...}}`) as a decision. `None`: not one.
pub fn decide_simple(output: &Value) -> Option<Decision> {
    let allowed = output.get("isAuthorized")?.as_bool()?;
    Some(Decision {
        allowed,
        principal_id: Value::Null,
        context: output
            .get("context")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        usage_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_allow_and_deny_by_resource() {
        let arn = "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/items";
        let policy = |effect: &str, resource: &str| {
            serde_json::json!({"principalId": "u", "policyDocument": {"Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
                "context": {"user": "ann", "nested": {"x": 1}}})
        };
        let allowed = decide(&policy("Allow", "arn:aws:execute-api:*:*:abc/*"), arn).unwrap();
        assert!(allowed.allowed);
        assert_eq!(allowed.context.len(), 1);
        assert!(!decide(&policy("Deny", "*"), arn).unwrap().allowed);
        assert!(
            !decide(&policy("Allow", "arn:aws:execute-api:*:*:other/*"), arn)
                .unwrap()
                .allowed
        );
        assert!(decide(&serde_json::json!({"x": 1}), arn).is_none());
        let simple =
            decide_simple(&serde_json::json!({"isAuthorized": true, "context": {"a": {"b": 1}}}));
        assert!(simple.unwrap().allowed);
        assert!(decide_simple(&serde_json::json!({"isAuthorized": "yes"})).is_none());
    }
}
