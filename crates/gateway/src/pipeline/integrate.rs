//! `integrate` and `map_response`: the only phases that do I/O — a Lambda invocation (the 1.0 or
//! 2.0 event in, the function's output mapped to a response) or an HTTP backend (request and
//! response bodies streamed).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use nubo_lambda::{InvokeError, InvokeRequest, InvokeResult};

use super::ctx::{IamCaller, Principal, RequestCtx, Selected};
use super::events::{event_v1, event_v2, RequestFacts, RouteFacts};
use super::mapping::{map_v1, map_v2, MappedResponse};
use super::reject::{full_body, with_headers, Reject};
use crate::plane::{LambdaTarget, Target};
use crate::rest_api::template::Inputs;
use crate::{BoxError, Gateway, GatewayBody, GatewayResponse};

/// API Gateway's payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// What an integration produced, before `map_response`.
pub enum Integrated {
    /// A function ran; its output is mapped by payload format.
    Lambda {
        /// The invocation's outcome.
        result: InvokeResult,
        /// Payload format 2.0 (else 1.0).
        v2: bool,
    },
    /// An HTTP backend answered (streamed through as it is).
    Http(GatewayResponse),
}

/// Reads a request body up to the gateway's limit. A body that arrives in one piece is kept as
/// it is (no copy).
pub(super) async fn read_limited(mut body: GatewayBody) -> Result<Bytes, Reject> {
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut length = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Reject::BadRequest)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        length += data.len();
        if length > MAX_PAYLOAD_BYTES {
            return Err(Reject::PayloadTooLarge);
        }
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(head) = first.take() {
                    rest.extend_from_slice(&head);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// Hop-by-hop headers a proxy must not forward.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

/// The invocation request for a function in `target.scope` (the scope travels in the reference).
fn invoke_request(
    target: &LambdaTarget,
    payload: Bytes,
    request_id: &str,
    trace: Option<nubo_observe::TraceContext>,
) -> InvokeRequest {
    InvokeRequest {
        function: target.function.clone(),
        payload,
        client_context: None,
        tail_log: false,
        request_id: Some(request_id.to_owned()),
        lineage: 0,
        trace,
    }
}

/// What the matched route (or the Function URL) integrates with.
enum Plan<'a> {
    Mapped {
        mapped: &'a crate::rest_api::compile::MappedLambda,
        path_parameters: &'a [(String, String)],
        stage_variables: &'a std::collections::BTreeMap<String, String>,
        stage: &'a str,
        api_id: &'a str,
        resource: &'a str,
    },
    MappedHttp {
        mapped: &'a crate::rest_api::compile::MappedHttp,
        route: super::http_mapped::HttpRoute<'a>,
    },
    Mock {
        status: u16,
        headers: &'a [(String, String)],
        body: &'a Bytes,
        template: Option<&'a crate::rest_api::template::Named>,
        path_parameters: &'a [(String, String)],
        stage_variables: &'a std::collections::BTreeMap<String, String>,
        stage: &'a str,
        api_id: &'a str,
        resource: &'a str,
    },
    Http {
        uri: &'a str,
        method: Option<&'a http::Method>,
        path_parameters: &'a [(String, String)],
        timeout: Duration,
    },
    Lambda {
        target: &'a LambdaTarget,
        timeout: Option<Duration>,
        v2: bool,
        facts: RouteFacts<'a>,
    },
}

