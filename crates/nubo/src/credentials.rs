//! The administrator's key pair in the data dir, in the AWS CLI's own file formats:
//! `<data>/credentials` (shared-credentials format, profile `nubo`, mode 0600) written once when
//! `nubo serve` first starts, and `<data>/config` (profile `nubo` with `region` and
//! `endpoint_url`) rewritten at every start, since the port may change. Pointing
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` at them and choosing `AWS_PROFILE=nubo` is
//! all the AWS CLI and SDKs need. Nubo's own CLI reads the same file.

use std::io::Write;
use std::path::{Path, PathBuf};

use nubo_wire::sigv4::Credentials;

/// The profile Nubo writes.
pub const PROFILE: &str = "nubo";

/// `<data>/credentials`.
pub fn credentials_file(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials")
}

/// `<data>/config`.
pub fn config_file(data_dir: &Path) -> PathBuf {
    data_dir.join("config")
}

/// Writes `text` to `path` with mode 0600, atomically (a temporary file renamed into place).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Writes the administrator's key as profile [`PROFILE`].
pub fn write_credentials(data_dir: &Path, user: &str, key: &Credentials) -> std::io::Result<()> {
    let text = format!(
        "# Nubo's administrator (IAM user {user}, AdministratorAccess), created at first start.\n\
         # Keep this file private: the key can do anything on this server.\n\
         [{PROFILE}]\n\
         aws_access_key_id = {}\n\
         aws_secret_access_key = {}\n",
        key.access_key_id, key.secret_access_key
    );
    write_private(&credentials_file(data_dir), &text)
}

/// Writes profile [`PROFILE`]'s region and endpoint.
pub fn write_config(data_dir: &Path, region: &str, endpoint_url: &str) -> std::io::Result<()> {
    let text = format!(
        "# Written by `nubo serve` at every start.\n\
         [profile {PROFILE}]\n\
         region = {region}\n\
         endpoint_url = {endpoint_url}\n"
    );
    write_private(&config_file(data_dir), &text)
}

/// The key of `profile` in a shared-credentials file, if the file has one.
pub fn read_profile(path: &Path, profile: &str) -> Option<Credentials> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_profile = false;
    let (mut key_id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "aws_access_key_id" => key_id = Some(value.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    Some(Credentials {
        access_key_id: key_id?,
        secret_access_key: secret?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_credentials_read_back_and_stay_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = Credentials {
            access_key_id: "AKIAEXAMPLEEXAMPLE00".into(),
            secret_access_key: "secret/with+chars=".into(),
        };
        write_credentials(dir.path(), "admin", &key).unwrap();
        let path = credentials_file(dir.path());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let read = read_profile(&path, PROFILE).unwrap();
        assert_eq!(read.access_key_id, key.access_key_id);
        assert_eq!(read.secret_access_key, key.secret_access_key);
        assert!(read_profile(&path, "default").is_none());
        write_config(dir.path(), "us-east-1", "http://127.0.0.1:4750").unwrap();
        let config = std::fs::read_to_string(config_file(dir.path())).unwrap();
        assert!(config.contains(
            "[profile nubo]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:4750\n"
        ));
    }
}
