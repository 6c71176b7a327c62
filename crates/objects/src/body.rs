//! Bodies in and out: a [`BodySource`] is what a write reads from (the edge's request body with
//! its signature and checksum checks, or another object for a copy); an [`ObjectBody`] is what a
//! read hands out, piece by piece.

use std::collections::VecDeque;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::{new_blob_key, ObjectError, ObjectStore};

/// Bytes to store, piece by piece. `Ok(None)` is a clean end: every check the source makes (a
/// payload hash, chunk signatures, a checksum trailer) has passed; an error at any point, the
/// last one included, means nothing is stored.
#[async_trait]
pub trait BodySource: Send {
    /// The next piece, or `None` at a clean end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ObjectError>;
}

/// How much one read of an object hands out.
const READ_PIECE: usize = 256 * 1024;

/// An object's bytes (or a range of them), read piece by piece. Every blob is already open.
pub struct ObjectBody {
    readers: VecDeque<Pin<Box<dyn AsyncRead + Send>>>,
    remaining: u64,
}

impl std::fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBody")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl ObjectBody {
    pub(crate) fn new(readers: VecDeque<Pin<Box<dyn AsyncRead + Send>>>, length: u64) -> Self {
        Self {
            readers,
            remaining: length,
        }
    }

    /// Bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The next piece; `None` at the end.
    pub async fn next_piece(&mut self) -> Result<Option<Bytes>, ObjectError> {
        while let Some(reader) = self.readers.front_mut() {
            let mut buf = BytesMut::with_capacity(READ_PIECE);
            let n = reader
                .read_buf(&mut buf)
                .await
                .map_err(nubo_store::StoreError::from)?;
            if n == 0 {
                self.readers.pop_front();
                continue;
            }
            self.remaining = self.remaining.saturating_sub(n as u64);
            return Ok(Some(buf.freeze()));
        }
        if self.remaining > 0 {
            return Err(ObjectError::Store(nubo_store::StoreError::Backend(
                "object data ended early".into(),
            )));
        }
        Ok(None)
    }
}

#[async_trait]
impl BodySource for ObjectBody {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ObjectError> {
        self.next_piece().await
    }
}

/// A blob written from a source: its key, size and MD5.
pub(crate) struct Written {
    pub(crate) blob: String,
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
}

impl ObjectStore {
    /// Streams `source` into a new blob (at most `limit` bytes), checks `content_md5`, publishes.
    pub(crate) async fn write_blob(
        &self,
        source: &mut dyn BodySource,
        limit: u64,
        content_md5: Option<[u8; 16]>,
    ) -> Result<Written, ObjectError> {
        let mut upload = self.blobs.upload().await?;
        let mut md5 = Md5::new();
        while let Some(piece) = source.next_chunk().await? {
            if upload.written() + piece.len() as u64 > limit {
                return Err(ObjectError::EntityTooLarge);
            }
            md5.update(&piece);
            upload.write(&piece).await?;
        }
        let md5: [u8; 16] = md5.finalize().into();
        if content_md5.is_some_and(|expected| expected != md5) {
            return Err(ObjectError::BadDigest);
        }
        let size = upload.written();
        let blob = new_blob_key();
        upload.publish(&blob).await?;
        Ok(Written { blob, size, md5 })
    }
}
