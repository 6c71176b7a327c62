//! Blobs: byte objects under a key (function zips keyed by their SHA-256, S3 objects' data).
//!
//! The embedded backend keeps each blob as one file in a directory (`FsBlobs`), written to a
//! temporary name, fsynced and renamed into place, so a reader never sees half a blob — also
//! after a crash mid-write. A cluster backend would keep them where every node can fetch them;
//! [`crate::CodeStore`] unpacks locally either way.
//!
//! Large blobs stream: [`Blobs::upload`] hands out a [`BlobUpload`] that takes the bytes piece by
//! piece and is published under its key only whole ([`BlobUpload::publish`]: data and directory
//! fsynced before it returns); [`Blobs::open`] reads a byte range as an `AsyncRead`.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

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

    /// Starts a streamed write. Nothing is visible under any key until
    /// [`BlobUpload::publish`]; an upload dropped (or a process killed) before that leaves only
    /// what [`Blobs::sweep_uploads`] removes.
    async fn upload(&self) -> Result<Box<dyn BlobUpload>, StoreError>;

    /// Reads `length` bytes from `offset` (the whole blob: `0` and its size); `None` if there is
    /// no such blob. The size is the blob's whole size.
    async fn open(
        &self,
        key: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Option<BlobRead>, StoreError>;

    /// Every key, in no particular order (to sweep what no record refers to).
    async fn keys(&self) -> Result<Vec<String>, StoreError>;

    /// Removes what uploads interrupted by a crash left behind; returns how many.
    async fn sweep_uploads(&self) -> Result<usize, StoreError>;
}

/// A blob being read: its whole size and a reader over the asked range.
pub struct BlobRead {
    /// The blob's whole size in bytes.
    pub size: u64,
    /// The bytes of the range.
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

impl std::fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobRead")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A blob being written piece by piece.
#[async_trait]
pub trait BlobUpload: Send {
    /// Appends bytes.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Makes the bytes durable and visible under `key` (replacing a blob there), at once and
    /// whole.
    async fn publish(self: Box<Self>, key: &str) -> Result<(), StoreError>;
}

/// The prefix of uploads in progress: keys cannot start with a dot, so no blob is named so.
const UPLOAD_PREFIX: &str = ".upload-";

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

    async fn upload(&self) -> Result<Box<dyn BlobUpload>, StoreError> {
        let path = self.dir.join(format!("{UPLOAD_PREFIX}{}", unique_suffix()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Box::new(FsUpload {
            blobs: self.clone(),
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            path,
            written: 0,
        }))
    }

    async fn open(
        &self,
        key: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Option<BlobRead>, StoreError> {
        let path = self.path(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        if offset > 0 {
            file.seek(std::io::SeekFrom::Start(offset)).await?;
        }
        let length = length.unwrap_or(size.saturating_sub(offset));
        Ok(Some(BlobRead {
            size,
            reader: Box::pin(file.take(length)),
        }))
    }

    async fn keys(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.clone();
        let suffix = self.suffix.clone();
        crate::blocking::run(move || {
            let mut keys = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let name = entry?.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Some(key) = name.strip_suffix(suffix.as_str()) {
                    if check_key(key).is_ok() {
                        keys.push(key.to_owned());
                    }
                }
            }
            Ok(keys)
        })
        .await
    }

    async fn sweep_uploads(&self) -> Result<usize, StoreError> {
        let dir = self.dir.clone();
        crate::blocking::run(move || {
            let mut removed = 0;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(UPLOAD_PREFIX)
                {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

/// A streamed write into `<dir>/.upload-<unique>`, renamed to its key when published.
struct FsUpload {
    blobs: FsBlobs,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    path: PathBuf,
    written: u64,
}

#[async_trait]
impl BlobUpload for FsUpload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("write after publish".into()))?;
        file.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn publish(mut self: Box<Self>, key: &str) -> Result<(), StoreError> {
        let target = self.blobs.path(key)?;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| StoreError::Invalid("published twice".into()))?;
        file.flush().await?;
        let file = file.into_inner();
        file.sync_all().await?;
        drop(file);
        let from = std::mem::take(&mut self.path);
        let dir = self.blobs.dir.clone();
        crate::blocking::run(move || {
            std::fs::rename(&from, &target).inspect_err(|_| {
                let _ = std::fs::remove_file(&from);
            })?;
            // The rename itself must survive a crash: the directory entry is data too.
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(())
        })
        .await
    }
}

impl Drop for FsUpload {
    fn drop(&mut self) {
        // An abandoned upload (a failed check, a client gone) leaves nothing behind.
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
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