fn plan<'a>(
    ctx: &'a RequestCtx,
    no_vars: &'a std::collections::BTreeMap<String, String>,
) -> Result<Plan<'a>, Reject> {
    match ctx.selected.as_ref() {
        Some(Selected::Api { api, stage }) => {
            let matched = ctx.route.as_ref().ok_or(Reject::NotFound)?;
            let route = &stage.routes[matched.index as usize];
            let target = route
                .target
                .as_deref()
                .ok_or_else(|| Reject::IntegrationFailed("the route has no integration".into()))?;
            Ok(match target {
                Target::Mapped(mapped) => Plan::Mapped {
                    mapped,
                    path_parameters: &matched.path_parameters,
                    stage_variables: &stage.stage_variables,
                    stage: &stage.stage_name,
                    api_id: &stage.api_id,
                    resource: route.resource(),
                },
                Target::MappedHttp(mapped) => Plan::MappedHttp {
                    mapped,
                    route: super::http_mapped::HttpRoute {
                        path_parameters: &matched.path_parameters,
                        stage_variables: &stage.stage_variables,
                        stage: &stage.stage_name,
                        api_id: &stage.api_id,
                        resource: route.resource(),
                    },
                },
                Target::Mock {
                    status,
                    headers,
                    body,
                    template,
                } => Plan::Mock {
                    status: *status,
                    headers,
                    body,
                    template: template.as_deref(),
                    path_parameters: &matched.path_parameters,
                    stage_variables: &stage.stage_variables,
                    stage: &stage.stage_name,
                    api_id: &stage.api_id,
                    resource: route.resource(),
                },
                Target::Http {
                    uri,
                    method,
                    timeout,
                } => Plan::Http {
                    uri,
                    method: method.as_ref(),
                    path_parameters: &matched.path_parameters,
                    timeout: *timeout,
                },
                Target::Lambda {
                    target,
                    v2,
                    timeout,
                } => Plan::Lambda {
                    target,
                    timeout: Some(*timeout),
                    v2: *v2,
                    facts: RouteFacts {
                        api_id: &stage.api_id,
                        account_id: &api.scope.account_id,
                        stage: &stage.stage_name,
                        route_key: &route.route_key,
                        route_id: &route.route_id,
                        resource: route.resource(),
                        path: ctx.route_path(),
                        path_parameters: &matched.path_parameters,
                        stage_variables: &stage.stage_variables,
                    },
                },
            })
        }
        // A Function URL waits as long as the function may run.
        Some(Selected::Url(url)) => Ok(Plan::Lambda {
            target: &url.target,
            timeout: None,
            v2: true,
            facts: RouteFacts {
                api_id: &url.record.url_id,
                account_id: &url.record.scope.account_id,
                stage: "$default",
                route_key: "$default",
                route_id: "$default",
                resource: "$default",
                path: &ctx.path,
                path_parameters: &[],
                stage_variables: no_vars,
            },
        }),
        None => Err(Reject::NotFound),
    }
}

/// `$context` for a mapping template: the request's facts and what the authorizer said.
pub(super) fn template_context(
    ctx: &RequestCtx,
    stage: &str,
    api_id: &str,
    resource: &str,
) -> serde_json::Value {
    let mut context = serde_json::json!({
        "requestId": ctx.ingress.request_id,
        "extendedRequestId": ctx.ingress.request_id,
        "stage": stage,
        "apiId": api_id,
        "httpMethod": ctx.method.as_str(),
        "resourcePath": resource,
        "path": ctx.path,
        "domainName": ctx.ingress.domain_name,
        "protocol": "HTTP/1.1",
        "requestTimeEpoch": (ctx.ingress.received.unix_timestamp_nanos() / 1_000_000) as i64,
        "identity": {
            "sourceIp": ctx.ingress.source_ip,
            "userAgent": ctx.user_agent.as_ref().and_then(|v| v.to_str().ok()),
        },
    });
    if let Some(Selected::Api { api, .. }) = &ctx.selected {
        context["accountId"] = serde_json::json!(api.scope.account_id);
    }
    match &ctx.principal {
        Some(Principal::Custom(decision)) => {
            let mut authorizer = decision.context.clone();
            authorizer.insert("principalId".into(), decision.principal_id.clone());
            context["authorizer"] = serde_json::Value::Object(authorizer);
        }
        Some(Principal::Jwt(verified)) => {
            context["authorizer"] = serde_json::json!({ "claims": verified.claims });
        }
        Some(Principal::Iam(caller)) => {
            let identity = &mut context["identity"];
            identity["accessKey"] = serde_json::json!(caller.access_key);
            identity["accountId"] = serde_json::json!(caller.account_id);
            identity["caller"] = serde_json::json!(caller.user_id);
            identity["user"] = serde_json::json!(caller.user_id);
            identity["userArn"] = serde_json::json!(caller.user_arn);
        }
        None => {}
    }
    context
}

