//! The one batching log writer: function logs and access logs alike.
//!
//! The request path hands finished lines to a bounded channel and never waits: when the writer is
//! far behind, a batch is dropped (with a warning) rather than slowing invocations. A task takes
//! what has gathered — after a short linger, so one commit carries many invocations' lines — and
//! appends it to the store's [`Logs`], keyed by log group and stream.

use std::sync::Arc;
use std::time::Duration;

use nubo_store::{LogEvent, Logs};
use tokio::sync::mpsc;

/// How long the writer waits for more lines before committing a batch.
const LINGER: Duration = Duration::from_millis(50);
/// Sends (each one invocation's lines, or one access-log line) the channel holds.
const CHANNEL: usize = 4096;
/// Most events one commit takes.
const MAX_BATCH: usize = 10_000;

/// The log group of a function's logs (Lambda's default `LoggingConfig.LogGroup`).
pub fn function_log_group(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// The store's key for a log group of one account and region: `{account}:{region}:{group}`.
/// CloudWatch keeps groups per account and region; group names never contain `:`, so the key
/// splits back unambiguously (see [`split_scoped_group`]).
pub fn scoped_group(account: &str, region: &str, group: &str) -> String {
    format!("{account}:{region}:{group}")
}

/// The prefix every store key of one account and region starts with.
pub fn scope_prefix(account: &str, region: &str) -> String {
    format!("{account}:{region}:")
}

/// `(account, region, group)` from a store key made by [`scoped_group`]; `None` for a key
/// written before groups were scoped.
pub fn split_scoped_group(key: &str) -> Option<(&str, &str, &str)> {
    let (account, rest) = key.split_once(':')?;
    let (region, group) = rest.split_once(':')?;
    Some((account, region, group))
}

/// What one send carries: one invocation's lines, or a single line (an access log) without the
/// allocation of a one-element vector.
enum Sent {
    Many(Vec<LogEvent>),
    One(LogEvent),
    /// Write what has gathered, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Sends log events to the background writer; cheap to clone, never blocks.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Sent>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter").finish_non_exhaustive()
    }
}

impl LogWriter {
    /// Starts the writer task (inside a tokio runtime). It ends once every `LogWriter` clone is
    /// dropped and what was sent has been written.
    pub fn start(logs: Arc<dyn Logs>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Sent>(CHANNEL);
        tokio::spawn(async move {
            let mut flushed = Vec::new();
            let add = |batch: &mut Vec<LogEvent>,
                       flushed: &mut Vec<tokio::sync::oneshot::Sender<()>>,
                       sent: Sent| match sent {
                Sent::Many(events) => batch.extend(events),
                Sent::One(event) => batch.push(event),
                Sent::Flush(done) => flushed.push(done),
            };
            while let Some(first) = rx.recv().await {
                let mut batch = Vec::new();
                let flush = matches!(first, Sent::Flush(_));
                add(&mut batch, &mut flushed, first);
                // Let a few invocations' lines gather: one commit per batch, not per invocation,
                // keeps the writer's CPU off the invoke path's cores. A flush does not linger.
                if !flush {
                    tokio::time::sleep(LINGER).await;
                }
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(more) => add(&mut batch, &mut flushed, more),
                        Err(_) => break,
                    }
                }
                if let Err(e) = logs.append(batch).await {
                    tracing::warn!(error = %e, "could not store log events");
                }
                for done in flushed.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self { tx }
    }

    /// A writer that keeps nothing: what is sent is dropped (the benchmark's "logging off"
    /// baseline, `nubo serve --observability off`).
    pub fn discarding() -> Self {
        let (tx, mut rx) = mpsc::channel::<Sent>(CHANNEL);
        tokio::spawn(async move {
            while let Some(sent) = rx.recv().await {
                if let Sent::Flush(done) = sent {
                    let _ = done.send(());
                }
            }
        });
        Self { tx }
    }

    /// Queues events (one invocation's, say); if the writer is far behind they are dropped.
    pub fn send(&self, events: Vec<LogEvent>) {
        self.queue(Sent::Many(events));
    }

    /// Queues one event.
    pub fn send_one(&self, event: LogEvent) {
        self.queue(Sent::One(event));
    }

    /// Writes everything sent before this call (shutdown calls it, so the last invocations'
    /// lines are not lost with the process).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(Sent::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    fn queue(&self, sent: Sent) {
        if self.tx.try_send(sent).is_err() {
            tracing::warn!("the log writer is behind; dropped log events");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_store::conformance::{Backend, SqliteBackend};
    use nubo_store::LogQuery;

    fn event(group: &str, stream: &str, message: &str) -> LogEvent {
        LogEvent {
            group: group.into(),
            stream: stream.into(),
            timestamp_ms: 1,
            message: message.into(),
        }
    }

    #[tokio::test]
    async fn function_and_access_logs_reach_their_groups() {
        let backend = SqliteBackend::new();
        let logs = backend.open().await.logs;
        let writer = LogWriter::start(logs.clone());
        let group = function_log_group("f");
        writer.send(vec![
            event(&group, "2026/01/01/[$LATEST]a", "START"),
            event(&group, "2026/01/01/[$LATEST]a", "END"),
        ]);
        writer.send_one(event("access", "api/prod", "GET / 200"));
        let read = |group: &str| LogQuery {
            group: group.into(),
            ..LogQuery::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let function = logs.read(read(&group)).await.unwrap().events.len();
            let access = logs.read(read("access")).await.unwrap().events.len();
            if (function, access) == (2, 1) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "written: {function} function and {access} access events"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(group, "/aws/lambda/f");
    }
}
