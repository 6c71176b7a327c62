//! `authorize` for a REST API method with a Lambda authorizer (TOKEN or REQUEST): the identity
//! sources must be present (else 401), a fresh cached decision for the same identity is reused,
//! else the function runs with the TOKEN or REQUEST event and its IAM policy decides (Deny →
//! 403). The decision's `principalId` and `context` reach the integration.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::ctx::{Principal, RequestCtx};
use super::iam::execute_api_arn;
use super::reject::Reject;
use crate::plane::CompiledStage;
use crate::rest_api::authorizer::{decide, decide_simple, CompiledAuthorizer, Format, Source};
use crate::{Gateway, GatewayBody};

/// How long an authorizer function may take.
const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(30);

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

/// A `$context` variable an HTTP API authorizer may name as an identity source.
fn context_variable(ctx: &RequestCtx, stage: &CompiledStage, name: &str) -> Option<String> {
    let route = ctx.route.as_ref().map(|r| &stage.routes[r.index as usize]);
    Some(match name {
        "requestId" => ctx.ingress.request_id.clone(),
        "apiId" => stage.api_id.clone(),
        "stage" => stage.stage_name.clone(),
        "httpMethod" => ctx.method.to_string(),
        "path" => ctx.path.clone(),
        "domainName" => ctx.ingress.domain_name.clone(),
        "identity.sourceIp" => ctx.ingress.source_ip.clone(),
        "routeKey" => route?.route_key.clone(),
        _ => return None,
    })
}

/// HTTP APIs' payload 2.0 authorizer event.
fn http_v2_event(
    ctx: &RequestCtx,
    stage: &CompiledStage,
    headers: &http::HeaderMap,
    query: &str,
    identity: &[String],
    route_arn: &str,
) -> Value {
    let mut header_map: Map<String, Value> = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| json!(c.trim())));
            continue;
        }
        match header_map.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => {
                header_map.insert(name.as_str().to_owned(), json!(value));
            }
        }
    }
    let mut query_map: Map<String, Value> = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, _) = pair.split_once('=').unwrap_or((pair, ""));
        let v = query_value(pair, k).unwrap_or_default();
        match query_map.get_mut(k) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&v);
            }
            _ => {
                query_map.insert(k.to_owned(), json!(v));
            }
        }
    }
    let route = ctx.route.as_ref();
    let route_key = route
        .map(|r| stage.routes[r.index as usize].route_key.clone())
        .unwrap_or_default();
    let path_parameters: Map<String, Value> = route
        .map(|r| {
            r.path_parameters
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect()
        })
        .unwrap_or_default();
    let received = ctx.ingress.received;
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": identity,
        "routeKey": route_key,
        "rawPath": ctx.path,
        "rawQueryString": query,
        "cookies": cookies,
        "headers": header_map,
        "queryStringParameters": query_map,
        "pathParameters": path_parameters,
        "stageVariables": stage.stage_variables,
        "requestContext": {
            "accountId": ctx.selected.as_ref().and_then(|s| match s {
                super::ctx::Selected::Api { api, .. } => Some(api.scope.account_id.clone()),
                _ => None,
            }),
            "apiId": stage.api_id,
            "domainName": ctx.ingress.domain_name,
            "domainPrefix": ctx.ingress.domain_name.split('.').next().unwrap_or(""),
            "http": {
                "method": ctx.method.as_str(),
                "path": ctx.path,
                "protocol": "HTTP/1.1",
                "sourceIp": ctx.ingress.source_ip,
                "userAgent": ctx.user_agent.as_ref().and_then(|v| v.to_str().ok()),
            },
            "requestId": ctx.ingress.request_id,
            "routeKey": route_key,
            "stage": stage.stage_name,
            "time": received.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": (received.unix_timestamp_nanos() / 1_000_000) as i64,
        },
    })
}

