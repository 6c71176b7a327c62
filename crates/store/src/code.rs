//! Content-addressed function code: the zip in [`Blobs`] under its hex SHA-256 (the embedded
//! backend keeps it at `code/sha256/<hex>.zip`), and its unpacked tree at `code/sha256/<hex>/`.
//!
//! The same zip uploaded twice is stored once; its tree is unpacked once, made read-only and shared by
//! every environment running that code. Trees are always local: environments run from them.

use std::io::{Cursor, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::blobs::unique_suffix;
use crate::{Blobs, FsBlobs, StoreError};

/// AWS's limit on the unzipped size of a function (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// A stored code package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeArtifact {
    /// Hex SHA-256 of the zip: the content address.
    pub sha256_hex: String,
    /// Base64 SHA-256 of the zip: Lambda's `CodeSha256`.
    pub sha256_base64: String,
    /// Size of the zip in bytes: Lambda's `CodeSize`.
    pub size: u64,
}

/// Function code: zips in a blob store, unpacked trees in a local directory.
#[derive(Clone)]
pub struct CodeStore {
    root: PathBuf,
    zips: Arc<dyn Blobs>,
}

impl std::fmt::Debug for CodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeStore")
            .field("root", &self.root)
            .finish()
    }
}

impl CodeStore {
    /// The code directory of a data dir: trees and zips in `<data_dir>/code/sha256`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let root = Self::directory(data_dir);
        let zips = FsBlobs::open(&root, ".zip")?;
        Self::with_blobs(data_dir, Arc::new(zips))
    }

    /// Trees in `<data_dir>/code/sha256`, zips in `zips`.
    pub fn with_blobs(data_dir: &Path, zips: Arc<dyn Blobs>) -> Result<Self, StoreError> {
        let root = Self::directory(data_dir);
        std::fs::create_dir_all(&root)?;
        Ok(Self { root, zips })
    }

    /// Where a data dir keeps code (the embedded blob store puts zips there too).
    pub fn directory(data_dir: &Path) -> PathBuf {
        data_dir.join("code").join("sha256")
    }

    /// The unpacked, read-only tree of an artifact.
    pub fn tree(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(sha256_hex)
    }

    /// Validates, stores and unpacks a zip; idempotent for identical content.
    pub async fn put_zip(&self, zip: Bytes) -> Result<CodeArtifact, StoreError> {
        let digest = Sha256::digest(&zip);
        let artifact = CodeArtifact {
            sha256_hex: hex::encode(digest),
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            size: zip.len() as u64,
        };
        let tree = self.tree(&artifact.sha256_hex);
        let unpacked = {
            let tree = tree.clone();
            crate::blocking::run(move || Ok(tree.is_dir())).await?
        };
        if unpacked && self.zips.contains(&artifact.sha256_hex).await? {
            return Ok(artifact);
        }
        // Unpack into a private temporary directory first, then rename into place, so a crash or a
        // concurrent upload of the same zip never leaves a half-written tree at the final path.
        let staging = self.root.join(format!(".staging-{}", unique_suffix()));
        let unpacking = {
            let (zip, staging) = (zip.clone(), staging.clone());
            crate::blocking::run(move || unpack(&zip, &staging)).await
        };
        let stored = match unpacking {
            Ok(()) => self.zips.put(&artifact.sha256_hex, zip).await,
            Err(e) => Err(e),
        };
        crate::blocking::run(move || {
            let placed = stored.and_then(|()| match std::fs::rename(&staging, &tree) {
                Ok(()) => Ok(()),
                // Someone else finished the same content first; theirs is identical.
                Err(_) if tree.is_dir() => Ok(()),
                Err(e) => Err(e.into()),
            });
            if staging.exists() {
                let _ = remove_tree(&staging);
            }
            placed
        })
        .await?;
        Ok(artifact)
    }

    /// Reads a stored zip back (for GetFunction's `Code.Location`).
    pub async fn read_zip(&self, sha256_hex: &str) -> Result<Bytes, StoreError> {
        let not_found = || StoreError::NotFound(format!("code {sha256_hex}"));
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        self.zips.get(sha256_hex).await?.ok_or_else(not_found)
    }
}

