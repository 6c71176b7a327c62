//! Running store work that blocks (SQLite calls, file I/O) off the async runtime's workers.

use crate::StoreError;

/// Runs `work` on tokio's blocking pool when called inside a runtime (so a slow fsync never
/// stalls a worker that serves requests), and inline otherwise (tools and tests without one).
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?,
        Err(_) => work(),
    }
}
