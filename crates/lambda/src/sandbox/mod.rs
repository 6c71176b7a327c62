//! How an execution environment's process is isolated.
//!
//! [`Sandbox`] is the seam. [`ProcessSandbox`] runs a plain child process in its own process group
//! (so a timeout kills everything it forked); on Linux, `NamespaceSandbox` (in `namespace.rs`)
//! puts each environment in its own user/pid/mount namespaces with a minimal read-only root, a
//! private `/tmp` and v1 cgroups for memory, pids and CPU — whatever of that the kernel grants when
//! probed at start-up, with rlimits standing in for the cgroup pieces it refuses.
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

pub use cgroup::Cgroups;
#[cfg(target_os = "linux")]
pub use namespace::{NamespaceSandbox, SandboxOptions};

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

/// The first argument that puts the `nubo` binary in its sandbox helper mode.
pub const INIT_ARG: &str = "__sandbox-init";

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
    /// Our runtime bootstraps on the host.
    pub runtime_dir: PathBuf,
    /// Memory in MB, for sandboxes that enforce it.
    pub memory_mb: u32,
    /// Size of the private `/tmp` in MB, for sandboxes that give one.
    pub ephemeral_mb: u32,
    /// Where stdout goes (the environment's log pipe).
    pub stdout: OwnedFd,
    /// Where stderr goes (the same pipe: Lambda logs both).
    pub stderr: OwnedFd,
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
}

/// Starts environment processes.
pub trait Sandbox: Send + Sync + 'static {
    /// One line describing the isolation this sandbox gives, printed at start.
    fn describe(&self) -> String;
    /// Starts the process.
    fn spawn(&self, spec: SandboxSpec) -> Result<Spawned, SandboxError>;
    /// Where the code tree at `code_dir` appears to the function (`LAMBDA_TASK_ROOT`).
    fn task_root(&self, code_dir: &Path) -> PathBuf {
        code_dir.to_path_buf()
    }
    /// Where our bootstraps at `runtime_dir` appear to the function (`LAMBDA_RUNTIME_DIR`).
    fn runtime_root(&self, runtime_dir: &Path) -> PathBuf {
        runtime_dir.to_path_buf()
    }
}

/// A plain child process in its own process group; no resource limits.
#[derive(Debug, Default)]
pub struct ProcessSandbox;

impl Sandbox for ProcessSandbox {
    fn describe(&self) -> String {
        "plain child processes (own process group; no namespaces, cgroups or private /tmp)".into()
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
        let child = command.spawn().map_err(|source| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source,
        })?;
        Ok(Spawned {
            child,
            cgroups: None,
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
