//! WebSocket APIs: the data plane of apigatewayv2 APIs with `protocolType: WEBSOCKET`.
//!
//! ```text
//!  GET /{stage} Upgrade ─► stage ─► $connect auth (AWS_IAM) ─► $connect integration ─► 101
//!        (2xx, or no integration: accept; else the handshake is refused with its status)
//!  session: frame ─► limits (32 KB frames, 128 KB messages → 1009) ─► route selection
//!        ─► integration (MESSAGE event) ─► two-way routes: the answer goes back as a frame
//!  close / idle (10 min) / lifetime (2 h) / slow client ─► $disconnect (best effort)
//!  @connections (the edge's `execute-api` service) ─► ConnectionRouter ─► the session's queue
//! ```
//!
//! One module per concern: [`select`] (route selection expressions), [`plane`] (a deployed
//! stage's routes), [`events`] (CONNECT/MESSAGE/DISCONNECT), [`connections`] (who holds which
//! connection: the local sessions, the router seam, the metadata store), [`session`] (one
//! connection's loop: frames in, queued frames out, limits, close codes).

pub mod connections;
pub mod events;
pub mod plane;
pub mod select;
mod session;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use nubo_lambda::{InvokeRequest, Invoker};
use nubo_wire::Scope;
use serde_json::Value;

use connections::{
    ConnectionRecord, ConnectionRouter, ConnectionStore, LocalConnections, LocalRouter,
};
use events::{SocketEvent, SocketFacts};
use plane::{SocketRoute, SocketStage};

use crate::pipeline::reject::full_body;
use crate::plane::{CompiledApi, LambdaTarget, Target};
use crate::{Gateway, GatewayResponse, Ingress};

/// AWS's limits for WebSocket APIs, configurable (`nubo serve --ws-*`) so tests need not wait.
#[derive(Debug, Clone)]
pub struct SocketLimits {
    /// Largest frame a client may send (32 KB).
    pub max_frame: usize,
    /// Largest message (frames of one message together, 128 KB).
    pub max_message: usize,
    /// A connection with no message either way for this long is closed (10 minutes).
    pub idle: Duration,
    /// A connection is closed after this long (2 hours).
    pub lifetime: Duration,
    /// Frames queued for a client before it counts as too slow and is disconnected.
    pub send_queue: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            max_frame: 32 * 1024,
            max_message: 128 * 1024,
            idle: Duration::from_secs(600),
            lifetime: Duration::from_secs(7200),
            send_queue: 256,
        }
    }
}

/// Largest `@connections` payload (AWS: 128 KB).
pub const MAX_POST_BYTES: usize = 128 * 1024;

/// The node's WebSocket side: its sessions, the router `@connections` uses, the store.
pub struct Sockets {
    local: Arc<LocalConnections>,
    router: Arc<dyn ConnectionRouter>,
    store: Arc<dyn ConnectionStore>,
    invoker: Arc<Invoker>,
    limits: SocketLimits,
    node: String,
}

impl Sockets {
    /// The embedded default: this node holds every connection; stale records (of the sessions
    /// the previous run held) are removed.
    pub(crate) async fn start(
        store: Arc<dyn ConnectionStore>,
        invoker: Arc<Invoker>,
        limits: SocketLimits,
    ) -> Arc<Self> {
        let node = "local".to_owned();
        match store.forget_node(&node).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                connections = n,
                "forgot WebSocket connections the last run held"
            ),
            Err(e) => tracing::warn!(error = %e, "could not forget stale WebSocket connections"),
        }
        let local = Arc::new(LocalConnections::default());
        Arc::new(Self {
            router: Arc::new(LocalRouter {
                local: local.clone(),
            }),
            local,
            store,
            invoker,
            limits,
            node,
        })
    }

    /// How `@connections` reaches connections.
    pub fn router(&self) -> &Arc<dyn ConnectionRouter> {
        &self.router
    }

    /// A connection this node holds (authorization names its API and stage before
    /// `@connections` acts; a cluster reads the record of a connection held elsewhere from the
    /// store).
    pub fn held(&self, id: &str) -> Option<ConnectionRecord> {
        self.local.get(id).map(|live| live.record.clone())
    }

    /// Open connections on this node.
    pub fn open(&self) -> usize {
        self.local.len()
    }

    /// Closes every session with 1001 (shutdown).
    pub fn close_all(&self) {
        for live in self.local.all() {
            self.local
                .retire(&live.record.connection_id, 1001, "Going away");
        }
    }
}

/// What an integration answered.
pub(crate) enum Answer {
    /// The function ran; its output.
    Output(Bytes),
    /// It failed, or could not be invoked.
    Failed,
}