/// What an `AWS_IAM` route or Function URL tells the function about its caller: 2.0's
/// `requestContext.authorizer.iam`, 1.0's `requestContext.identity`.
fn add_iam_caller(event: &mut serde_json::Value, caller: &IamCaller, v2: bool) {
    let context = &mut event["requestContext"];
    if v2 {
        context["authorizer"] = serde_json::json!({
            "iam": {
                "accessKey": caller.access_key,
                "accountId": caller.account_id,
                "callerId": caller.user_id,
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": caller.user_arn,
                "userId": caller.user_id,
            }
        });
    } else {
        let identity = &mut context["identity"];
        identity["accessKey"] = serde_json::json!(caller.access_key);
        identity["accountId"] = serde_json::json!(caller.account_id);
        identity["caller"] = serde_json::json!(caller.user_id);
        identity["user"] = serde_json::json!(caller.user_id);
        identity["userArn"] = serde_json::json!(caller.user_arn);
    }
}

/// The `SourceArn` API Gateway invokes a function with: `arn:aws:execute-api:{region}:{account}:
/// {apiId}/{stage}/{METHOD}/{route path}`, or `…/{stage}/$default` for the default route.
fn source_arn(scope_region: &str, facts: &RouteFacts<'_>, method: &http::Method) -> String {
    let head = format!(
        "arn:aws:execute-api:{scope_region}:{}:{}/{}",
        facts.account_id, facts.api_id, facts.stage
    );
    if facts.route_key == "$default" {
        format!("{head}/$default")
    } else {
        format!("{head}/{method}/{}", facts.resource.trim_start_matches('/'))
    }
}

impl Gateway {
    /// Whether API Gateway (`apigateway.amazonaws.com`, acting for the route) may invoke the
    /// integration's function. A function of another account must allow it in its resource
    /// policy, as on AWS. In the API's own account an explicit `Deny` refuses it and a missing
    /// `Allow` does not: AWS's console and quick create add that permission themselves, and
    /// Nubo's integrations worked before resource policies existed.
    fn may_invoke(
        &self,
        target: &LambdaTarget,
        api_scope: &nubo_wire::Scope,
        facts: &RouteFacts<'_>,
        method: &http::Method,
    ) -> Result<(), Reject> {
        let registry = self.invoker.registry();
        let same_account = target.function.scope.account_id == api_scope.account_id;
        if same_account && registry.policy(&target.function).is_none() {
            return Ok(());
        }
        self.may_invoke_as(
            target,
            api_scope,
            &source_arn(&api_scope.region, facts, method),
        )
    }

    /// [`Self::may_invoke`] for a given `SourceArn` (a REST method's, an authorizer's).
    pub(super) fn may_invoke_as(
        &self,
        target: &LambdaTarget,
        api_scope: &nubo_wire::Scope,
        arn: &str,
    ) -> Result<(), Reject> {
        let registry = self.invoker.registry();
        let api_account = api_scope.account_id.as_str();
        let same_account = target.function.scope.account_id == api_account;
        if same_account && registry.policy(&target.function).is_none() {
            return Ok(());
        }
        match registry.service_may_invoke(
            &target.function,
            "apigateway.amazonaws.com",
            arn,
            api_account,
        ) {
            Ok(()) => Ok(()),
            Err(denied)
                if same_account
                    && !matches!(
                        denied.decision,
                        nubo_identity::policy::Decision::ExplicitDeny(_)
                    ) =>
            {
                Ok(())
            }
            Err(denied) => {
                tracing::debug!(reason = %denied.message(), "a function's policy refused API Gateway");
                Err(Reject::IntegrationFailed(denied.message()))
            }
        }
    }

