//! `CodeUri` folders → zip archives that depend only on the files' paths, bytes and executable
//! bits (sorted entries, a fixed timestamp), so an unchanged folder gives the same SHA-256 and a
//! redeploy leaves its function alone.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// Folders never packaged.
const SKIP: &[&str] = &[
    "__pycache__",
    ".git",
    ".aws-sam",
    ".nubo",
    ".pytest_cache",
    ".venv",
    ".DS_Store",
];

/// `(path in the archive, bytes, executable)` → a zip.
pub(crate) fn zip_files(files: &[(String, Vec<u8>, bool)]) -> anyhow::Result<Vec<u8>> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut sorted: Vec<&(String, Vec<u8>, bool)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, bytes, executable) in sorted {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(if *executable { 0o755 } else { 0o644 });
        out.start_file(name.as_str(), options)?;
        out.write_all(bytes)?;
    }
    Ok(out.finish()?.into_inner())
}

/// Every file under `dir` (skipping [`SKIP`]), relative paths with `/`.
pub(crate) fn files_of(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if SKIP.iter().any(|s| name == *s) {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
                stack.push(path);
            } else if path.is_file() {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((relative, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Zips `dir`; the archive and its SHA-256 (hex).
#[cfg(test)]
pub(crate) fn zip_dir(dir: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    zip_dirs(&[dir.to_path_buf()])
}

/// Zips the union of `dirs`, a later folder's file winning over an earlier one's of the same path.
pub(crate) fn zip_dirs(dirs: &[PathBuf]) -> anyhow::Result<(Vec<u8>, String)> {
    let mut chosen: std::collections::BTreeMap<String, PathBuf> = std::collections::BTreeMap::new();
    for dir in dirs {
        if !dir.is_dir() {
            anyhow::bail!("CodeUri {} is not a folder", dir.display());
        }
        chosen.extend(files_of(dir)?);
    }
    let mut files = Vec::new();
    for (name, path) in chosen {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push((name, bytes, is_executable(&path)));
    }
    let zip = zip_files(&files)?;
    let sha = hex::encode(Sha256::digest(&zip));
    Ok((zip, sha))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_folder_zips_to_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): return 1\n").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/app.pyc"), "x").unwrap();
        let (a, sha_a) = zip_dir(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): return 1\n").unwrap();
        let (b, sha_b) = zip_dir(dir.path()).unwrap();
        assert_eq!((a, &sha_a), (b, &sha_b));
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): return 2\n").unwrap();
        assert_ne!(zip_dir(dir.path()).unwrap().1, sha_a);
    }

    #[test]
    fn later_folders_win() {
        let build = tempfile::tempdir().unwrap();
        let source = tempfile::tempdir().unwrap();
        std::fs::write(build.path().join("app.py"), "old").unwrap();
        std::fs::write(build.path().join("dep.py"), "dep").unwrap();
        std::fs::write(source.path().join("app.py"), "new").unwrap();
        let (zip, _) =
            zip_dirs(&[build.path().to_path_buf(), source.path().to_path_buf()]).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("app.py").unwrap(), &mut text).unwrap();
        assert_eq!(text, "new");
        assert!(archive.by_name("dep.py").is_ok());
    }
}
