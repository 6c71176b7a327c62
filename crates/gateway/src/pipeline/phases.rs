//! The phases before and after the integration, each a function of the request context that
//! returns `Result<_, Reject>`: `select_stage`, `preflight`, `match_route`, `throttle`, `quota`, and on the way out `cors` and `log`. They read only compiled snapshots.

use std::sync::Arc;

use http::HeaderName;

use super::ctx::{Principal, RequestCtx, RouteMatch, Selected};
use super::reject::{with_headers, Reject};
use crate::access_log::{log_group, render, AccessContext, AccessLogSink};
use crate::function_url::CompiledUrl;
use crate::pipeline::events::clf_time;
use crate::plane::cors::CorsPolicy;
use crate::plane::routing::{path_parameters, RouteKey};
use crate::plane::throttle::TokenBucket;
use crate::plane::{CompiledApi, DataPlane};
use crate::rest_api::keys::{Refusal, Reservation, UsageRegistry};
use crate::GatewayResponse;
use crate::HostTarget;

/// `select_stage` for an HTTP API: the first path segment if it names a stage, else `$default`,
/// else 404. A host naming a region finds only an API of that region.
pub fn select_stage(
    ctx: &mut RequestCtx,
    plane: &DataPlane,
    api_id: &str,
    host_region: Option<&str>,
) -> Result<(), Reject> {
    let api: &Arc<CompiledApi> = plane.get(api_id).ok_or(Reject::NotFound)?;
    if host_region.is_some_and(|region| region != api.scope.region) {
        return Err(Reject::NotFound);
    }
    let trimmed = ctx.path.trim_start_matches('/');
    let first = trimmed.split('/').next().unwrap_or("");
    let (stage, start) = match api.stages.get(first).filter(|_| first != "$default") {
        Some(stage) => (stage, ctx.path.len() - trimmed.len() + first.len()),
        None => (api.stages.get("$default").ok_or(Reject::NotFound)?, 0),
    };
    ctx.route_path_start = start;
    ctx.selected = Some(Selected::Api {
        api: api.clone(),
        stage: stage.clone(),
    });
    Ok(())
}

/// `select_stage` for a Function URL: the config behind the URL id (its stage is `$default`).
pub fn select_url(
    ctx: &mut RequestCtx,
    url: Option<Arc<CompiledUrl>>,
    host_region: Option<&str>,
) -> Result<(), Reject> {
    let url = url.ok_or(Reject::NotFound)?;
    if host_region.is_some_and(|region| region != url.record.scope.region) {
        return Err(Reject::NotFound);
    }
    ctx.selected = Some(Selected::Url(url));
    Ok(())
}

/// The CORS policy of what `select_stage` chose.
pub fn cors_policy(ctx: &RequestCtx) -> Option<&CorsPolicy> {
    match ctx.selected.as_ref()? {
        Selected::Api { stage, .. } => stage.cors.as_ref(),
        Selected::Url(url) => url.cors.as_ref(),
    }
}

/// `preflight`: a CORS preflight is answered from the configuration, before any route.
pub fn preflight(ctx: &RequestCtx, headers: &http::HeaderMap) -> Result<(), Reject> {
    match cors_policy(ctx) {
        Some(cors) if CorsPolicy::is_preflight(&ctx.method, headers) => {
            Err(Reject::Preflight(cors.preflight_headers(headers)))
        }
        _ => Ok(()),
    }
}

/// `match_route`: the stage's route table (a Function URL has only its `$default` route).
pub fn match_route(ctx: &mut RequestCtx) -> Result<(), Reject> {
    let Some(stage) = ctx.stage() else {
        return Ok(());
    };
    let route_path = ctx.route_path();
    let index = stage
        .table
        .lookup(&ctx.method, route_path)
        .ok_or(Reject::NotFound)?;
    let route = &stage.routes[index as usize];
    let path_parameters = match &route.key {
        RouteKey::Path { segments, .. } => path_parameters(segments, route_path),
        RouteKey::Default => Vec::new(),
    };
    ctx.route = Some(RouteMatch {
        index,
        path_parameters,
    });
    Ok(())
}

