//! Template processes: environments forked from an interpreter that has already started.
//!
//! A python environment spends most of its cold start before the handler is even looked at: the
//! interpreter starting and our bootstrap importing. A template is one such interpreter per
//! (interpreter, runtime directory), started once by the server, that has loaded the bootstrap
//! (`runtimes/python/template.py`) and waits on a socket. For each new environment:
//!
//! 1. the server starts the sandbox helper as for any environment, but with a *holding* plan
//!    ([`super::init`]): its child builds the namespaces, root, cgroups and network, then execs
//!    nothing; the helper hands the server an anchor socket and the child's namespaces;
//! 2. meanwhile the server sends the template a fresh socket ([`Templates::fork`]); the template
//!    forks at once and goes back to waiting. It never reads an environment's configuration
//!    (variables, credentials): only its fork does, so nothing of one function stays in the
//!    template's memory for the next to find;
//! 3. the server sends the fork the environment ([`PendingFork::complete`]): its log pipe, the
//!    anchor, the namespaces and a JSON document (cgroups, uid, rlimits, seccomp filter, working
//!    directory, variables, arguments). The fork joins the cgroups and the network, pid and mount
//!    namespaces as root, drops supplementary groups, enters the user namespace, becomes uid 993,
//!    lowers its rlimits, sets no-new-privileges and installs the same seccomp filter, then forks
//!    the runtime into the pid namespace and waits for it, reporting its wait status on the
//!    anchor (the holder passes it on as the helper's exit status). The runtime closes every
//!    other descriptor, takes the function's variables and runs the bootstrap's `main`.
//!
//! A template that is starting, failed to start, or died leaves the environment to the plain
//! spawn, so a template never makes a cold start fail; `--templates off` turns them off.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::network::{send_fds, Control};

/// How long a template that failed to start is not tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long a template may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start a template: the interpreter and its arguments (the template script).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateLaunch {
    /// The interpreter, by real path.
    pub program: PathBuf,
    /// Its arguments (host paths: the template runs on the host).
    pub args: Vec<String>,
}

/// A running template.
struct Running {
    child: Child,
    socket: UnixStream,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

enum Slot {
    Starting,
    Ready(Running),
    Failed(Instant),
}

/// The server's templates, started on first use.
#[derive(Default)]
pub struct Templates {
    slots: Mutex<HashMap<TemplateLaunch, Slot>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// Asks `launch`'s template for a fork; returns the server's end of the fork's socket. `None`
    /// while the template starts (this call starts it), after it failed, or if it died (the next
    /// call starts another): the caller spawns the environment plainly instead.
    pub fn fork(self: &Arc<Self>, launch: &TemplateLaunch) -> Option<UnixStream> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        match slots.get(launch) {
            Some(Slot::Ready(running)) => match request(running) {
                Ok(socket) => return Some(socket),
                Err(e) => {
                    tracing::warn!(program = %launch.program.display(), "template gone ({e}); starting another");
                }
            },
            Some(Slot::Starting) => return None,
            Some(Slot::Failed(at)) if at.elapsed() < RETRY_AFTER => return None,
            _ => {}
        }
        slots.insert(launch.clone(), Slot::Starting);
        drop(slots);
        let (templates, launch) = (self.clone(), launch.clone());
        std::thread::spawn(move || {
            let slot = match start(&launch) {
                Ok(running) => Slot::Ready(running),
                Err(e) => {
                    tracing::warn!(program = %launch.program.display(), "cannot start a template: {e}");
                    Slot::Failed(Instant::now())
                }
            };
            let mut slots = templates.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.insert(launch, slot);
        });
        None
    }
}

/// Sends the template one end of a fresh socket pair; it forks, and its fork reads from it.
fn request(running: &Running) -> std::io::Result<UnixStream> {
    let (ours, theirs) = UnixStream::pair()?;
    send_fds(running.socket.as_fd(), b"F", &[theirs.as_raw_fd()])?;
    Ok(ours)
}