impl Sockets {
    /// Runs a route's Lambda integration with `event`.
    pub(crate) async fn integrate(
        &self,
        route: &SocketRoute,
        api: &Scope,
        event: Value,
        request_id: &str,
    ) -> Option<Answer> {
        let Target::Lambda {
            target, timeout, ..
        } = route.target.as_deref()?
        else {
            return Some(Answer::Failed);
        };
        if !self.may_invoke(target, api, &route.route_key, request_id) {
            return Some(Answer::Failed);
        }
        let request = InvokeRequest {
            function: target.function.clone(),
            payload: Bytes::from(event.to_string()),
            client_context: None,
            tail_log: false,
            request_id: Some(request_id.to_owned()),
            lineage: 0,
            trace: None,
        };
        let invoker = self.invoker.clone();
        let task = tokio::spawn(async move { invoker.invoke(request).await });
        Some(match tokio::time::timeout(*timeout, task).await {
            Ok(Ok(Ok(result))) if !result.function_error => Answer::Output(result.payload),
            Ok(Ok(Ok(result))) => {
                tracing::debug!(route = %route.route_key, error = %String::from_utf8_lossy(&result.payload), "a WebSocket integration failed");
                Answer::Failed
            }
            Ok(Ok(Err(e))) => {
                tracing::warn!(route = %route.route_key, error = %e, "a WebSocket integration could not run");
                Answer::Failed
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(route = %route.route_key, "a WebSocket integration timed out");
                Answer::Failed
            }
        })
    }

    /// Whether the function's policy lets API Gateway invoke it (as for HTTP APIs: without a
    /// policy, a function of the API's own account may be invoked).
    fn may_invoke(
        &self,
        target: &LambdaTarget,
        api: &Scope,
        route_key: &str,
        _request_id: &str,
    ) -> bool {
        let registry = self.invoker.registry();
        let same_account = target.function.scope.account_id == api.account_id;
        if same_account && registry.policy(&target.function).is_none() {
            return true;
        }
        let _ = route_key;
        let arn = format!("arn:aws:execute-api:{}:{}:*", api.region, api.account_id);
        match registry.service_may_invoke(
            &target.function,
            "apigateway.amazonaws.com",
            &arn,
            &api.account_id,
        ) {
            Ok(()) => true,
            Err(denied) => {
                same_account
                    && !matches!(
                        denied.decision,
                        nubo_identity::policy::Decision::ExplicitDeny(_)
                    )
            }
        }
    }
}

const FORBIDDEN: (StatusCode, &str) = (StatusCode::FORBIDDEN, "Forbidden");