    /// Runs a function with an optional deadline. The invocation runs as its own task so a
    /// timed-out request does not cancel the function mid-flight (Lambda lets it finish too).
    pub(super) async fn invoke(
        &self,
        target: &LambdaTarget,
        payload: Bytes,
        timeout: Option<Duration>,
        ingress: &super::ctx::Ingress,
    ) -> Result<InvokeResult, Reject> {
        let request = invoke_request(target, payload, &ingress.request_id, ingress.trace);
        let invoker = self.invoker.clone();
        let task = tokio::spawn(async move { invoker.invoke(request).await });
        let joined = match timeout {
            Some(limit) => match tokio::time::timeout(limit, task).await {
                Ok(joined) => joined,
                Err(_) => return Err(Reject::IntegrationTimeout),
            },
            None => task.await,
        };
        match joined {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(InvokeError::Throttled { .. })) => Err(Reject::FunctionThrottled),
            Ok(Err(e)) => Err(Reject::IntegrationFailed(e.to_string())),
            Err(e) => Err(Reject::IntegrationFailed(e.to_string())),
        }
    }

    /// `integrate`: the matched route's integration (a Function URL's function), timed for the
    /// access log.
    pub(crate) async fn integrate(
        &self,
        ctx: &mut RequestCtx,
        request: http::Request<GatewayBody>,
    ) -> Result<Integrated, Reject> {
        let started = Instant::now();
        let outcome = self.run_integration(ctx, request).await;
        ctx.integration.latency = Some(started.elapsed());
        match &outcome {
            Ok(Integrated::Lambda { .. }) => ctx.integration.status = Some(200),
            Ok(Integrated::Http(response)) => {
                ctx.integration.status = Some(response.status().as_u16())
            }
            Err(reject) => ctx.integration.error = reject.log_message(),
        }
        outcome
    }

    async fn run_integration(
        &self,
        ctx: &RequestCtx,
        request: http::Request<GatewayBody>,
    ) -> Result<Integrated, Reject> {
        let no_vars = Default::default();
        let (target, timeout, v2, route_facts) = match plan(ctx, &no_vars)? {
            Plan::Mapped {
                mapped,
                path_parameters,
                stage_variables,
                stage,
                api_id,
                resource,
            } => {
                if let Some(Selected::Api { api, .. }) = &ctx.selected {
                    let arn = format!(
                        "arn:aws:execute-api:{}:{}:{api_id}/{stage}/{}/{}",
                        api.scope.region,
                        api.scope.account_id,
                        ctx.method,
                        resource.trim_start_matches('/')
                    );
                    self.may_invoke_as(&mapped.target, &api.scope, &arn)?;
                }
                let (parts, body) = request.into_parts();
                let body = read_limited(body).await?;
                let context = template_context(ctx, stage, api_id, resource);
                let query = parts.uri.query().unwrap_or("");
                let inputs = |body| Inputs {
                    body,
                    path_parameters,
                    query,
                    headers: Some(&parts.headers),
                    stage_variables,
                    context: &context,
                };
                let payload = match &mapped.request {
                    Some(template) => Bytes::from(
                        template
                            .render(&inputs(&body))
                            .map_err(Reject::IntegrationFailed)?,
                    ),
                    None => body.clone(),
                };
                let result = self
                    .invoke(&mapped.target, payload, Some(mapped.timeout), &ctx.ingress)
                    .await?;
                let error = result.function_error.then(|| {
                    serde_json::from_slice::<serde_json::Value>(&result.payload)
                        .ok()
                        .and_then(|v| {
                            v.get("errorMessage")
                                .and_then(|m| m.as_str())
                                .map(str::to_owned)
                        })
                        .unwrap_or_default()
                });
                let Some(chosen) = mapped.select(error.as_deref()) else {
                    return Err(Reject::IntegrationFailed(
                        "no integration response matches and none is the default".into(),
                    ));
                };
                let (content_type, out) = match &chosen.template {
                    Some((content_type, template)) => (
                        content_type.clone(),
                        Bytes::from(
                            template
                                .render(&inputs(&result.payload))
                                .map_err(Reject::IntegrationFailed)?,
                        ),
                    ),
                    None => ("application/json".to_owned(), result.payload.clone()),
                };
                let mut response = http::Response::new(full_body(out));
                *response.status_mut() =
                    StatusCode::from_u16(chosen.status).unwrap_or(StatusCode::OK);
                let mut headers = vec![("content-type".to_owned(), content_type)];
                headers.extend(chosen.headers.iter().cloned());
                return Ok(Integrated::Http(with_headers(response, &headers)));
            }
            Plan::MappedHttp { mapped, route } => {
                let response = self.mapped_http(ctx, mapped, route, request).await?;
                return Ok(Integrated::Http(response));
            }
            Plan::Mock {
                status,
                headers,
                body,
                template,
                path_parameters,
                stage_variables,
                stage,
                api_id,
                resource,
            } => {
                let body = match template {
                    None => body.clone(),
                    Some(template) => {
                        let context = template_context(ctx, stage, api_id, resource);
                        let inputs = Inputs {
                            body: b"",
                            path_parameters,
                            query: request.uri().query().unwrap_or(""),
                            headers: Some(request.headers()),
                            stage_variables,
                            context: &context,
                        };
                        Bytes::from(
                            template
                                .render(&inputs)
                                .map_err(Reject::IntegrationFailed)?,
                        )
                    }
                };
                let mut response = http::Response::new(full_body(body));
                *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                return Ok(Integrated::Http(with_headers(response, headers)));
            }
            Plan::Http {
                uri,
                method,
                path_parameters,
                timeout,
            } => {
                let response = self
                    .proxy_http(
                        uri,
                        method,
                        path_parameters,
                        request,
                        &ctx.ingress.source_ip,
                        timeout,
                    )
                    .await?;
                return Ok(Integrated::Http(response));
            }
            Plan::Lambda {
                target,
                timeout,
                v2,
                facts,
            } => (target, timeout, v2, facts),
        };
        if let Some(Selected::Api { api, .. }) = &ctx.selected {
            self.may_invoke(target, &api.scope, &route_facts, &ctx.method)?;
        }
        let (parts, body) = request.into_parts();
        let body = read_limited(body).await?;
        let facts = RequestFacts {
            method: &parts.method,
            raw_path: &ctx.path,
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
            source_ip: &ctx.ingress.source_ip,
            domain_name: &ctx.ingress.domain_name,
            request_id: &ctx.ingress.request_id,
            received: ctx.ingress.received,
        };
        let mut event = if v2 {
            event_v2(&facts, &route_facts)
        } else {
            event_v1(&facts, &route_facts)
        };
        match &ctx.principal {
            Some(Principal::Iam(caller)) => add_iam_caller(&mut event, caller, v2),
            Some(Principal::Custom(decision)) => {
                let mut authorizer = decision.context.clone();
                if !decision.principal_id.is_null() {
                    authorizer.insert("principalId".into(), decision.principal_id.clone());
                }
                let authorizer = serde_json::Value::Object(authorizer);
                event["requestContext"]["authorizer"] = if v2 {
                    serde_json::json!({ "lambda": authorizer })
                } else {
                    authorizer
                };
            }
            Some(Principal::Jwt(verified)) => {
                let jwt = serde_json::json!({
                    "claims": verified.claims,
                    "scopes": if verified.scopes.is_empty() {
                        serde_json::Value::Null
                    } else {
                        serde_json::json!(verified.scopes)
                    },
                });
                event["requestContext"]["authorizer"] = if v2 {
                    serde_json::json!({ "jwt": jwt })
                } else {
                    jwt
                };
            }
            None => {}
        }
        let payload = Bytes::from(event.to_string());
        let result = self.invoke(target, payload, timeout, &ctx.ingress).await?;
        Ok(Integrated::Lambda { result, v2 })
    }

    /// HTTP_PROXY: forwards the request (body streamed) and streams the backend's answer back.
    async fn proxy_http(
        &self,
        uri: &str,
        method: Option<&http::Method>,
        params: &[(String, String)],
        request: http::Request<GatewayBody>,
        source_ip: &str,
        timeout: Duration,
    ) -> Result<GatewayResponse, Reject> {
        let mut target = uri.to_owned();
        for (name, value) in params {
            target = target
                .replace(&format!("{{{name}+}}"), value)
                .replace(&format!("{{{name}}}"), value);
        }
        if let Some(query) = request.uri().query().filter(|q| !q.is_empty()) {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(query);
        }
        let target_uri = target
            .parse::<http::Uri>()
            .map_err(|e| Reject::IntegrationFailed(format!("invalid backend URI {target}: {e}")))?;
        if target_uri.scheme_str() != Some("http") {
            tracing::warn!(uri = %target, "HTTP_PROXY to https is not supported yet (no TLS client)");
            return Err(Reject::IntegrationFailed(
                "HTTP_PROXY to https is not supported yet".into(),
            ));
        }
        let (parts, body) = request.into_parts();
        let mut forward = http::Request::new(
            Limited::new(body, MAX_PAYLOAD_BYTES)
                .map_err(|e| -> BoxError { e })
                .boxed_unsync(),
        );
        *forward.method_mut() = method.cloned().unwrap_or(parts.method);
        *forward.uri_mut() = target_uri;
        for (name, value) in parts.headers.iter() {
            if !is_hop_by_hop(name) {
                forward.headers_mut().append(name.clone(), value.clone());
            }
        }
        if let Ok(ip) = HeaderValue::from_str(source_ip) {
            forward.headers_mut().insert("x-forwarded-for", ip);
        }
        forward
            .headers_mut()
            .insert("x-forwarded-proto", HeaderValue::from_static("http"));
        match tokio::time::timeout(timeout, self.http.request(forward)).await {
            Err(_) => Err(Reject::GatewayTimeout),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "HTTP_PROXY integration failed");
                Err(Reject::IntegrationFailed(e.to_string()))
            }
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                let hop: Vec<HeaderName> = parts
                    .headers
                    .keys()
                    .filter(|n| is_hop_by_hop(n))
                    .cloned()
                    .collect();
                for name in hop {
                    parts.headers.remove(name);
                }
                Ok(http::Response::from_parts(
                    parts,
                    body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync(),
                ))
            }
        }
    }
}

