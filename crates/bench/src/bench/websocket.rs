//! WebSocket broadcast: N connected clients, each round a message to every one of them, timed
//! from the round's start until each client has it (p50/p99 over every delivery) and as
//! messages delivered per second.
//!
//! - Nubo: the clients connect to a WebSocket API (`$default` two-way to the provided echo, used
//!   once per client to learn its connection id); a round is one signed `@connections` POST per
//!   client, `senders` at a time, from this process — the path a broadcasting function takes.
//! - Baseline, same run: a bare tokio-tungstenite server in this process, whose clients connect
//!   the same way; a round is one message from a control client that the server fans out to
//!   every other client through per-client bounded queues.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use nubo::client::Client;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::Message;

use super::{create, stats, Row};

type Socket = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn connect(addr: SocketAddr, path: &str) -> anyhow::Result<Socket> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}{path}");
    let (socket, _) = tokio_tungstenite::client_async(url.as_str(), stream).await?;
    Ok(socket)
}

/// Reads every client's messages: each is the round's start (µs since `origin`); the delivery's
/// latency goes to `deliveries`.
fn spawn_reader(
    mut socket: futures_util::stream::SplitStream<Socket>,
    origin: Instant,
    deliveries: mpsc::UnboundedSender<Duration>,
) {
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(start_us) = text.as_str().parse::<u64>() else {
                continue;
            };
            let latency = origin
                .elapsed()
                .saturating_sub(Duration::from_micros(start_us));
            if deliveries.send(latency).is_err() {
                return;
            }
        }
    });
}

struct Measured {
    latencies: Vec<Duration>,
    per_second: f64,
}

/// Runs `rounds` rounds; `broadcast(start_us)` starts one, and each round ends when all `clients`
/// deliveries arrived.
async fn measure<F, Fut>(
    clients: usize,
    rounds: usize,
    origin: Instant,
    mut deliveries: mpsc::UnboundedReceiver<Duration>,
    mut broadcast: F,
) -> anyhow::Result<Measured>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut latencies = Vec::with_capacity(clients * rounds);
    let mut busy = Duration::ZERO;
    for _ in 0..rounds {
        let started = Instant::now();
        broadcast(origin.elapsed().as_micros() as u64).await?;
        for _ in 0..clients {
            let latency = tokio::time::timeout(Duration::from_secs(30), deliveries.recv())
                .await
                .context("a broadcast did not arrive within 30 s")?
                .context("readers stopped")?;
            latencies.push(latency);
        }
        busy += started.elapsed();
    }
    Ok(Measured {
        per_second: latencies.len() as f64 / busy.as_secs_f64(),
        latencies,
    })
}

/// Nubo: a WebSocket API in front of `function` (an echo), `clients` connections, rounds of
/// `@connections` posts.
async fn nubo_broadcast(
    client: &Arc<Client>,
    function: &str,
    clients: usize,
    rounds: usize,
    senders: usize,
) -> anyhow::Result<Measured> {
    let api = create(
        client,
        "apigateway",
        "/v2/apis",
        &json!({"name": "bench-ws", "protocolType": "WEBSOCKET", "routeSelectionExpression": "$request.body.action"}),
        "the WebSocket API",
    )
    .await?;
    let api_id = serde_json::from_slice::<Value>(&api.body)?["apiId"]
        .as_str()
        .context("no apiId")?
        .to_owned();
    let integration = create(
        client,
        "apigateway",
        &format!("/v2/apis/{api_id}/integrations"),
        &json!({"integrationType": "AWS_PROXY",
                "integrationUri": format!("arn:aws:lambda:us-east-1:000000000000:function:{function}")}),
        "the integration",
    )
    .await?;
    let integration_id = serde_json::from_slice::<Value>(&integration.body)?["integrationId"]
        .as_str()
        .context("no integrationId")?
        .to_owned();
    create(
        client,
        "apigateway",
        &format!("/v2/apis/{api_id}/routes"),
        &json!({"routeKey": "$default", "target": format!("integrations/{integration_id}"),
                "routeResponseSelectionExpression": "$default"}),
        "the route",
    )
    .await?;
    create(
        client,
        "apigateway",
        &format!("/v2/apis/{api_id}/stages"),
        &json!({"stageName": "b", "autoDeploy": true}),
        "the stage",
    )
    .await?;
    let addr: SocketAddr = client
        .base()
        .trim_start_matches("http://")
        .parse()
        .context("the server's address")?;
    let origin = Instant::now();
    let (deliveries, received) = mpsc::unbounded_channel();
    let mut ids = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut socket = connect(addr, &format!("/_api/{api_id}/b")).await?;
        socket.send(Message::text("{\"whoami\":1}")).await?;
        let reply = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .context("no echo within 30 s")?
            .context("closed")??;
        let echo: Value = serde_json::from_str(reply.to_text()?)?;
        let id = echo["echo"]["requestContext"]["connectionId"]
            .as_str()
            .context("no connection id in the echo")?
            .to_owned();
        ids.push(id);
        let (_sink, stream) = socket.split();
        std::mem::forget(_sink); // the connection stays open for the run
        spawn_reader(stream, origin, deliveries.clone());
    }
    let ids = Arc::new(ids);
    measure(clients, rounds, origin, received, |start_us| {
        let ids = ids.clone();
        let client = client.clone();
        async move {
            let mut tasks = tokio::task::JoinSet::new();
            for sender in 0..senders {
                let (ids, client) = (ids.clone(), client.clone());
                tasks.spawn(async move {
                    for id in ids.iter().skip(sender).step_by(senders) {
                        let path = format!("/b/@connections/{}", nubo_wire::sigv4::uri_encode(id));
                        let reply = client
                            .send(
                                "execute-api",
                                http::Method::POST,
                                &path,
                                &[],
                                &[],
                                start_us.to_string().into_bytes(),
                            )
                            .await?;
                        anyhow::ensure!(reply.status.is_success(), "post: {}", reply.status);
                    }
                    Ok::<_, anyhow::Error>(())
                });
            }
            while let Some(done) = tasks.join_next().await {
                done??;
            }
            Ok(())
        }
    })
    .await
}

