//! The `@connections` management API of WebSocket APIs (botocore's `apigatewaymanagementapi`,
//! rest-json, signed as `execute-api`): `POST` sends data to a connection, `GET` describes it,
//! `DELETE` closes it; a connection that is not open is `GoneException` (410).
//!
//! Clients send these to the endpoint a handler builds from its event,
//! `http://{requestContext.domainName}/{requestContext.stage}` — the Host the WebSocket client
//! used (`127.0.0.1:<port>` reaches Nubo from the host and, through the endpoint Nubo serves in
//! each environment, from inside a function), or the API's own host, or the `/_api/{apiId}`
//! prefix, or no stage at all (`AWS_ENDPOINT_URL`). Connection ids are unique, so the path's
//! connection id finds the connection; an API or stage the request names must be its own.
//! Signed requests reach this service before the gateway's hosts and prefixes are considered
//! (see `dispatch`), and `execute-api:ManageConnections` is authorized on the connection's API
//! and stage.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use nubo_gateway::websocket::connections::{Outbound, SendError};
use nubo_gateway::websocket::MAX_POST_BYTES;
use nubo_identity::IdentityRegistry;
use nubo_wire::{AwsError, Protocol};
use percent_encoding::percent_decode_str;
use serde_json::json;

use crate::auth::rest::Matched;
use crate::auth::{Asked, Authorizer, Parameters};
use crate::registry::Service;
use crate::response::{empty, rest_json_error};
use crate::EdgeState;

nubo_wire::error_table! {
    /// `apigatewaymanagementapi`'s codes.
    pub(crate) struct ConnectionErrors {
        gone => ("GoneException", GONE),
        forbidden => ("ForbiddenException", FORBIDDEN),
        payload_too_large => ("PayloadTooLargeException", PAYLOAD_TOO_LARGE),
        limit_exceeded => ("LimitExceededException", TOO_MANY_REQUESTS),
        bad_request => ("BadRequestException", BAD_REQUEST),
    }
}

/// A management path: `[/_api/{apiId}][/{stage}]/@connections/{connectionId}`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ManagementPath {
    pub(crate) api_id: Option<String>,
    pub(crate) stage: Option<String>,
    pub(crate) connection_id: String,
}

impl ManagementPath {
    pub(crate) fn parse(path: &str) -> Option<Self> {
        let (prefix, id) = path
            .split_once("/@connections/")
            .or_else(|| path.split_once("/%40connections/"))?;
        let id = percent_decode_str(id).decode_utf8().ok()?.into_owned();
        if id.is_empty() || id.contains('/') {
            return None;
        }
        let mut segments = prefix.split('/').filter(|s| !s.is_empty());
        let mut api_id = None;
        let mut first = segments.next();
        if first == Some("_api") {
            api_id = segments.next().map(str::to_owned);
            first = segments.next();
        }
        let stage = first.map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned());
        if segments.next().is_some() {
            return None;
        }
        Some(Self {
            api_id,
            stage,
            connection_id: id,
        })
    }
}

/// The API the `Host` names (`{apiId}.execute-api[.{region}].localhost`), if any.
fn host_api(parts: &http::request::Parts) -> Option<String> {
    let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
    match nubo_gateway::HostTarget::parse(host)? {
        nubo_gateway::HostTarget::Api { id, .. } => Some(id.to_owned()),
        nubo_gateway::HostTarget::Url { .. } => None,
    }
}

/// Whether a request is a call to `@connections` (dispatch sends it to this service, signed,
/// even on a gateway host or prefix — unless that names an HTTP API, whose routes it is).
pub(crate) fn is_management_call(state: &EdgeState, req: &Request) -> bool {
    let Some(path) = ManagementPath::parse(req.uri().path()) else {
        return false;
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(nubo_gateway::HostTarget::parse);
    let named = match host {
        Some(nubo_gateway::HostTarget::Api { id, .. }) => Some(id.to_owned()),
        Some(nubo_gateway::HostTarget::Url { .. }) => return false,
        None => path.api_id,
    };
    match named {
        Some(id) => state
            .gateway
            .apis()
            .plane()
            .get(&id)
            .is_none_or(|api| api.websocket),
        None => true,
    }
}

/// The service registration.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    Service::new("execute-api")
        .rest(
            Protocol::RestJson,
            Router::new().fallback(handle).with_state(state.clone()),
        )
        .authorized_by(ConnectionsAuthorizer {
            state: state.clone(),
        })
}

