//! Blobs: byte objects under a key (function zips, keyed by their SHA-256).
//!
//! The embedded backend keeps each blob as one file in a directory (`FsBlobs`), written to a
//! temporary name and renamed into place, so a reader never sees half a blob. A cluster backend
//! would keep them where every node can fetch them; [`crate::CodeStore`] unpacks locally either way.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::StoreError;

/// Keyed byte objects. Keys are 1–128 characters of `[A-Za-z0-9._-]`, not starting with a dot.
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Stores (or replaces) a blob.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError>;
    /// Reads a blob back; `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// Whether a blob exists.
    async fn contains(&self, key: &str) -> Result<bool, StoreError>;
    /// Removes a blob; false if there was none.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
}

/// Refuses keys that could name anything but one file of the blob directory.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let valid = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!("invalid blob key {key:?}")))
    }
}

/// Blobs as files `<dir>/<key><suffix>`.
#[derive(Debug, Clone)]
pub struct FsBlobs {
    dir: PathBuf,
    suffix: String,
}

impl FsBlobs {
    /// Uses (creating it if needed) `dir`; every file name is the key plus `suffix` (`.zip` for
    /// the code directory, whose layout predates this type).
    pub fn open(dir: &Path, suffix: &str) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            suffix: suffix.to_owned(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.dir.join(format!("{key}{}", self.suffix)))
    }
}

#[async_trait]
impl Blobs for FsBlobs {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let path = self.path(key)?;
        crate::blocking::run(move || {
            let tmp = path.with_extension(format!("tmp-{}", unique_suffix()));
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
            Ok(())
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(key)?;
        crate::blocking::run(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await
    }

    async fn contains(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        crate::blocking::run(move || Ok(path.is_file())).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        crate::blocking::run(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        })
        .await
    }
}

/// A name part no other writer (thread or process) uses at the same time.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