/// The baseline server's clients: (client number, its send queue).
type Peers = Vec<(usize, mpsc::Sender<Message>)>;

/// The baseline server: every message any client sends goes to every other client.
async fn bare_server() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let peers: Arc<Mutex<Peers>> = Arc::default();
    tokio::spawn(async move {
        let mut next = 0usize;
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let me = next;
            next += 1;
            let peers = peers.clone();
            tokio::spawn(async move {
                let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let (mut sink, mut stream) = socket.split();
                let (queue, mut queued) = mpsc::channel::<Message>(256);
                peers.lock().await.push((me, queue));
                tokio::spawn(async move {
                    while let Some(message) = queued.recv().await {
                        if sink.send(message).await.is_err() {
                            return;
                        }
                    }
                });
                while let Some(Ok(message)) = stream.next().await {
                    if let Message::Text(_) = message {
                        for (peer, queue) in peers.lock().await.iter() {
                            if *peer != me {
                                let _ = queue.try_send(message.clone());
                            }
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

async fn bare_broadcast(clients: usize, rounds: usize) -> anyhow::Result<Measured> {
    let addr = bare_server().await?;
    let origin = Instant::now();
    let (deliveries, received) = mpsc::unbounded_channel();
    let mut control = connect(addr, "/").await?;
    for _ in 0..clients {
        let socket = connect(addr, "/").await?;
        let (sink, stream) = socket.split();
        std::mem::forget(sink);
        spawn_reader(stream, origin, deliveries.clone());
    }
    // Every client is registered once the server has answered all handshakes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let control = &mut control;
    let control = Arc::new(Mutex::new(control));
    measure(clients, rounds, origin, received, |start_us| {
        let control = control.clone();
        async move {
            control
                .lock()
                .await
                .send(Message::text(start_us.to_string()))
                .await?;
            Ok(())
        }
    })
    .await
}

/// The broadcast rows.
pub(super) async fn rows(
    client: &Arc<Client>,
    function: &str,
    clients: usize,
    rounds: usize,
    senders: usize,
) -> anyhow::Result<Vec<Row>> {
    eprintln!("bench: WebSocket broadcast to {clients} clients, {rounds} rounds …");
    let nubo = nubo_broadcast(client, function, clients, rounds, senders).await?;
    let bare = bare_broadcast(clients, rounds).await?;
    Ok(vec![Row {
        scenario: format!(
            "WebSocket broadcast to {clients} connected clients (one @connections POST each, {senders} senders); req/s = messages delivered/s"
        ),
        subject: stats(nubo.latencies),
        throughput: Some(nubo.per_second),
        baseline_name: format!("bare tokio-tungstenite server fanning out one message to {clients} clients"),
        baseline: stats(bare.latencies),
        baseline_throughput: Some(bare.per_second),
    }])
}