// `authorize` reads signatures and policies: it lives in `iam.rs` (`Gateway::authorize`).

/// `throttle`: the route's bucket (`routeSettings[routeKey]`) or the stage's
/// (`defaultRouteSettings`), then the account's.
pub fn throttle(ctx: &RequestCtx, account: &TokenBucket) -> Result<(), Reject> {
    if let (Some(stage), Some(route)) = (ctx.stage(), &ctx.route) {
        let route = &stage.routes[route.index as usize];
        let bucket = route.bucket.as_ref().or(stage.default_bucket.as_ref());
        if !bucket.is_none_or(|b| b.try_take()) {
            return Err(Reject::Throttled);
        }
        if !account.try_take() {
            return Err(Reject::Throttled);
        }
    }
    Ok(())
}

/// `quota`: a REST API method with `apiKeyRequired` admits a request whose `x-api-key` names an
/// enabled key of a usage plan of this stage, within the plan's quota (403 `Forbidden`, 429
/// `Limit Exceeded`); the key is kept for the integration. Other routes pass.
/// A count past its durable reservation comes back: the caller awaits
/// [`UsageRegistry::reserve`] before the request goes on.
pub fn quota(
    ctx: &mut RequestCtx,
    usage: &UsageRegistry,
    headers: &http::HeaderMap,
) -> Result<Option<Reservation>, Reject> {
    ctx.usage_plan_key = None;
    let (Some(stage), Some(route)) = (ctx.stage(), &ctx.route) else {
        return Ok(None);
    };
    if !stage.routes[route.index as usize].api_key_required {
        return Ok(None);
    }
    let value = if stage.api_key_from_authorizer {
        match &ctx.principal {
            Some(Principal::Custom(decision)) => decision.usage_key.as_deref(),
            _ => None,
        }
    } else {
        headers.get("x-api-key").and_then(|v| v.to_str().ok())
    };
    match usage.admit(&stage.api_id, &stage.stage_name, value) {
        Ok((key, reservation)) => {
            ctx.usage_plan_key = Some(key);
            Ok(reservation)
        }
        Err(Refusal::Forbidden) => Err(Reject::Forbidden),
        Err(Refusal::LimitExceeded) => Err(Reject::LimitExceeded),
        Err(Refusal::Throttled) => Err(Reject::Throttled),
    }
}

/// `cors` on the way out: the integration's own CORS headers are replaced by the policy's.
pub fn cors(ctx: &RequestCtx, mut response: GatewayResponse) -> GatewayResponse {
    let Some(policy) = cors_policy(ctx) else {
        return response;
    };
    let names: Vec<HeaderName> = response
        .headers()
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in names {
        response.headers_mut().remove(name);
    }
    let mut origin = http::HeaderMap::new();
    if let Some(value) = &ctx.origin {
        origin.insert(http::header::ORIGIN, value.clone());
    }
    let mut extra = Vec::new();
    policy.apply(&origin, &mut extra);
    with_headers(response, &extra)
}

/// After `log`: the request in the per-API metrics (API, stage, route key, status, latency).
pub fn count(
    ctx: &RequestCtx,
    api_id: &str,
    response: &GatewayResponse,
    metrics: &nubo_observe::ApiMetrics,
) {
    let stage = ctx.stage();
    let route = match (&ctx.route, stage) {
        (Some(route), Some(stage)) => stage.routes[route.index as usize].route_key.as_str(),
        _ => "-",
    };
    let (region, api_name) = match &ctx.selected {
        Some(Selected::Api { api, .. }) => (api.scope.region.as_str(), api.name.as_str()),
        _ => ("-", "-"),
    };
    metrics.answered(nubo_observe::Answered {
        region,
        api: api_id,
        api_name,
        stage: stage.map_or("-", |s| s.stage_name.as_str()),
        route,
        status: response.status().as_u16(),
        latency_seconds: ctx.started.elapsed().as_secs_f64(),
        integration_seconds: ctx.integration.latency.map(|d| d.as_secs_f64()),
    });
}

