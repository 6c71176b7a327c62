//! Content-addressed function code: `code/sha256/<hex>.zip` and its unpacked tree `code/sha256/<hex>/`.
//!
//! The same zip uploaded twice is stored once; its tree is unpacked once, made read-only and shared by
//! every environment running that code.

use std::io::{Cursor, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::StoreError;

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

/// The code directory of a data dir.
#[derive(Debug, Clone)]
pub struct CodeStore {
    root: PathBuf,
}

impl CodeStore {
    /// Uses `<data_dir>/code/sha256`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let root = data_dir.join("code").join("sha256");
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// The unpacked, read-only tree of an artifact.
    pub fn tree(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(sha256_hex)
    }

    /// The zip file of an artifact.
    pub fn zip_path(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(format!("{sha256_hex}.zip"))
    }

    /// Validates, stores and unpacks a zip; idempotent for identical content.
    pub fn put_zip(&self, zip: &[u8]) -> Result<CodeArtifact, StoreError> {
        let digest = Sha256::digest(zip);
        let artifact = CodeArtifact {
            sha256_hex: hex::encode(digest),
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            size: zip.len() as u64,
        };
        let tree = self.tree(&artifact.sha256_hex);
        if tree.is_dir() && self.zip_path(&artifact.sha256_hex).is_file() {
            return Ok(artifact);
        }
        // Unpack into a private temporary directory first, then rename into place, so a crash or a
        // concurrent upload of the same zip never leaves a half-written tree at the final path.
        let staging = self.root.join(format!(".staging-{}", uuid_like()));
        let result = unpack(zip, &staging).and_then(|()| {
            write_atomically(&self.zip_path(&artifact.sha256_hex), zip)?;
            match std::fs::rename(&staging, &tree) {
                Ok(()) => Ok(()),
                // Someone else finished the same content first; theirs is identical.
                Err(_) if tree.is_dir() => Ok(()),
                Err(e) => Err(e.into()),
            }
        });
        if staging.exists() {
            let _ = remove_tree(&staging);
        }
        result.map(|()| artifact)
    }

    /// Reads a stored zip back (for GetFunction's `Code.Location`).
    pub fn read_zip(&self, sha256_hex: &str) -> Result<Vec<u8>, StoreError> {
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(format!("code {sha256_hex}")));
        }
        std::fs::read(self.zip_path(sha256_hex)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(format!("code {sha256_hex}")),
            _ => e.into(),
        })
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension(format!("tmp-{}", uuid_like()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
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

    #[test]
    fn stores_once_unpacks_read_only_and_keeps_exec_bits() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        let zip = zip_of(&[
            ("bootstrap", "#!/bin/sh\n", 0o755),
            ("lib/data.txt", "x", 0o644),
        ]);
        let a = store.put_zip(&zip).unwrap();
        let b = store.put_zip(&zip).unwrap();
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
        assert_eq!(store.read_zip(&a.sha256_hex).unwrap(), zip);
        remove_tree(dir.path()).unwrap();
    }

    #[test]
    fn rejects_garbage_and_traversal() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        assert!(matches!(
            store.put_zip(b"not a zip"),
            Err(StoreError::InvalidZip(_))
        ));
        let evil = zip_of(&[("../escape.txt", "x", 0o644)]);
        assert!(matches!(
            store.put_zip(&evil),
            Err(StoreError::InvalidZip(_))
        ));
        assert!(!dir.path().join("code/escape.txt").exists());
        assert!(matches!(
            store.read_zip("../../etc/passwd"),
            Err(StoreError::NotFound(_))
        ));
    }
}