impl Gateway {
    pub(super) async fn custom_authorize(
        &self,
        ctx: &mut RequestCtx,
        authorizer: Arc<CompiledAuthorizer>,
        request: http::Request<GatewayBody>,
    ) -> Result<http::Request<GatewayBody>, Reject> {
        let stage = ctx.stage().cloned().ok_or(Reject::NotFound)?;
        let headers = request.headers();
        let query = request.uri().query().unwrap_or("");
        let mut identity = Vec::with_capacity(authorizer.sources.len());
        for source in &authorizer.sources {
            let value = match source {
                Source::Header(name) => headers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                Source::Query(name) => query_value(query, name),
                Source::StageVariable(name) => stage.stage_variables.get(name).cloned(),
                Source::Context(name) => context_variable(ctx, &stage, name),
            };
            match value.filter(|v| !v.is_empty()) {
                Some(v) => identity.push(v),
                None => return Err(Reject::Unauthenticated),
            }
        }
        let method_arn = execute_api_arn(ctx).ok_or(Reject::NotFound)?;
        let simple = matches!(authorizer.format, Format::Http { simple: true, .. });
        // A policy answers for the method it was asked about; a simple answer for any route.
        let key = if simple {
            identity.join("\u{1}")
        } else {
            format!("{}\u{1}{}", identity.join("\u{1}"), method_arn)
        };
        let decision = match authorizer.cached(&key) {
            Some(decision) => decision,
            None => {
                if let Some(super::ctx::Selected::Api { api, .. }) = &ctx.selected {
                    let arn = format!(
                        "arn:aws:execute-api:{}:{}:{}/authorizers/{}",
                        api.scope.region, api.scope.account_id, stage.api_id, authorizer.id
                    );
                    self.may_invoke_as(&authorizer.function, &api.scope, &arn)?;
                }
                let event = if authorizer.format == Format::Token {
                    json!({"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn})
                } else if let Format::Http { v2: true, .. } = authorizer.format {
                    http_v2_event(ctx, &stage, headers, query, &identity, &method_arn)
                } else {
                    let header_map: Map<String, Value> = headers
                        .iter()
                        .filter_map(|(k, v)| Some((k.as_str().to_owned(), json!(v.to_str().ok()?))))
                        .collect();
                    let query_map: Map<String, Value> = query
                        .split('&')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, _) = p.split_once('=').unwrap_or((p, ""));
                            (k.to_owned(), json!(query_value(query, k)))
                        })
                        .collect();
                    let route = ctx.route.as_ref();
                    let path_parameters: Map<String, Value> = route
                        .map(|r| {
                            r.path_parameters
                                .iter()
                                .map(|(k, v)| (k.clone(), json!(v)))
                                .collect()
                        })
                        .unwrap_or_default();
                    let resource = route
                        .map(|r| stage.routes[r.index as usize].resource().to_owned())
                        .unwrap_or_default();
                    let mut event = json!({
                        "type": "REQUEST",
                        "methodArn": method_arn,
                        "resource": resource,
                        "path": ctx.route_path(),
                        "httpMethod": ctx.method.as_str(),
                        "headers": header_map,
                        "queryStringParameters": query_map,
                        "pathParameters": path_parameters,
                        "stageVariables": stage.stage_variables,
                        "requestContext": {
                            "requestId": ctx.ingress.request_id,
                            "stage": stage.stage_name,
                            "apiId": stage.api_id,
                            "httpMethod": ctx.method.as_str(),
                            "resourcePath": resource,
                        },
                    });
                    if let Format::Http { .. } = authorizer.format {
                        event["version"] = json!("1.0");
                        event["identitySource"] = json!(identity.join(","));
                        event["authorizationToken"] = json!(identity.join(","));
                    }
                    event
                };
                let result = self
                    .invoke(
                        &authorizer.function,
                        event.to_string().into(),
                        Some(AUTHORIZER_TIMEOUT),
                        &ctx.ingress,
                    )
                    .await?;
                let output: Value = serde_json::from_slice(&result.payload).unwrap_or(Value::Null);
                if result.function_error {
                    return Err(
                        if output.get("errorMessage").and_then(Value::as_str)
                            == Some("Unauthorized")
                        {
                            Reject::Unauthenticated
                        } else {
                            Reject::IntegrationFailed(format!(
                                "authorizer {} failed",
                                authorizer.id
                            ))
                        },
                    );
                }
                let decided = if simple {
                    decide_simple(&output)
                } else {
                    decide(&output, &method_arn)
                };
                let decision = Arc::new(decided.ok_or_else(|| {
                    Reject::IntegrationFailed(format!(
                        "authorizer {} answered without a policy",
                        authorizer.id
                    ))
                })?);
                authorizer.remember(key, decision.clone());
                decision
            }
        };
        if !decision.allowed && matches!(authorizer.format, Format::Http { .. }) {
            return Err(Reject::Forbidden);
        }
        if !decision.allowed {
            return Err(Reject::Unauthorized(
                "User is not authorized to access this resource with an explicit deny".into(),
            ));
        }
        ctx.principal = Some(Principal::Custom(decision));
        Ok(request)
    }
}
