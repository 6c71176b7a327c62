//! Who holds which connection, and what is known about it.
//!
//! Three seams, one per concern:
//! - [`LocalConnections`]: the connections this node holds (a map of live sessions: each one's
//!   bounded send queue and its close signal), in memory only;
//! - [`ConnectionRouter`]: how `@connections` reaches a connection by id. [`LocalRouter`] is the
//!   embedded default (this node holds every connection); a cluster puts a router here that asks
//!   the store which node holds the id and forwards to it;
//! - [`ConnectionStore`]: the connections' metadata in the store ([`DocumentConnections`], one
//!   document per connection in `apigw-ws-connection`, keyed by id), written at connect and
//!   removed at disconnect; what a node held when it stopped is removed at its next start.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use nubo_store::{Change, Documents, ListQuery};
use nubo_wire::Scope;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};

use crate::GatewayError;

/// Store collection of connection records.
pub const CONNECTION_COLLECTION: &str = "apigw-ws-connection";

/// A boxed future, for the dyn-compatible seams below.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What is known about a connection (also its stored document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRecord {
    /// The id clients and `@connections` use.
    pub connection_id: String,
    /// The API.
    pub api_id: String,
    /// The stage connected to.
    pub stage: String,
    /// The API's account and region.
    #[serde(skip)]
    pub scope: Scope,
    /// Epoch milliseconds.
    pub connected_at: i64,
    /// The client's address.
    pub source_ip: String,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The node holding the socket (the cluster's seam; `local` on the embedded default).
    pub node: String,
}

/// A frame queued for a client.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A text message.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Why a send could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No such connection (never was, or closed): `GoneException`.
    #[error("connection gone")]
    Gone,
    /// The client reads too slowly: its queue is full, so it is disconnected (1008).
    #[error("the client's send queue is full")]
    SlowClient,
}

/// A live session as the rest of the node reaches it.
#[derive(Debug)]
pub struct LiveConnection {
    /// Its record.
    pub record: ConnectionRecord,
    /// Epoch milliseconds of the last message either way.
    pub last_active: AtomicI64,
    queue: mpsc::Sender<Outbound>,
    close: Mutex<Option<(u16, String)>>,
    closed: Notify,
}

impl LiveConnection {
    /// A session's handle and the receiving end of its send queue (`depth` frames at most).
    pub fn new(record: ConnectionRecord, depth: usize) -> (Arc<Self>, mpsc::Receiver<Outbound>) {
        let (queue, receiver) = mpsc::channel(depth);
        let live = Arc::new(Self {
            last_active: AtomicI64::new(record.connected_at),
            record,
            queue,
            close: Mutex::new(None),
            closed: Notify::new(),
        });
        (live, receiver)
    }

    /// Queues a frame, never waiting: a full queue closes the connection instead (a slow client
    /// cannot make the server buffer without bound).
    pub fn send(&self, frame: Outbound) -> Result<(), SendError> {
        match self.queue.try_send(frame) {
            Ok(()) => {
                self.touch();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(1008, "Slow client: send queue full");
                Err(SendError::SlowClient)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Gone),
        }
    }

    /// Asks the session to close with `code` (the first request wins).
    pub fn close(&self, code: u16, reason: &str) {
        let mut close = self.close.lock();
        if close.is_none() {
            *close = Some((code, reason.to_owned()));
        }
        drop(close);
        self.closed.notify_one();
    }

    /// Waits until [`Self::close`] is called; returns its code and reason.
    pub async fn close_requested(&self) -> (u16, String) {
        loop {
            if let Some(close) = self.close.lock().clone() {
                return close;
            }
            self.closed.notified().await;
        }
    }

    /// Marks activity now.
    pub fn touch(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
    }
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The connections this node holds.
#[derive(Debug, Default)]
pub struct LocalConnections {
    live: RwLock<HashMap<String, Arc<LiveConnection>>>,
}

impl LocalConnections {
    /// Adds a session.
    pub fn insert(&self, live: Arc<LiveConnection>) {
        self.live
            .write()
            .insert(live.record.connection_id.clone(), live);
    }

    /// Removes a session.
    pub fn remove(&self, id: &str) {
        self.live.write().remove(id);
    }

    /// Takes a session out of reach (`@connections` answers `GoneException` from now on) and
    /// asks it to close: a close is never observable before the connection is gone.
    pub fn retire(&self, id: &str, code: u16, reason: &str) -> bool {
        let live = self.live.write().remove(id);
        match live {
            Some(live) => {
                live.close(code, reason);
                true
            }
            None => false,
        }
    }

    /// One session.
    pub fn get(&self, id: &str) -> Option<Arc<LiveConnection>> {
        self.live.read().get(id).cloned()
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.live.read().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every session (shutdown closes them).
    pub fn all(&self) -> Vec<Arc<LiveConnection>> {
        self.live.read().values().cloned().collect()
    }
}

/// A connection as `GetConnection` reports it.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Its record.
    pub record: ConnectionRecord,
    /// Epoch milliseconds of the last activity.
    pub last_active: i64,
}

/// How `@connections` reaches a connection, wherever it is held.
pub trait ConnectionRouter: Send + Sync + 'static {
    /// Queues data for the connection.
    fn send<'a>(&'a self, id: &'a str, frame: Outbound) -> Boxed<'a, Result<(), SendError>>;
    /// What is known about it (`None`: gone).
    fn info<'a>(&'a self, id: &'a str) -> Boxed<'a, Option<ConnectionInfo>>;
    /// Closes it (`Gone` if it is not open).
    fn close<'a>(&'a self, id: &'a str) -> Boxed<'a, Result<(), SendError>>;
}

