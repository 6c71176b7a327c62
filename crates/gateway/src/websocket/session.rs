//! One connection's life after the handshake: frames in (limits, route selection, the
//! integration on its own task), queued frames out (bounded; a client too slow to drain its
//! queue is disconnected), pings answered, and the close — by the client, `@connections`
//! DELETE, the idle and lifetime limits, an oversized frame (1009) or shutdown (1001) —, after
//! which the `$disconnect` integration runs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::connections::{LiveConnection, Outbound};
use super::events::{self, SocketEvent, SocketFacts};
use super::plane::SocketStage;
use super::{reply_of, Answer, Sockets};

/// How long one write to a client may take before the client counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// How a session ended: the code and reason `$disconnect` reports.
struct Ended {
    code: u16,
    reason: String,
}

pub(super) async fn run(
    sockets: Arc<Sockets>,
    stage: Arc<SocketStage>,
    facts: SocketFacts,
    on_upgrade: OnUpgrade,
) {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            tracing::debug!(error = %e, "a WebSocket upgrade did not complete");
            return;
        }
    };
    let limits = &sockets.limits;
    let config = WebSocketConfig::default()
        .max_frame_size(Some(limits.max_frame))
        .max_message_size(Some(limits.max_message));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (live, queue) = LiveConnection::new(facts.record.clone(), limits.send_queue);
    let id = facts.record.connection_id.clone();
    sockets.local.insert(live.clone());
    let stored = sockets.store.put(&facts.record).await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, connection = %id, "could not record a WebSocket connection");
    }
    let facts = Arc::new(facts);
    let ended = serve(&sockets, &stage, &facts, &live, socket, queue).await;
    sockets.local.remove(&id);
    if let Err(e) = sockets.store.remove(&id).await {
        tracing::warn!(error = %e, connection = %id, "could not forget a WebSocket connection");
    }
    if let Some(route) = stage.route("$disconnect") {
        let request_id = events::short_id();
        let event = events::event(
            &facts,
            &SocketEvent::Disconnect {
                code: ended.code,
                reason: &ended.reason,
            },
            &request_id,
        );
        let _ = sockets
            .integrate(route, &stage.scope, event, &request_id)
            .await;
    }
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(reason),
    }))
}

async fn write(socket: &mut Socket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

/// Sends a close frame and waits briefly for the client's (a clean close).
async fn close(socket: &mut Socket, code: u16, reason: &str) {
    if write(socket, close_frame(code, reason)).await {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = socket.next().await {}
        })
        .await;
    }
}

async fn serve(
    sockets: &Arc<Sockets>,
    stage: &Arc<SocketStage>,
    facts: &Arc<SocketFacts>,
    live: &Arc<LiveConnection>,
    mut socket: Socket,
    mut queue: mpsc::Receiver<Outbound>,
) -> Ended {
    let limits = &sockets.limits;
    let id = live.record.connection_id.as_str();
    // Out of `@connections`' reach before anything of the close is sent: a client that saw its
    // connection close never finds it still open.
    let gone = || sockets.local.remove(id);
    let lifetime = tokio::time::sleep(limits.lifetime);
    let idle = tokio::time::sleep(limits.idle);
    tokio::pin!(lifetime, idle);
    let ended = |code: u16, reason: &str| Ended {
        code,
        reason: reason.to_owned(),
    };
    loop {
        tokio::select! {
            incoming = socket.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + limits.idle);
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        live.touch();
                        dispatch(sockets, stage, facts, live, Bytes::from(text), false);
                    }
                    Some(Ok(Message::Binary(data))) => {
                        live.touch();
                        dispatch(sockets, stage, facts, live, data, true);
                    }
                    Some(Ok(Message::Ping(_))) => {
                        // tungstenite queued the pong; send it now.
                        let _ = socket.flush().await;
                    }
                    Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(frame))) => {
                        gone();
                        let _ = socket.flush().await;
                        return match frame {
                            Some(frame) => ended(frame.code.into(), &frame.reason),
                            None => ended(1005, "Client-side close frame status not set"),
                        };
                    }
                    Some(Err(WsError::Capacity(_))) => {
                        gone();
                        close(&mut socket, 1009, "Message too big").await;
                        return ended(1009, "Message too big");
                    }
                    Some(Err(_)) | None => {
                        return ended(1006, "Connection closed abnormally");
                    }
                }
            }
            outbound = queue.recv() => {
                let Some(outbound) = outbound else { continue };
                let message = match outbound {
                    // `@connections` data that is not UTF-8 cannot be a text frame.
                    Outbound::Text(data) => match Utf8Bytes::try_from(data.clone()) {
                        Ok(text) => Message::Text(text),
                        Err(_) => Message::Binary(data),
                    },
                    Outbound::Binary(data) => Message::Binary(data),
                };
                if !write(&mut socket, message).await {
                    return ended(1006, "Client too slow or gone");
                }
            }
            (code, reason) = live.close_requested() => {
                gone();
                close(&mut socket, code, &reason).await;
                return ended(code, &reason);
            }
            () = &mut idle => {
                gone();
                close(&mut socket, 1001, "Going away").await;
                return ended(1001, "Idle timeout");
            }
            () = &mut lifetime => {
                gone();
                close(&mut socket, 1001, "Going away").await;
                return ended(1001, "Connection lifetime exceeded");
            }
        }
    }
}

/// Routes one message and runs its integration on a task of its own (messages of one
/// connection are handled concurrently, as on AWS); a two-way route's answer is queued back.
fn dispatch(
    sockets: &Arc<Sockets>,
    stage: &Arc<SocketStage>,
    facts: &Arc<SocketFacts>,
    live: &Arc<LiveConnection>,
    body: Bytes,
    binary: bool,
) {
    let request_id = events::short_id();
    let Some(route) = stage.select(&body).cloned() else {
        // No route and no `$default`: AWS answers the client with an error frame.
        let _ = live.send(Outbound::Text(error_frame("Forbidden", facts, &request_id)));
        return;
    };
    let (sockets, stage, facts, live) =
        (sockets.clone(), stage.clone(), facts.clone(), live.clone());
    tokio::spawn(async move {
        let message_id = events::short_id();
        let event = events::event(
            &facts,
            &SocketEvent::Message {
                route_key: &route.route_key,
                body: &body,
                binary,
                message_id: &message_id,
            },
            &request_id,
        );
        match sockets
            .integrate(&route, &stage.scope, event, &request_id)
            .await
        {
            Some(Answer::Output(output)) if route.two_way => {
                if let Some(reply) = reply_of(&output) {
                    let _ = live.send(Outbound::Text(reply));
                }
            }
            Some(Answer::Failed) => {
                let _ = live.send(Outbound::Text(error_frame(
                    "Internal server error",
                    &facts,
                    &request_id,
                )));
            }
            _ => {}
        }
    });
}

/// `{"message": …, "connectionId": …, "requestId": …}`, the frame AWS sends when a message
/// cannot be handled.
fn error_frame(message: &str, facts: &SocketFacts, request_id: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "message": message,
            "connectionId": facts.record.connection_id,
            "requestId": request_id,
        })
        .to_string(),
    )
}
