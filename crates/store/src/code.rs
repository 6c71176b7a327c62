//! Content-addressed function code: the zip in [`Blobs`] under its hex SHA-256 (the embedded
//! backend keeps it at `code/sha256/<hex>.zip`), and its unpacked tree at `code/sha256/<hex>/`.
//!
//! The same zip uploaded twice is stored once; its tree is unpacked once, made read-only and shared by
//! every environment running that code. Trees are always local: environments run from them.

use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::blobs::unique_suffix;
use crate::{Blobs, FsBlobs, StoreError};

mod stack;

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
    /// What its entries declare unpacked (Lambda's 250 MB limit counts function + layers).
    pub unzipped_size: u64,
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
            unzipped_size: unzipped_size(&zip)?,
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

    /// Removes what no function refers to any more, at start-up (before anything is uploaded):
    /// trees and zips whose hex SHA-256 is not in `referenced`, and what an interrupted upload
    /// left behind (`.staging-*` trees, `*.tmp-*` zips). Returns how many entries went.
    pub async fn sweep(&self, referenced: HashSet<String>) -> Result<usize, StoreError> {
        let root = self.root.clone();
        let (leftovers, unreferenced) = crate::blocking::run(move || {
            let mut leftovers = Vec::new();
            let mut unreferenced = Vec::new();
            for entry in std::fs::read_dir(&root)?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".staging-") || name.contains(".tmp-") {
                    leftovers.push(entry.path());
                    continue;
                }
                let sha = name.strip_suffix(".zip").unwrap_or(&name);
                let is_code = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
                if is_code && !referenced.contains(sha) {
                    if entry.file_type()?.is_dir() {
                        leftovers.push(entry.path());
                    } else {
                        unreferenced.push(sha.to_owned());
                    }
                }
            }
            for path in &leftovers {
                if path.is_dir() {
                    remove_tree(path)?;
                } else {
                    std::fs::remove_file(path)?;
                }
            }
            Ok((leftovers.len(), unreferenced))
        })
        .await?;
        // Zips go through the blob store, whichever backend keeps them.
        let mut removed = leftovers;
        for sha in unreferenced {
            if self.zips.delete(&sha).await? {
                removed += 1;
            }
        }
        Ok(removed)
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

/// The bytes a zip's entries declare unpacked (what Lambda counts against its 250 MB); unpacking
/// checks the real sizes against the limit.
pub fn unzipped_size(zip: &[u8]) -> Result<u64, StoreError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))
        .map_err(|e| StoreError::InvalidZip(e.to_string()))?;
    Ok((0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum())
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
    check_paths(zip, &mut archive)?;
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

/// Refuses archives whose entries cannot all exist at once: the same file twice, or a file where
/// another entry needs a directory (`lib` and `lib/x.py`). Unpacking them would depend on entry
/// order (or fail half-way on a read-only file), so they are refused before anything is written.
fn check_paths(zip: &[u8], archive: &mut zip::ZipArchive<Cursor<&[u8]>>) -> Result<(), StoreError> {
    use std::path::Component;
    // The reader keeps one entry per name, so an archive naming a file twice shows fewer entries
    // than its central directory declares.
    let declared = declared_entries(zip);
    if declared.is_some_and(|n| n != archive.len()) {
        return Err(StoreError::InvalidZip(
            "the archive holds several entries with the same name".into(),
        ));
    }
    let mut files: HashSet<PathBuf> = HashSet::new();
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| StoreError::InvalidZip(e.to_string()))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(StoreError::InvalidZip(format!(
                "unsafe path in archive: {}",
                entry.name()
            )));
        };
        // `a/./b` and `a/b` are one path.
        let normal: PathBuf = relative
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if normal.as_os_str().is_empty() {
            continue;
        }
        let mut ancestor = normal.parent();
        while let Some(dir) = ancestor.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(dir.to_path_buf());
            ancestor = dir.parent();
        }
        if entry.is_dir() {
            dirs.insert(normal);
        } else if !files.insert(normal.clone()) {
            return Err(StoreError::InvalidZip(format!(
                "the archive holds {} twice",
                normal.display()
            )));
        }
    }
    if let Some(both) = files.iter().find(|f| dirs.contains(*f)) {
        return Err(StoreError::InvalidZip(format!(
            "the archive holds {} both as a file and as a directory",
            both.display()
        )));
    }
    Ok(())
}

/// The entry count of the end-of-central-directory record (`None` when it is not found, or is
/// the zip64 marker: such archives are not checked this way).
fn declared_entries(zip: &[u8]) -> Option<usize> {
    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const RECORD: usize = 22;
    let earliest = zip.len().saturating_sub(RECORD + usize::from(u16::MAX));
    let at = (earliest..=zip.len().checked_sub(RECORD)?)
        .rev()
        .find(|&i| zip[i..i + 4] == SIGNATURE)?;
    let total = u16::from_le_bytes([zip[at + 10], zip[at + 11]]);
    (total != u16::MAX).then_some(usize::from(total))
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

    fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = haystack.to_vec();
        let mut i = 0;
        while i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from {
                out[i..i + from.len()].copy_from_slice(to);
            }
            i += 1;
        }
        out
    }

    #[tokio::test]
    async fn refuses_archives_whose_paths_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        // The zip writer refuses a name twice; rename the second entry afterwards (same length).
        let twice = zip_of(&[("app.py", "a", 0o644), ("app.pz", "b", 0o644)]);
        let twice = String::from_utf8_lossy(&twice)
            .contains("app.pz")
            .then(|| replace_bytes(&twice, b"app.pz", b"app.py"))
            .unwrap();
        let result = store.put_zip(Bytes::from(twice)).await;
        assert!(
            matches!(result, Err(StoreError::InvalidZip(_))),
            "{result:?}"
        );
        for files in [
            vec![("lib", "a file", 0o644), ("lib/x.py", "x", 0o644)],
            vec![("lib/x.py", "x", 0o644), ("lib", "a file", 0o644)],
            vec![("a/./b.py", "x", 0o644), ("a/b.py", "y", 0o644)],
        ] {
            let result = store.put_zip(Bytes::from(zip_of(&files))).await;
            assert!(
                matches!(result, Err(StoreError::InvalidZip(_))),
                "{files:?}"
            );
        }
        // Nothing was left behind.
        let left: Vec<_> = std::fs::read_dir(CodeStore::directory(dir.path()))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let fine = zip_of(&[("lib/", "", 0o755), ("lib/x.py", "x", 0o644)]);
        store.put_zip(Bytes::from(fine)).await.unwrap();
    }

    #[tokio::test]
    async fn sweep_keeps_referenced_code_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::open(dir.path()).unwrap();
        let kept = store
            .put_zip(Bytes::from(zip_of(&[("a.py", "a", 0o644)])))
            .await
            .unwrap();
        let gone = store
            .put_zip(Bytes::from(zip_of(&[("b.py", "b", 0o644)])))
            .await
            .unwrap();
        let root = CodeStore::directory(dir.path());
        std::fs::create_dir_all(root.join(".staging-1-2-3/sub")).unwrap();
        std::fs::write(root.join(format!("{}.tmp-9-9-9", gone.sha256_hex)), b"half").unwrap();
        let removed = store
            .sweep(HashSet::from([kept.sha256_hex.clone()]))
            .await
            .unwrap();
        assert_eq!(
            removed, 4,
            "gone's tree and zip, the staging tree, the temporary zip"
        );
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [kept.sha256_hex.clone(), format!("{}.zip", kept.sha256_hex)]
        );
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