fn start(launch: &TemplateLaunch) -> std::io::Result<Running> {
    let (ours, theirs) = UnixStream::pair()?;
    let child = Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        // Lambda's locale (en_US.UTF-8) may not exist here; this one always does.
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()?;
    let mut running = Running {
        child,
        socket: ours,
    };
    running.socket.set_read_timeout(Some(START_TIMEOUT))?;
    let mut ready = [0u8; 1];
    running.socket.read_exact(&mut ready)?;
    if ready[0] != b'R' {
        return Err(std::io::Error::other(
            "the template said something else than ready",
        ));
    }
    // A template that stops reading must not stall the server: requests fail instead.
    running
        .socket
        .set_write_timeout(Some(Duration::from_millis(500)))?;
    Ok(running)
}

/// What the template's fork needs to become the environment (serialized to it as JSON).
#[derive(Debug, Serialize)]
pub(crate) struct ForkSpec {
    /// `cgroup.procs` files to join (memory, pids, then the freezable group).
    pub(crate) cgroups: Vec<PathBuf>,
    /// The uid and gid inside the user namespace.
    pub(crate) uid: u32,
    /// (`resource` module name without `RLIMIT_`, limit): soft and hard.
    pub(crate) rlimits: Vec<(&'static str, u64)>,
    /// The seccomp filter as (code, jt, jf, k), or none.
    pub(crate) seccomp: Option<Vec<(u16, u8, u8, u32)>>,
    /// The working directory inside.
    pub(crate) cwd: PathBuf,
    /// The complete environment.
    pub(crate) env: HashMap<String, String>,
    /// The runtime's arguments as a plain start would get them (inside paths).
    pub(crate) args: Vec<String>,
    /// What the fork execs to wait for the runtime (the helper binary in its waiter mode), to
    /// which it appends the runtime's pid and the anchor's descriptor.
    pub(crate) waiter: Vec<String>,
}

/// An environment whose helper is holding it for a template's fork: what is left to send.
#[derive(Debug)]
pub struct PendingFork {
    pub(crate) socket: UnixStream,
    pub(crate) spec: Vec<u8>,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

impl PendingFork {
    /// Waits for the helper to hand the environment over, then sends the fork everything it
    /// needs to enter it.
    pub async fn complete(self, control: &Control) -> std::io::Result<()> {
        let held = control.held().await?;
        let mut fds = vec![self.stdout.as_raw_fd(), self.stderr.as_raw_fd()];
        fds.extend(held.iter().map(AsRawFd::as_raw_fd));
        // The fork reads at once; the document is a few KB (a socket buffer holds ~200 KB).
        send_fds(self.socket.as_fd(), &self.spec, &fds)
        // Dropping the socket ends the document.
    }
}

#[cfg(test)]
mod tests {
    use super::ForkSpec;

    const TEMPLATE: &str = include_str!("../../runtimes/python/template.py");

    #[test]
    fn the_template_reads_every_field_the_server_sends() {
        let spec = ForkSpec {
            cgroups: vec!["/sys/fs/cgroup/memory/x/cgroup.procs".into()],
            uid: 993,
            rlimits: vec![("NOFILE", 1024)],
            seccomp: Some(vec![(6, 0, 0, 0x7fff_0000)]),
            cwd: "/var/task".into(),
            env: [("A".to_owned(), "b".to_owned())].into(),
            args: vec!["-u".into(), "-S".into(), "/var/runtime/bootstrap.py".into()],
            waiter: vec![
                "/usr/bin/nubo".into(),
                "__sandbox-init".into(),
                "wait".into(),
            ],
        };
        let value = serde_json::to_value(&spec).unwrap();
        let fields = value.as_object().unwrap();
        assert_eq!(fields.len(), 8);
        for field in fields.keys() {
            let read = format!("spec[\"{field}\"]");
            let optional = format!("spec.get(\"{field}\")");
            assert!(
                TEMPLATE.contains(&read) || TEMPLATE.contains(&optional),
                "template.py never reads {field}"
            );
        }
        // Rlimits by the `resource` module's names; the seccomp program as plain tuples.
        assert_eq!(value["rlimits"][0][0], "NOFILE");
        assert_eq!(value["seccomp"][0][3], 0x7fff_0000);
    }
}