fn remove_tree(path: &Path) -> std::io::Result<()> {
    // Read-only directories must be made writable again before their entries can be removed.
    for entry in walk(path) {
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755));
    }
    std::fs::remove_dir_all(path)
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            for entry in entries.flatten() {
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    out.push(entry.path());
                }
            }
        }
        i += 1;
    }
    out
}

fn unpack(zip: &[u8], into: &Path) -> Result<(), StoreError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))
        .map_err(|e| StoreError::InvalidZip(e.to_string()))?;
    let declared: u64 = (0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum();
    if declared > MAX_UNZIPPED_BYTES {
        return Err(StoreError::UnzippedTooLarge {
            limit: MAX_UNZIPPED_BYTES,
        });
    }
    std::fs::create_dir_all(into)?;
    let mut written: u64 = 0;
    let mut dirs = vec![into.to_path_buf()];
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| StoreError::InvalidZip(e.to_string()))?;
        // `enclosed_name` refuses absolute paths and `..`: a zip cannot write outside its tree.
        let Some(relative) = file.enclosed_name() else {
            return Err(StoreError::InvalidZip(format!(
                "unsafe path in archive: {}",
                file.name()
            )));
        };
        let target = into.join(relative);
        if file.is_dir() {
            std::fs::create_dir_all(&target)?;
            dirs.push(target);
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
            dirs.push(parent.to_path_buf());
        }
        let mut bytes = Vec::with_capacity(file.size().min(MAX_UNZIPPED_BYTES) as usize);
        // Bound by the limit, not by the size the archive declares: a zip can lie about sizes.
        (&mut file)
            .take(MAX_UNZIPPED_BYTES - written + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| StoreError::InvalidZip(e.to_string()))?;
        written += bytes.len() as u64;
        if written > MAX_UNZIPPED_BYTES {
            return Err(StoreError::UnzippedTooLarge {
                limit: MAX_UNZIPPED_BYTES,
            });
        }
        std::fs::write(&target, &bytes)?;
        let executable = file.unix_mode().is_some_and(|m| m & 0o111 != 0);
        std::fs::set_permissions(
            &target,
            std::fs::Permissions::from_mode(if executable { 0o555 } else { 0o444 }),
        )?;
    }
    dirs.sort();
    dirs.dedup();
    for dir in dirs.iter().rev() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &str, u32)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body, mode) in files {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            w.start_file(*name, options).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[tokio::test]
    async fn stores_once_unpacks_read_only_and_keeps_exec_bits() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        let zip = zip_of(&[
            ("bootstrap", "#!/bin/sh\n", 0o755),
            ("lib/data.txt", "x", 0o644),
        ]);
        let zip = Bytes::from(zip);
        let a = store.put_zip(zip.clone()).await.unwrap();
        let b = store.put_zip(zip.clone()).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.size, zip.len() as u64);
        let tree = store.tree(&a.sha256_hex);
        let mode = |p: &str| {
            std::fs::metadata(tree.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("bootstrap"), 0o555);
        assert_eq!(mode("lib/data.txt"), 0o444);
        assert_eq!(store.read_zip(&a.sha256_hex).await.unwrap(), zip);
        assert!(dir
            .path()
            .join(format!("code/sha256/{}.zip", a.sha256_hex))
            .is_file());
        remove_tree(dir.path()).unwrap();
    }

    #[tokio::test]
    async fn rejects_garbage_and_traversal() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        assert!(matches!(
            store.put_zip(Bytes::from_static(b"not a zip")).await,
            Err(StoreError::InvalidZip(_))
        ));
        let evil = zip_of(&[("../escape.txt", "x", 0o644)]);
        assert!(matches!(
            store.put_zip(Bytes::from(evil)).await,
            Err(StoreError::InvalidZip(_))
        ));
        assert!(!dir.path().join("code/escape.txt").exists());
        assert!(matches!(
            store.read_zip("../../etc/passwd").await,
            Err(StoreError::NotFound(_))
        ));
    }
}