fn mapped(response: MappedResponse) -> GatewayResponse {
    let mut out = http::Response::new(full_body(response.body));
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    with_headers(out, &response.headers)
}

/// `map_response`: a function's output becomes the HTTP response (2.0 explicit or inferred, 1.0
/// needs `statusCode`); an HTTP backend's answer passes through.
pub fn map_response(
    ctx: &mut RequestCtx,
    integrated: Integrated,
) -> Result<GatewayResponse, Reject> {
    match integrated {
        Integrated::Http(response) => Ok(response),
        Integrated::Lambda { result, .. } if result.function_error => {
            ctx.integration.error = Reject::FunctionError.log_message();
            Err(Reject::FunctionError)
        }
        Integrated::Lambda { result, v2 } => {
            let output = if v2 {
                map_v2(&result.payload)
            } else {
                map_v1(&result.payload)
            };
            output.map(mapped).map_err(|e| {
                ctx.integration.error = Some(e.0.clone());
                Reject::MalformedResponse(e.0)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_gateway_names_the_route_it_invokes_for() {
        let vars = Default::default();
        let facts = |route_key: &'static str, resource: &'static str| RouteFacts {
            api_id: "abc123",
            account_id: "000000000000",
            stage: "prod",
            route_key,
            route_id: "r1",
            resource,
            path: "/items/42",
            path_parameters: &[],
            stage_variables: &vars,
        };
        assert_eq!(
            source_arn(
                "us-east-1",
                &facts("GET /items/{id}", "/items/{id}"),
                &http::Method::GET
            ),
            "arn:aws:execute-api:us-east-1:000000000000:abc123/prod/GET/items/{id}"
        );
        assert_eq!(
            source_arn(
                "us-east-1",
                &facts("$default", "$default"),
                &http::Method::POST
            ),
            "arn:aws:execute-api:us-east-1:000000000000:abc123/prod/$default"
        );
    }
}
