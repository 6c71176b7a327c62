//! Files the sandbox writes once at start-up (under its state dir) and binds over the host's in
//! every environment's root: the account files naming the sandbox user, and the resolver
//! configuration that points at slirp4netns.

use std::path::Path;

use super::init::Bind;
use super::namespace::UID_INSIDE;

/// The sandbox user's account entries, so `getpwuid` finds it (node's `os.homedir()` fails
/// without one; the SDK for JavaScript asks it for `~/.aws`). The home directory does not exist,
/// as on Lambda.
const PASSWD_ENTRY: &str = "sbx_user1051:x:993:993::/home/sbx_user1051:/sbin/nologin";
const GROUP_ENTRY: &str = "sbx_user1051:x:993:";

/// The host's `/etc/passwd` and `/etc/group` with the sandbox user in place of any host entry of
/// the same id, written under `state_dir` and bound over the originals inside.
pub(super) fn account_files(state_dir: &Path) -> std::io::Result<Vec<Bind>> {
    let dir = state_dir.join("etc");
    std::fs::create_dir_all(&dir)?;
    let mut binds = Vec::new();
    for (name, entry) in [("passwd", PASSWD_ENTRY), ("group", GROUP_ENTRY)] {
        let host = Path::new("/etc").join(name);
        let Ok(text) = std::fs::read_to_string(&host) else {
            continue;
        };
        let id = UID_INSIDE.to_string();
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|line| line.split(':').nth(2) != Some(id.as_str()))
            .collect();
        lines.push(entry);
        let path = dir.join(name);
        std::fs::write(&path, lines.join("\n") + "\n")?;
        binds.push(Bind {
            source: path,
            target: host,
            writable: false,
        });
    }
    Ok(binds)
}

/// slirp4netns answers DNS at 10.0.2.3, forwarding to the host's resolver — also one on the
/// host's loopback (systemd-resolved's 127.0.0.53), which the function cannot reach itself. Shown
/// over `/etc/resolv.conf` when the host's is a plain file (a symlink points out of the root).
pub(super) fn slirp_resolver(state_dir: &Path) -> std::io::Result<Option<Bind>> {
    let host = Path::new("/etc/resolv.conf");
    if !std::fs::symlink_metadata(host).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let dir = state_dir.join("etc");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("resolv.conf");
    std::fs::write(&path, "nameserver 10.0.2.3\n")?;
    Ok(Some(Bind {
        source: path,
        target: host.to_path_buf(),
        writable: false,
    }))
}
