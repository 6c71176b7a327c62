//! The Nubo endpoint inside an environment's own network: `AWS_ENDPOINT_URL` there is
//! `http://127.0.0.1:<the server's port>`, a listener the sandbox made inside the namespace and
//! the server serves with the edge's router — the function's SDK calls reach Nubo without any
//! route to the host.
//!
//! The lambda layer sits below the edge, so the edge plugs its router in here
//! ([`EnvironmentEndpoint::set`]) once it exists; environments started before that (provisioned
//! concurrency restored at start) wait for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

/// Serves the Nubo endpoint on a listener inside an environment.
pub trait EndpointServer: Send + Sync + 'static {
    /// Serves `listener` until the returned future is dropped.
    fn serve(&self, listener: tokio::net::TcpListener) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Where environments find the [`EndpointServer`]: set once by the composition root.
#[derive(Default)]
pub struct EnvironmentEndpoint {
    server: OnceLock<Arc<dyn EndpointServer>>,
    set: Notify,
}

impl std::fmt::Debug for EnvironmentEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentEndpoint")
            .field("set", &self.server.get().is_some())
            .finish()
    }
}

impl EnvironmentEndpoint {
    /// Plugs the server in (the first call wins).
    pub fn set(&self, server: Arc<dyn EndpointServer>) {
        let _ = self.server.set(server);
        self.set.notify_waiters();
    }

    /// Serves `listeners` (once a server is set) until the task is aborted.
    pub(crate) fn serve(
        self: &Arc<Self>,
        listeners: Vec<std::net::TcpListener>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let server = loop {
                let notified = me.set.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(server) = me.server.get() {
                    break server.clone();
                }
                notified.await;
            };
            // Dropped with this task when the environment goes: the accept loops stop with it.
            let mut served = tokio::task::JoinSet::new();
            for listener in listeners {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        served.spawn(server.serve(listener));
                    }
                    Err(e) => tracing::warn!("serving the endpoint inside an environment: {e}"),
                }
            }
            while served.join_next().await.is_some() {}
        })
    }
}
