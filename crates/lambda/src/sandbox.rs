//! How an execution environment's process is isolated.
//!
//! [`Sandbox`] is the seam: today [`ProcessSandbox`] runs a plain child process in its own process
//! group (so a timeout kills everything it forked); the namespace/cgroup sandbox implements the
//! same trait later and falls back to this one where the kernel refuses.

#![allow(unsafe_code)] // kill(2) on a process group has no safe std wrapper.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;

/// What to run.
#[derive(Debug)]
pub struct SandboxSpec {
    /// The executable.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// The complete environment (nothing is inherited from Nubo's own).
    pub env: Vec<(String, String)>,
    /// Working directory (the code tree).
    pub cwd: PathBuf,
    /// Memory in MB, for sandboxes that enforce it.
    pub memory_mb: u32,
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
}

/// Starts environment processes.
pub trait Sandbox: Send + Sync + 'static {
    /// One line describing the isolation this sandbox gives, printed at start.
    fn describe(&self) -> String;
    /// Starts the process.
    fn spawn(&self, spec: SandboxSpec) -> Result<tokio::process::Child, SandboxError>;
}

/// A plain child process in its own process group; no resource limits.
#[derive(Debug, Default)]
pub struct ProcessSandbox;

impl Sandbox for ProcessSandbox {
    fn describe(&self) -> String {
        "plain child processes (own process group; no namespaces or cgroups yet)".into()
    }

    fn spawn(&self, spec: SandboxSpec) -> Result<tokio::process::Child, SandboxError> {
        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(spec.stdout))
            .stderr(Stdio::from(spec.stderr))
            .process_group(0)
            .kill_on_drop(true);
        command.spawn().map_err(|source| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source,
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
