//! How an execution environment's process is isolated.
//!
//! [`Sandbox`] is the seam. [`ProcessSandbox`] runs a plain child process in its own process group
//! (so a timeout kills everything it forked); on Linux, `NamespaceSandbox` (in `namespace.rs`)
//! puts each environment in its own user/pid/mount/network namespaces with a minimal read-only
//! root, a private `/tmp`, its Runtime API listening inside its own network ([`network`]), a
//! seccomp filter ([`seccomp`]), v1 cgroups for memory, pids and CPU and a freezer — whatever of
//! that the kernel grants when probed at start-up, with rlimits standing in for the cgroup pieces
//! it refuses.
//!
//! The namespace sandbox runs a small helper before the runtime: the `nubo` binary itself in its
//! `__sandbox-init` mode ([`init`]), a fresh single-threaded process that may do what a forked
//! child of the multi-threaded server may not (unshare, fork into the pid namespace, mount), then
//! execs the runtime.

#![allow(unsafe_code)] // kill(2), mount(2), unshare(2), fork(2) have no safe std wrappers.

mod cgroup;
#[cfg(target_os = "linux")]
pub mod init;
#[cfg(target_os = "linux")]
mod namespace;
pub mod network;
#[cfg(target_os = "linux")]
mod root_files;
#[cfg(target_os = "linux")]
mod seccomp;
pub mod template;

pub use cgroup::Cgroups;
#[cfg(target_os = "linux")]
pub use namespace::{NamespaceSandbox, SandboxOptions};
pub use network::{Control, FunctionNetwork, InsideListeners};
pub use template::{PendingFork, TemplateLaunch};

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

/// The first argument that puts the `nubo` binary in its sandbox helper mode.
pub const INIT_ARG: &str = "__sandbox-init";

/// Open files per environment, as on Lambda (`ulimit -n`; soft and hard limit).
pub const OPEN_FILES_MAX: u64 = 1024;

/// A host tree shown read-only inside the environment at a Lambda path (the runtime's SDK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The tree on the host.
    pub host: PathBuf,
    /// Where it appears inside a private root (absolute).
    pub inside: PathBuf,
}

/// What to run.
#[derive(Debug)]
pub struct SandboxSpec {
    /// The executable, as a path on the host.
    pub program: PathBuf,
    /// Arguments (host paths under `code_dir` or `runtime_dir` are translated by the sandbox).
    pub args: Vec<String>,
    /// The complete environment (nothing is inherited from Nubo's own).
    pub env: Vec<(String, String)>,
    /// The function's code tree on the host (also the working directory).
    pub code_dir: PathBuf,
    /// The runtime's own directory on the host (`LAMBDA_RUNTIME_DIR`: our bootstrap).
    pub runtime_dir: PathBuf,
    /// Further read-only trees, bound after the code and runtime (so a mount may sit inside
    /// `/var/runtime`, on an empty directory that is there for it). Only a sandbox with a private
    /// root shows them; without one the function reaches the host paths instead.
    pub mounts: Vec<Mount>,
    /// Symbolic links (path inside, target) made in a private root; ignored without one.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Memory in MB, for sandboxes that enforce it.
    pub memory_mb: u32,
    /// Size of the private `/tmp` in MB, for sandboxes that give one.
    pub ephemeral_mb: u32,
    /// The server's port: a sandbox with a private network serves the Nubo endpoint on it inside.
    pub endpoint_port: u16,
    /// Where stdout goes (the environment's log pipe).
    pub stdout: OwnedFd,
    /// Where stderr goes (the same pipe: Lambda logs both).
    pub stderr: OwnedFd,
    /// A template this runtime may be forked from instead ([`template`]); sandboxes without
    /// templates spawn `program`.
    pub template: Option<TemplateLaunch>,
}

/// Errors starting a sandboxed process.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The program does not exist or is not executable.
    #[error("cannot execute {program}: {source}")]
    Spawn {
        /// What we tried to run.
        program: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The environment's cgroups could not be set up.
    #[error("cannot set up the environment's cgroups: {0}")]
    Cgroup(std::io::Error),
}

/// A started environment process and the resources the sandbox gave it.
#[derive(Debug)]
pub struct Spawned {
    /// The process (for the namespace sandbox: the helper that waits for the runtime).
    pub child: tokio::process::Child,
    /// The environment's cgroups, when the sandbox has them.
    pub cgroups: Option<Arc<Cgroups>>,
    /// With a private network ([`Sandbox::private_network`]): where the listeners made inside
    /// arrive. Keep it as long as the environment lives: the helper ends it when this closes.
    pub control: Option<Control>,
    /// Set when the runtime is being forked from a template: complete it (after the listeners)
    /// for the runtime to start.
    pub fork: Option<PendingFork>,
}

/// Starts environment processes.
pub trait Sandbox: Send + Sync + 'static {
    /// One line describing the isolation this sandbox gives, printed at start.
    fn describe(&self) -> String;
    /// Starts the process.
    fn spawn(&self, spec: SandboxSpec) -> Result<Spawned, SandboxError>;
    /// True when the function sees Lambda's layout: the code at `/var/task`, the runtime at
    /// `/var/runtime`, each [`Mount`] at its `inside` path. False when it sees the host's paths.
    fn lambda_layout(&self) -> bool {
        false
    }
    /// True when each environment has a network namespace of its own: its Runtime API is
    /// [`network::RUNTIME_API_INSIDE`], the Nubo endpoint is `127.0.0.1:<endpoint_port>` inside,
    /// and [`Spawned::control`] brings the listeners for both.
    fn private_network(&self) -> bool {
        false
    }
}

/// Sets the per-environment rlimits every sandbox applies (async-signal-safe: one syscall).
pub(crate) fn set_open_files_limit() -> std::io::Result<()> {
    let value = libc::rlimit {
        rlim_cur: OPEN_FILES_MAX,
        rlim_max: OPEN_FILES_MAX,
    };
    // SAFETY: setrlimit(2) reads one struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &value) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A plain child process in its own process group, with Lambda's open-files limit.
///
/// No process limit: `RLIMIT_NPROC` counts every process of the server's uid, so 1024 would
/// starve a desktop user's functions of threads (and root ignores it); cgroups are the namespace
/// sandbox's business.
#[derive(Debug, Default)]
pub struct ProcessSandbox;

impl Sandbox for ProcessSandbox {
    fn describe(&self) -> String {
        format!(
            "plain child processes (own process group; RLIMIT_NOFILE {OPEN_FILES_MAX}; no namespaces, cgroups, seccomp or private /tmp; network: the host's, Runtime API on a host loopback port)"
        )
    }

    fn spawn(&self, spec: SandboxSpec) -> Result<Spawned, SandboxError> {
        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&spec.code_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(spec.stdout))
            .stderr(Stdio::from(spec.stderr))
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: the closure runs between fork and exec and makes one async-signal-safe call.
        unsafe {
            command.pre_exec(set_open_files_limit);
        }
        let child = command.spawn().map_err(|source| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source,
        })?;
        Ok(Spawned {
            child,
            cgroups: None,
            control: None,
            fork: None,
        })
    }
}

/// Kills a process group (the environment and everything it forked).
pub fn kill_process_group(pid: u32) {
    if pid == 0 || pid > i32::MAX as u32 {
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names a process group.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}