/// Metering: the request counts for its API, stage and the API key a usage plan counted.
pub fn meter(
    ctx: &RequestCtx,
    api_id: &str,
    response: &GatewayResponse,
    usage: &nubo_observe::UsageMeter,
) {
    let Some(Selected::Api { api, stage }) = &ctx.selected else {
        return;
    };
    usage.record_api(nubo_observe::api_usage::ApiMetered {
        account: &api.scope.account_id,
        region: &api.scope.region,
        api_id,
        stage: &stage.stage_name,
        api_key: ctx.usage_plan_key.as_deref(),
        status: response.status().as_u16(),
    });
}

/// Tracing: the gateway's span starts under the edge's, and the integration runs under it.
pub fn trace_start(
    ctx: &mut RequestCtx,
    tracer: &nubo_observe::Tracer,
) -> Option<nubo_observe::Span> {
    if !tracer.enabled() {
        return None;
    }
    let span = nubo_observe::Span::start(
        "gateway",
        nubo_observe::SpanKind::Internal,
        ctx.ingress.trace,
    );
    ctx.ingress.trace = Some(span.context());
    Some(span)
}

/// Tracing: the gateway's span ends with what the phases learned (the route key names it).
pub fn trace_end(
    ctx: &RequestCtx,
    mut span: nubo_observe::Span,
    target: HostTarget<'_>,
    response: &GatewayResponse,
    tracer: &nubo_observe::Tracer,
) {
    let stage = ctx.stage();
    let route = match (&ctx.route, stage) {
        (Some(route), Some(stage)) => Some(stage.routes[route.index as usize].route_key.as_str()),
        _ => None,
    };
    let (kind, id) = match target {
        HostTarget::Api { id, .. } => ("api", id),
        HostTarget::Url { id, .. } => ("function-url", id),
    };
    span.name = match route {
        Some(route) => format!("{kind} {route}"),
        None => format!("{kind} {}", ctx.method),
    };
    span.set("nubo.gateway.kind", kind);
    span.set("nubo.gateway.id", id.to_owned());
    if let Some(stage) = stage {
        span.set("nubo.gateway.stage", stage.stage_name.clone());
    }
    if let Some(route) = route {
        span.set("http.route", route.to_owned());
    }
    span.set("http.request.method", ctx.method.to_string());
    span.set("url.path", ctx.path.clone());
    span.set("aws.request_id", ctx.ingress.request_id.clone());
    let status = response.status().as_u16();
    span.set("http.response.status_code", status as i64);
    if status >= 500 {
        span.error = Some(format!("answered {status}"));
    }
    span.end_now();
    tracer.record(span);
}

/// `log`: the stage's access-log line, if it has a format, with what the phases learned.
pub fn log(ctx: &RequestCtx, api_id: &str, response: &GatewayResponse, sink: &AccessLogSink) {
    let Some(stage) = ctx.stage() else { return };
    let Some(settings) = &stage.access_log else {
        return;
    };
    let received = ctx.ingress.received;
    let route_key = match &ctx.route {
        Some(route) => stage.routes[route.index as usize].route_key.clone(),
        None => "-".into(),
    };
    let access = AccessContext {
        request_id: ctx.ingress.request_id.clone(),
        api_id: api_id.to_owned(),
        stage: stage.stage_name.clone(),
        route_key,
        http_method: ctx.method.to_string(),
        path: ctx.path.clone(),
        status: response.status().as_u16(),
        response_length: hyper::body::Body::size_hint(response.body()).exact(),
        request_time: clf_time(received),
        request_time_epoch: (received.unix_timestamp_nanos() / 1_000_000) as i64,
        source_ip: ctx.ingress.source_ip.clone(),
        user_agent: ctx
            .user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        domain_name: ctx.ingress.domain_name.clone(),
        integration_latency_ms: ctx.integration.latency.map(|l| l.as_millis()),
        response_latency_ms: ctx.started.elapsed().as_millis(),
        integration_status: ctx.integration.status,
        error_message: ctx.integration.error.clone(),
    };
    let group = settings
        .destination_arn
        .as_deref()
        .map(log_group)
        .unwrap_or_else(|| format!("apigateway/{api_id}"));
    let line = render(settings.format.as_deref().unwrap_or(""), &access);
    sink.write(group, format!("{api_id}/{}", stage.stage_name), line);
}