/// A JSON error answer (`{"message": …}`).
fn refuse(status: StatusCode, message: &str) -> GatewayResponse {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = http::Response::new(full_body(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn header<'a>(request: &'a http::Request<impl Sized>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether a request asks to become a WebSocket.
pub fn is_upgrade<B>(request: &http::Request<B>) -> bool {
    header(request, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
}

impl Gateway {
    /// The WebSocket side.
    pub fn sockets(&self) -> &Arc<Sockets> {
        &self.sockets
    }

    /// A request to a WebSocket API: the handshake, `$connect`, then the session on its own task.
    pub(crate) async fn upgrade_socket<B: Send + 'static>(
        &self,
        api: &CompiledApi,
        path: &str,
        mut request: http::Request<B>,
        ingress: Ingress,
    ) -> GatewayResponse {
        let stage_name = match path.trim_start_matches('/').trim_end_matches('/') {
            "" => "$default",
            name => name,
        };
        let Some(stage) = api.sockets.get(stage_name).cloned() else {
            return refuse(StatusCode::FORBIDDEN, "Forbidden");
        };
        let key = header(&request, "sec-websocket-key").map(str::to_owned);
        let version_ok = header(&request, "sec-websocket-version") == Some("13");
        let (Some(key), true, true) = (key, is_upgrade(&request), version_ok) else {
            let mut response = refuse(StatusCode::UPGRADE_REQUIRED, "Upgrade Required");
            response
                .headers_mut()
                .insert("sec-websocket-version", HeaderValue::from_static("13"));
            return response;
        };
        let connected_at = connections::now_ms();
        let user_agent = header(&request, "user-agent").map(str::to_owned);
        let record = ConnectionRecord {
            connection_id: events::short_id(),
            api_id: stage.api_id.clone(),
            stage: stage.stage_name.clone(),
            scope: stage.scope.clone(),
            connected_at,
            source_ip: ingress.source_ip.clone(),
            user_agent: user_agent.clone(),
            node: self.sockets.node.clone(),
        };
        let mut facts = SocketFacts {
            record,
            domain_name: ingress.domain_name.clone(),
            user_agent,
            authorizer: None,
        };
        let connect = stage.route("$connect").cloned();
        if let Some(route) = &connect {
            if let Err((status, message)) =
                self.authorize_connect(&stage, route, &request, &ingress, &mut facts)
            {
                return refuse(status, message);
            }
            let event = events::event(
                &facts,
                &SocketEvent::Connect {
                    headers: request.headers(),
                    query: request.uri().query().unwrap_or(""),
                },
                &ingress.request_id,
            );
            match self
                .sockets
                .integrate(route, &stage.scope, event, &ingress.request_id)
                .await
            {
                None => {}
                Some(Answer::Failed) => {
                    return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
                }
                Some(Answer::Output(output)) => {
                    if let Some(status) = refused_status(&output) {
                        return refuse(status, "Forbidden");
                    }
                }
            }
        }
        let on_upgrade = hyper::upgrade::on(&mut request);
        let sockets = self.sockets.clone();
        tokio::spawn(session::run(sockets, stage, facts, on_upgrade));
        let mut response = http::Response::new(full_body(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        if let Ok(accept) = HeaderValue::from_str(
            &tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
        ) {
            headers.insert("sec-websocket-accept", accept);
        }
        response
    }

    /// `$connect`'s admission: with `apiKeyRequired`, an enabled `x-api-key` of a usage plan of
    /// this stage (within its quota); with `AWS_IAM`, the upgrade request is SigV4-signed for
    /// `execute-api` and the caller may `execute-api:Invoke` `{apiId}/{stage}/$connect`.
    fn authorize_connect<B>(
        &self,
        stage: &SocketStage,
        route: &SocketRoute,
        request: &http::Request<B>,
        ingress: &Ingress,
        facts: &mut SocketFacts,
    ) -> Result<(), (StatusCode, &'static str)> {
        if route.api_key_required {
            let key = header(request, "x-api-key");
            match self.usage.admit(&stage.api_id, &stage.stage_name, key) {
                Ok(_) => {}
                Err(crate::rest_api::keys::Refusal::LimitExceeded) => {
                    return Err((StatusCode::TOO_MANY_REQUESTS, "Limit Exceeded"))
                }
                Err(_) => return Err(FORBIDDEN),
            }
        }
        if !route.aws_iam {
            return Ok(());
        }
        let (parts, ()) = clone_parts(request);
        let caller = self.socket_caller(&parts).map_err(|_| FORBIDDEN)?;
        let arn = format!(
            "arn:aws:execute-api:{}:{}:{}/{}/$connect",
            stage.scope.region, stage.scope.account_id, stage.api_id, stage.stage_name
        );
        let keys = nubo_identity::policy::ConditionKeys::default()
            .with("aws:SourceIp", ingress.source_ip.clone())
            .with("aws:SecureTransport", "false");
        caller
            .authorize(
                "execute-api:Invoke",
                &arn,
                None,
                Some(&stage.scope.account_id),
                &keys,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|_| FORBIDDEN)?;
        let principal = &caller.principal;
        facts.authorizer = Some(serde_json::json!({
            "principalId": principal.arn,
            "userArn": principal.arn,
            "accountId": principal.account,
            "userId": principal.id,
        }));
        Ok(())
    }
}

/// The parts of a request (without its body) for signature verification.
fn clone_parts<B>(request: &http::Request<B>) -> (http::request::Parts, ()) {
    let mut builder = http::Request::builder()
        .method(request.method().clone())
        .uri(request.uri().clone())
        .version(request.version());
    if let Some(headers) = builder.headers_mut() {
        *headers = request.headers().clone();
    }
    let (parts, _) = builder.body(()).unwrap_or_default().into_parts();
    (parts, ())
}

/// A `$connect` answer that refuses the connection: a `statusCode` outside 2xx (4xx and 5xx
/// are the client's status; anything else is 403). An answer without one accepts.
fn refused_status(output: &[u8]) -> Option<StatusCode> {
    let value: Value = serde_json::from_slice(output).ok()?;
    let code = value.get("statusCode")?;
    let code = code
        .as_u64()
        .or_else(|| code.as_str().and_then(|s| s.parse().ok()))?;
    if (200..300).contains(&code) {
        return None;
    }
    Some(
        StatusCode::from_u16(code as u16)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::FORBIDDEN),
    )
}

/// What a two-way route sends back: the `body` of a proxy answer, else the whole output.
pub(crate) fn reply_of(output: &Bytes) -> Option<Bytes> {
    match serde_json::from_slice::<Value>(output) {
        Ok(Value::Object(map)) if map.contains_key("statusCode") || map.contains_key("body") => {
            match map.get("body") {
                Some(Value::String(body)) => Some(Bytes::from(body.clone())),
                Some(Value::Null) | None => None,
                Some(other) => Some(Bytes::from(other.to_string())),
            }
        }
        Ok(Value::Null) => None,
        _ => Some(output.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_answers_accept_or_refuse() {
        assert_eq!(refused_status(br#"{"statusCode":200}"#), None);
        assert_eq!(refused_status(b"null"), None);
        assert_eq!(
            refused_status(br#"{"statusCode":401}"#),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            refused_status(br#"{"statusCode":"403"}"#),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            refused_status(br#"{"statusCode":302}"#),
            Some(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn two_way_routes_send_the_body() {
        let reply = |s: &'static str| reply_of(&Bytes::from_static(s.as_bytes()));
        assert_eq!(reply(r#"{"statusCode":200,"body":"hi"}"#).unwrap(), "hi");
        assert_eq!(reply(r#"{"statusCode":200}"#), None);
        assert_eq!(reply(r#""plain""#).unwrap(), "\"plain\"");
        assert_eq!(reply("null"), None);
    }
}