fn operation(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::POST => "PostToConnection",
        Method::GET => "GetConnection",
        Method::DELETE => "DeleteConnection",
        _ => return None,
    })
}

/// Names the operation by method and authorizes it on the connection's API and stage.
pub(crate) struct ConnectionsAuthorizer {
    state: Arc<EdgeState>,
}

impl Authorizer for ConnectionsAuthorizer {
    fn route(&self, parts: &http::request::Parts) -> Option<Matched> {
        let path = ManagementPath::parse(parts.uri.path())?;
        Some(Matched {
            operation: operation(&parts.method)?,
            labels: vec![("ConnectionId", path.connection_id)],
            // Larger posts are refused by the handler with AWS's own error.
            body_limit: MAX_POST_BYTES + 64 * 1024,
        })
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        let path = ManagementPath::parse(asked.parts.uri.path())
            .ok_or_else(|| ConnectionErrors::bad_request("Invalid connection path"))?;
        let held = self.state.gateway.sockets().held(&path.connection_id);
        let api = host_api(asked.parts)
            .or(path.api_id)
            .or_else(|| held.as_ref().map(|r| r.api_id.clone()))
            .unwrap_or_else(|| "unknown".into());
        let stage = path
            .stage
            .or_else(|| held.as_ref().map(|r| r.stage.clone()))
            .unwrap_or_else(|| "unknown".into());
        Ok(vec![
            ("ApiId", api),
            ("Stage", stage),
            ("ConnectionId", path.connection_id),
        ])
    }
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn gone(id: &str) -> Response {
    rest_json_error(&ConnectionErrors::gone(format!("Connection {id} is gone")))
}

async fn handle(State(state): State<Arc<EdgeState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(path) = ManagementPath::parse(parts.uri.path()) else {
        return rest_json_error(&Protocol::RestJson.unknown_operation("Not an @connections path"));
    };
    let router = state.gateway.sockets().router().clone();
    let id = path.connection_id.as_str();
    // A connection of another API or stage than the request names is not this endpoint's.
    let info = router.info(id).await;
    let named_api = host_api(&parts).or(path.api_id.clone());
    let foreign = info.as_ref().is_some_and(|info| {
        named_api.as_ref().is_some_and(|a| *a != info.record.api_id)
            || path.stage.as_ref().is_some_and(|s| *s != info.record.stage)
    });
    let Some(info) = info.filter(|_| !foreign) else {
        return gone(id);
    };
    match parts.method {
        Method::POST => {
            let data: Bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return rest_json_error(&ConnectionErrors::bad_request("Unreadable body"))
                }
            };
            if data.len() > MAX_POST_BYTES {
                return rest_json_error(&ConnectionErrors::payload_too_large("Message too long"));
            }
            match router.send(id, Outbound::Text(data)).await {
                Ok(()) => empty(StatusCode::OK),
                Err(SendError::Gone | SendError::SlowClient) => gone(id),
            }
        }
        Method::GET => {
            let value = json!({
                "connectedAt": iso(info.record.connected_at),
                "identity": {
                    "sourceIp": info.record.source_ip,
                    "userAgent": info.record.user_agent.as_deref().unwrap_or(""),
                },
                "lastActiveAt": iso(info.last_active),
            });
            crate::response::json(StatusCode::OK, &value)
        }
        Method::DELETE => match router.close(id).await {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(_) => gone(id),
        },
        _ => rest_json_error(
            &Protocol::RestJson.unknown_operation("@connections answers POST, GET and DELETE"),
        ),
    }
    .map(Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_paths_in_every_form() {
        let parse = |p: &str| ManagementPath::parse(p);
        assert_eq!(
            parse("/prod/@connections/L0SM9cOFvHcCIhw%3D"),
            Some(ManagementPath {
                api_id: None,
                stage: Some("prod".into()),
                connection_id: "L0SM9cOFvHcCIhw=".into()
            })
        );
        assert_eq!(
            parse("/_api/abc/prod/@connections/x")
                .unwrap()
                .api_id
                .as_deref(),
            Some("abc")
        );
        assert_eq!(parse("/@connections/x").unwrap().stage, None);
        assert_eq!(parse("/a/b/@connections/x"), None);
        assert_eq!(parse("/prod/@connections/"), None);
        assert_eq!(parse("/prod/other/x"), None);
    }
}