/// The embedded default: every connection is held by this node.
#[derive(Debug, Clone)]
pub struct LocalRouter {
    /// This node's sessions.
    pub local: Arc<LocalConnections>,
}

impl ConnectionRouter for LocalRouter {
    fn send<'a>(&'a self, id: &'a str, frame: Outbound) -> Boxed<'a, Result<(), SendError>> {
        let sent = match self.local.get(id) {
            Some(live) => live.send(frame).inspect_err(|e| {
                if *e == SendError::SlowClient {
                    self.local.retire(id, 1008, "Slow client: send queue full");
                }
            }),
            None => Err(SendError::Gone),
        };
        Box::pin(std::future::ready(sent))
    }

    fn info<'a>(&'a self, id: &'a str) -> Boxed<'a, Option<ConnectionInfo>> {
        let info = self.local.get(id).map(|live| ConnectionInfo {
            record: live.record.clone(),
            last_active: live.last_active.load(Ordering::Relaxed),
        });
        Box::pin(std::future::ready(info))
    }

    fn close<'a>(&'a self, id: &'a str) -> Boxed<'a, Result<(), SendError>> {
        let closed = if self
            .local
            .retire(id, 1000, "Connection closed by the server")
        {
            Ok(())
        } else {
            Err(SendError::Gone)
        };
        Box::pin(std::future::ready(closed))
    }
}

/// Connection metadata in the store.
pub trait ConnectionStore: Send + Sync + 'static {
    /// Records an open connection.
    fn put<'a>(&'a self, record: &'a ConnectionRecord) -> Boxed<'a, Result<(), GatewayError>>;
    /// Forgets a closed one.
    fn remove<'a>(&'a self, id: &'a str) -> Boxed<'a, Result<(), GatewayError>>;
    /// Forgets every connection `node` held (at its start: its sockets died with it).
    fn forget_node<'a>(&'a self, node: &'a str) -> Boxed<'a, Result<usize, GatewayError>>;
}

/// [`ConnectionStore`] over the store's documents.
pub struct DocumentConnections {
    documents: Arc<dyn Documents>,
}

impl DocumentConnections {
    /// Over `documents`.
    pub fn new(documents: Arc<dyn Documents>) -> Self {
        Self { documents }
    }
}

impl ConnectionStore for DocumentConnections {
    fn put<'a>(&'a self, record: &'a ConnectionRecord) -> Boxed<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            let body = serde_json::to_string(record).unwrap_or_default();
            self.documents
                .commit(vec![Change::put(
                    CONNECTION_COLLECTION,
                    &record.connection_id,
                    body,
                )])
                .await?;
            Ok(())
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> Boxed<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            self.documents
                .commit(vec![Change::delete(CONNECTION_COLLECTION, id)])
                .await?;
            Ok(())
        })
    }

    fn forget_node<'a>(&'a self, node: &'a str) -> Boxed<'a, Result<usize, GatewayError>> {
        Box::pin(async move {
            let stale: Vec<Change> = self
                .documents
                .list(CONNECTION_COLLECTION, ListQuery::all())
                .await?
                .into_iter()
                .filter(|doc| {
                    serde_json::from_str::<ConnectionRecord>(&doc.body)
                        .map_or(true, |r| r.node == node)
                })
                .map(|doc| Change::delete(CONNECTION_COLLECTION, &doc.key))
                .collect();
            let count = stale.len();
            if count > 0 {
                self.documents.commit(stale).await?;
            }
            Ok(count)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ConnectionRecord {
        ConnectionRecord {
            connection_id: id.into(),
            api_id: "a".into(),
            stage: "prod".into(),
            scope: Scope::default(),
            connected_at: 1,
            source_ip: "127.0.0.1".into(),
            user_agent: None,
            node: "local".into(),
        }
    }

    #[tokio::test]
    async fn a_full_queue_disconnects_instead_of_buffering() {
        let local = Arc::new(LocalConnections::default());
        let (live, mut receiver) = LiveConnection::new(record("c1"), 2);
        local.insert(live.clone());
        let router = LocalRouter {
            local: local.clone(),
        };
        let frame = || Outbound::Text(Bytes::from_static(b"x"));
        assert!(router.send("c1", frame()).await.is_ok());
        assert!(router.send("c1", frame()).await.is_ok());
        assert_eq!(router.send("c1", frame()).await, Err(SendError::SlowClient));
        assert_eq!(live.close_requested().await.0, 1008);
        assert!(receiver.recv().await.is_some());
        assert_eq!(router.send("nope", frame()).await, Err(SendError::Gone));
        // The slow client is out of reach at once.
        assert!(router.info("c1").await.is_none());
        assert_eq!(router.send("c1", frame()).await, Err(SendError::Gone));
    }

    #[tokio::test]
    async fn stored_records_of_a_node_are_forgotten_at_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let stores = nubo_store::StoreConfig::in_data_dir(dir.path())
            .open(dir.path())
            .await
            .unwrap();
        let store = DocumentConnections::new(stores.documents.clone());
        store.put(&record("c1")).await.unwrap();
        let mut other = record("c2");
        other.node = "elsewhere".into();
        store.put(&other).await.unwrap();
        assert_eq!(store.forget_node("local").await.unwrap(), 1);
        let left = stores
            .documents
            .list(CONNECTION_COLLECTION, ListQuery::all())
            .await
            .unwrap();
        assert_eq!(left.len(), 1);
        store.remove("c2").await.unwrap();
    }
}
