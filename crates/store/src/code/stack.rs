//! Layer stacks: the `/opt` a function with layers sees, its layers' trees merged in order (a
//! later layer's file replaces an earlier one's, as Lambda extracts them one over the other).
//!
//! A stack is built once per list of layer versions, from hard links to the layers' read-only
//! trees (no bytes copied; a copy where links fail), renamed into place whole, and shared by every
//! environment whose function names the same layers in the same order. One layer needs no stack:
//! its own tree is the stack.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{remove_tree, walk, CodeStore};
use crate::blobs::unique_suffix;
use crate::StoreError;

impl CodeStore {
    /// Where the stacks live: beside the trees, not among them (the sweep of `sha256/` leaves them).
    fn stacks(&self) -> PathBuf {
        self.root.parent().unwrap_or(&self.root).join("stacks")
    }

    /// The merged, read-only tree of the layers whose zips have these hex SHA-256s, in order:
    /// built on first use, then found on disk. `None` for no layers.
    pub async fn stack(&self, layers: &[String]) -> Result<Option<PathBuf>, StoreError> {
        match layers {
            [] => return Ok(None),
            [one] => return Ok(Some(self.tree(one))),
            _ => {}
        }
        let trees: Vec<PathBuf> = layers.iter().map(|sha| self.tree(sha)).collect();
        let key = hex::encode(Sha256::digest(layers.join(",").as_bytes()));
        let stacks = self.stacks();
        crate::blocking::run(move || {
            let target = stacks.join(&key);
            if target.is_dir() {
                return Ok(Some(target));
            }
            std::fs::create_dir_all(&stacks)?;
            let staging = stacks.join(format!(".staging-{}", unique_suffix()));
            let built = build(&trees, &staging).and_then(|()| {
                match std::fs::rename(&staging, &target) {
                    Ok(()) => Ok(()),
                    // Another environment built the same stack first; theirs is identical.
                    Err(_) if target.is_dir() => Ok(()),
                    Err(e) => Err(e.into()),
                }
            });
            if staging.exists() {
                let _ = remove_tree(&staging);
            }
            built.map(|()| Some(target))
        })
        .await
    }
}

fn build(trees: &[PathBuf], into: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(into)?;
    for tree in trees {
        if !tree.is_dir() {
            return Err(StoreError::NotFound(format!(
                "layer tree {}",
                tree.display()
            )));
        }
        for dir in walk(tree) {
            let Ok(relative) = dir.strip_prefix(tree) else {
                continue;
            };
            let target_dir = into.join(relative);
            if target_dir.is_file() {
                std::fs::remove_file(&target_dir)?;
            }
            std::fs::create_dir_all(&target_dir)?;
            for entry in std::fs::read_dir(&dir)?.flatten() {
                if entry.file_type()?.is_dir() {
                    continue;
                }
                let target = target_dir.join(entry.file_name());
                if target.is_dir() {
                    remove_tree(&target)?;
                } else if target.symlink_metadata().is_ok() {
                    std::fs::remove_file(&target)?;
                }
                if std::fs::hard_link(entry.path(), &target).is_err() {
                    std::fs::copy(entry.path(), &target)?;
                }
            }
        }
    }
    for dir in walk(into).iter().rev() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use bytes::Bytes;

    use super::*;

    fn zip(files: &[(&str, &str)]) -> Bytes {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        for (name, body) in files {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(body.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        Bytes::from(out.into_inner())
    }

    #[tokio::test]
    async fn later_layers_win_and_stacks_are_shared() {
        let dir = tempfile::tempdir().unwrap();
        let code = CodeStore::open(dir.path()).unwrap();
        let a = code
            .put_zip(zip(&[("python/a.py", "A"), ("python/both.py", "from a")]))
            .await
            .unwrap();
        let b = code
            .put_zip(zip(&[("python/b.py", "B"), ("python/both.py", "from b")]))
            .await
            .unwrap();
        assert_eq!(code.stack(&[]).await.unwrap(), None);
        assert_eq!(
            code.stack(std::slice::from_ref(&a.sha256_hex))
                .await
                .unwrap(),
            Some(code.tree(&a.sha256_hex))
        );
        let shas = [a.sha256_hex.clone(), b.sha256_hex.clone()];
        let stack = code.stack(&shas).await.unwrap().unwrap();
        let read = |p: &str| std::fs::read_to_string(stack.join(p)).unwrap();
        assert_eq!(read("python/a.py"), "A");
        assert_eq!(read("python/b.py"), "B");
        assert_eq!(read("python/both.py"), "from b");
        assert_eq!(code.stack(&shas).await.unwrap().unwrap(), stack);
        // The sweep of unreferenced code leaves stacks alone.
        let referenced = shas.iter().cloned().collect();
        code.sweep(referenced).await.unwrap();
        assert!(stack.join("python/a.py").exists());
    }
}
