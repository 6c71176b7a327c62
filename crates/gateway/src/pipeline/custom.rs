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
use crate::rest_api::authorizer::{decide, CompiledAuthorizer, Source};
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
            };
            match value.filter(|v| !v.is_empty()) {
                Some(v) => identity.push(v),
                None => return Err(Reject::Unauthenticated),
            }
        }
        let method_arn = execute_api_arn(ctx).ok_or(Reject::NotFound)?;
        let key = format!("{}\u{1}{}", identity.join("\u{1}"), method_arn);
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
                let event = if authorizer.token {
                    json!({"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn})
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
                    json!({
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
                    })
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
                let decision = Arc::new(decide(&output, &method_arn).ok_or_else(|| {
                    Reject::IntegrationFailed(format!(
                        "authorizer {} answered without a policy",
                        authorizer.id
                    ))
                })?);
                authorizer.remember(key, decision.clone());
                decision
            }
        };
        if !decision.allowed {
            return Err(Reject::Unauthorized(
                "User is not authorized to access this resource with an explicit deny".into(),
            ));
        }
        ctx.principal = Some(Principal::Custom(decision));
        Ok(request)
    }
}
