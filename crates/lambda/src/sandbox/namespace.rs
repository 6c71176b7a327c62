//! `NamespaceSandbox`: namespaces, a minimal root, a private `/tmp`, a network of its own, a
//! seccomp filter and cgroups — each piece probed once at start-up and kept only if the kernel
//! grants it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use super::cgroup::{CgroupRoots, PIDS_MAX};
use super::init::{Bind, Namespaces, Plan};
use super::network::{FunctionNetwork, NetPlan, Stack, StackKind, RUNTIME_API_INSIDE};
use super::root_files::{account_files, slirp_resolver};
use super::template::{ForkSpec, PendingFork, Templates};
use super::{
    Control, Mount, Sandbox, SandboxError, SandboxSpec, Spawned, INIT_ARG, OPEN_FILES_MAX,
};

/// Where the function's code appears inside the sandbox (as on Lambda).
pub(crate) const TASK_ROOT: &str = "/var/task";
/// Where the runtime's directory (our bootstrap) appears inside the sandbox (as on Lambda).
pub(crate) const RUNTIME_ROOT: &str = "/var/runtime";
/// The uid/gid a function runs as inside its user namespace (Lambda's `sbx_user1051`).
pub(super) const UID_INSIDE: u32 = 993;
/// What that uid is outside: nobody.
const UID_OUTSIDE: u32 = 65534;
/// Host directories every runtime needs, bound read-only (or re-created as symlinks).
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// What `NamespaceSandbox::probe` needs from the composition root.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The `nubo` binary, run in its `__sandbox-init` mode.
    pub helper: PathBuf,
    /// A directory of the server's own (under the data dir) for the sandbox's mount point.
    pub state_dir: PathBuf,
    /// What functions' network reaches (`--function-network`).
    pub network: FunctionNetwork,
    /// Where to look for the user-mode network stacks (`slirp4netns`, `pasta`): the `PATH`.
    pub tool_path: Option<OsString>,
    /// Fork python environments from templates (`--templates`), when the namespaces allow it.
    pub templates: bool,
}

/// The network environments get.
#[derive(Debug, Clone, Default)]
struct Network {
    /// Each environment in a network namespace of its own.
    private: bool,
    /// The user-mode stack attached to it, for outbound traffic.
    stack: Option<Stack>,
    /// What the start-up line says about it.
    description: String,
}

/// Environments in their own namespaces and cgroups, as far as the kernel allows.
#[derive(Debug)]
pub struct NamespaceSandbox {
    helper: PathBuf,
    root: PathBuf,
    namespaces: Namespaces,
    cgroups: CgroupRoots,
    system_binds: Vec<Bind>,
    symlinks: Vec<(PathBuf, PathBuf)>,
    network: Network,
    seccomp: bool,
    /// Runtimes forked from templates (user, pid and mount namespaces needed).
    templates: Option<Arc<Templates>>,
    description: String,
}

impl Drop for NamespaceSandbox {
    fn drop(&mut self) {
        self.cgroups.remove();
    }
}

impl NamespaceSandbox {
    /// Tries each piece once and keeps what works. Blocking (runs a few `true`s); call at start.
    pub fn probe(options: SandboxOptions) -> std::io::Result<Self> {
        let root = options.state_dir.join("root");
        std::fs::create_dir_all(&root)?;
        let probe_task = options.state_dir.join("probe-task");
        std::fs::create_dir_all(&probe_task)?;
        let mut system_binds = Vec::new();
        let mut symlinks = Vec::new();
        for dir in SYSTEM_DIRS {
            let path = Path::new(dir);
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(path) {
                        symlinks.push((path.to_path_buf(), target));
                    }
                }
                Ok(meta) if meta.is_dir() => system_binds.push(Bind {
                    source: path.to_path_buf(),
                    target: path.to_path_buf(),
                    writable: false,
                }),
                _ => {}
            }
        }
        let (cgroups, refused) = CgroupRoots::probe();
        let mut sandbox = Self {
            helper: options.helper.clone(),
            root,
            namespaces: Namespaces::default(),
            cgroups,
            system_binds,
            symlinks,
            network: Network::default(),
            seccomp: false,
            templates: None,
            description: String::new(),
        };
        let candidates = [
            (true, true, true),
            (false, true, true),
            (true, false, true),
            (false, false, true),
            (true, true, false),
            (false, true, false),
        ];
        let mut failures = Vec::new();
        let truth = std::fs::canonicalize("/bin/true").unwrap_or_else(|_| "/bin/true".into());
        for (user, pid, mount) in candidates {
            let namespaces = Namespaces { user, pid, mount };
            let plan = sandbox.probe_plan(namespaces, &truth, &probe_task);
            match sandbox.try_plan(&plan) {
                Ok(()) => {
                    sandbox.namespaces = namespaces;
                    if user && mount {
                        sandbox
                            .system_binds
                            .extend(account_files(&options.state_dir)?);
                    }
                    break;
                }
                Err(e) => failures.push(format!("{}: {e}", namespaces.names())),
            }
        }
        let mut refused = refused;
        sandbox.network = sandbox.probe_network(&options, &truth, &probe_task, &mut refused);
        let slirp = sandbox
            .network
            .stack
            .as_ref()
            .is_some_and(|s| s.kind == StackKind::Slirp4netns);
        if slirp && sandbox.namespaces.mount {
            sandbox
                .system_binds
                .extend(slirp_resolver(&options.state_dir)?);
        }
        let mut plan = sandbox.probe_plan(sandbox.namespaces, &truth, &probe_task);
        plan.seccomp = true;
        match sandbox.try_plan(&plan) {
            Ok(()) => sandbox.seccomp = true,
            Err(e) => refused.push(format!("seccomp: {e}")),
        }
        let all = Namespaces {
            user: true,
            pid: true,
            mount: true,
        };
        if options.templates && sandbox.namespaces == all {
            sandbox.templates = Some(Arc::new(Templates::default()));
        }
        sandbox.description = sandbox.describe_pieces(&refused, &failures);
        Ok(sandbox)
    }

    /// A network namespace, then the stack for `options.network` (the first candidate that
    /// works); what is refused goes to `refused` and the description says what it means.
    fn probe_network(
        &self,
        options: &SandboxOptions,
        truth: &Path,
        task: &Path,
        refused: &mut Vec<String>,
    ) -> Network {
        let host = |why: String| {
            Network {
            private: false,
            stack: None,
            description: format!(
                "network: the host's{why}; Runtime API on a host loopback port any local process can reach"
            ),
        }
        };
        if options.network == FunctionNetwork::Host {
            return host(" (--function-network host)".into());
        }
        let mut plan = self.probe_plan(self.namespaces, truth, task);
        plan.net = Some(NetPlan::for_endpoint(0, None));
        if let Err(e) = self.try_plan(&plan) {
            refused.push(format!("net: {e}"));
            return host(" (no network namespace)".into());
        }
        let inside = format!("own namespace per environment, Runtime API at {RUNTIME_API_INSIDE} inside, the Nubo endpoint at AWS_ENDPOINT_URL");
        if options.network == FunctionNetwork::None {
            return Network {
                private: true,
                stack: None,
                description: format!("network: {inside}; nothing else (--function-network none)"),
            };
        }
        let candidates = Stack::candidates(options.network, options.tool_path.as_deref());
        let mut failures = Vec::new();
        for stack in candidates {
            let mut plan = self.probe_plan(self.namespaces, truth, task);
            plan.net = Some(NetPlan::for_endpoint(0, Some(stack.clone())));
            match self.try_plan(&plan) {
                Ok(()) => {
                    // Said once at start: a better stack was there but did not work.
                    refused.extend(failures);
                    return Network {
                        private: true,
                        description: format!("network: {inside}; {}", stack.describe()),
                        stack: Some(stack),
                    };
                }
                Err(e) => failures.push(format!("{}: {e}", stack.program.display())),
            }
        }
        let why = if failures.is_empty() {
            "neither slirp4netns nor pasta is installed (Debian: apt-get install slirp4netns passt)"
                .to_owned()
        } else {
            failures.join("; ")
        };
        refused.push(format!("outbound: {why}"));
        Network {
            private: true,
            stack: None,
            description: format!(
                "network: {inside}; NO outbound network ({} asked, but {why})",
                options.network.name()
            ),
        }
    }

    /// A plan that runs `program` (`/bin/true`) with `namespaces`, for probing.
    fn probe_plan(&self, namespaces: Namespaces, program: &Path, task: &Path) -> Plan {
        let what = Launch {
            program,
            args: &[],
            code_dir: task,
            runtime_dir: task,
            mounts: &[],
            links: &[],
        };
        self.plan(namespaces, &what, 1, None)
    }

    fn try_plan(&self, plan: &Plan) -> Result<(), String> {
        let output = std::process::Command::new(&self.helper)
            .arg(INIT_ARG)
            .arg(serde_json::to_string(plan).map_err(|e| e.to_string())?)
            .env_clear()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    fn describe_pieces(&self, refused: &[String], failures: &[String]) -> String {
        let mut names = self.namespaces.names();
        if self.network.private {
            names.push_str(",net");
        }
        let mut parts = vec![format!("namespaces: {names}")];
        if self.namespaces.mount {
            parts.push(format!(
                "root: read-only system dirs, code at {TASK_ROOT}, runtime and SDK at {RUNTIME_ROOT}, empty /opt, no data dir; /tmp: private tmpfs of EphemeralStorage"
            ));
        }
        if self.namespaces.user {
            parts.push(format!("uid {UID_INSIDE} (sbx_user1051; nobody outside)"));
        }
        parts.push(self.network.description.clone());
        if self.seccomp {
            parts.push(format!("seccomp: {}", super::seccomp::SUMMARY));
        }
        let granted = self.cgroups.granted();
        if granted.is_empty() {
            parts.push("cgroups: none".into());
        } else {
            let mut cg = format!("cgroup v1: {}", granted.join(","));
            if self.cgroups.pids.is_some() {
                cg.push_str(&format!(" (pids.max {PIDS_MAX})"));
            }
            if self.cgroups.cpu.is_some() {
                cg.push_str(
                    " (cpu: MemorySize/1769 of a CPU from the end of init, at most 10 s of boost)",
                );
            }
            parts.push(cg);
        }
        if self.cgroups.unified.is_some() {
            parts.push("cgroup v2: cgroup.kill".into());
        }
        match self.cgroups.freezing() {
            Some(how) => parts.push(format!("idle environments frozen ({how})")),
            None => parts.push("idle environments not frozen (no freezer)".into()),
        }
        let mut rlimits = vec![format!("RLIMIT_NOFILE={OPEN_FILES_MAX}")];
        if self.cgroups.memory.is_none() {
            rlimits.push("RLIMIT_AS=MemorySize+1GiB (fallback)".into());
        }
        if self.cgroups.pids.is_none() && self.namespaces.mount {
            rlimits.push(format!(
                "RLIMIT_NPROC={PIDS_MAX} per uid (fallback, shared by all functions)"
            ));
        }
        parts.push(format!("rlimits: {}", rlimits.join(", ")));
        if self.templates.is_some() {
            parts.push("python runtimes forked from a started template".into());
        }
        let mut refusals: Vec<String> = refused.to_vec();
        if !failures.is_empty()
            && self.namespaces
                != (Namespaces {
                    user: true,
                    pid: true,
                    mount: true,
                })
        {
            refusals.extend(failures.iter().cloned());
        }
        if !refusals.is_empty() {
            parts.push(format!("refused: {}", refusals.join("; ")));
        }
        parts.join("; ")
    }

    /// What a template's fork needs to enter the environment `plan` builds.
    fn pending_fork(
        &self,
        plan: &Plan,
        spec: &SandboxSpec,
        socket: std::os::unix::net::UnixStream,
    ) -> Result<PendingFork, SandboxError> {
        let error = |source: std::io::Error| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source,
        };
        let mut rlimits = vec![("NOFILE", OPEN_FILES_MAX)];
        rlimits.extend(plan.rlimit_as.map(|limit| ("AS", limit)));
        rlimits.extend(plan.rlimit_nproc.map(|limit| ("NPROC", limit)));
        let document = ForkSpec {
            cgroups: plan
                .cgroup_procs
                .iter()
                .chain(&plan.runtime_cgroup_procs)
                .cloned()
                .collect(),
            uid: plan.uid,
            rlimits,
            seccomp: self.seccomp.then(|| {
                super::seccomp::program()
                    .iter()
                    .map(|f| (f.code, f.jt, f.jf, f.k))
                    .collect()
            }),
            cwd: plan.cwd.clone(),
            env: spec.env.iter().cloned().collect(),
            args: plan.args.clone(),
            waiter: vec![
                self.helper.display().to_string(),
                INIT_ARG.to_owned(),
                super::init::WAIT_ARG.to_owned(),
            ],
        };
        Ok(PendingFork {
            socket,
            spec: serde_json::to_vec(&document).map_err(|e| error(std::io::Error::other(e)))?,
            stdout: spec.stdout.try_clone().map_err(error)?,
            stderr: spec.stderr.try_clone().map_err(error)?,
        })
    }

    /// True when at least one namespace or cgroup was granted.
    pub fn isolates(&self) -> bool {
        self.namespaces != Namespaces::default() || !self.cgroups.granted().is_empty()
    }

    /// Host path → path inside, for paths under the code, runtime or mounted trees.
    fn translate(mount: bool, value: &str, what: &Launch<'_>) -> String {
        if !mount {
            return value.to_owned();
        }
        let trees = [
            (what.code_dir, Path::new(TASK_ROOT)),
            (what.runtime_dir, Path::new(RUNTIME_ROOT)),
        ];
        let mounted = what
            .mounts
            .iter()
            .map(|m| (m.host.as_path(), m.inside.as_path()));
        for (host, inside) in trees.into_iter().chain(mounted) {
            let host = host.display().to_string();
            if let Some(rest) = value.strip_prefix(&host) {
                if rest.is_empty() || rest.starts_with('/') {
                    return format!("{}{rest}", inside.display());
                }
            }
        }
        value.to_owned()
    }

    fn plan(
        &self,
        namespaces: Namespaces,
        what: &Launch<'_>,
        memory_mb: u32,
        ephemeral_mb: Option<u32>,
    ) -> Plan {
        let program = what.program;
        let mut binds = self.system_binds.clone();
        // The interpreter's install prefix (e.g. a pyenv version), unless a system dir has it.
        let outside_system = !self
            .system_binds
            .iter()
            .any(|b| program.starts_with(&b.source))
            && !program.starts_with(what.code_dir);
        if outside_system {
            let dir = program.parent().unwrap_or(program);
            let prefix = if dir.file_name().is_some_and(|n| n == "bin") {
                dir.parent().unwrap_or(dir)
            } else {
                dir
            };
            binds.push(Bind {
                source: prefix.to_path_buf(),
                target: prefix.to_path_buf(),
                writable: false,
            });
        }
        for (source, target) in [(what.code_dir, TASK_ROOT), (what.runtime_dir, RUNTIME_ROOT)] {
            binds.push(Bind {
                source: source.to_path_buf(),
                target: PathBuf::from(target),
                writable: false,
            });
        }
        // After /var/runtime: a mount may sit on an empty directory inside it.
        binds.extend(what.mounts.iter().map(|m| Bind {
            source: m.host.clone(),
            target: m.inside.clone(),
            writable: false,
        }));
        let mut symlinks = self.symlinks.clone();
        symlinks.extend(what.links.iter().cloned());
        let translate = |value: &str| Self::translate(namespaces.mount, value, what);
        Plan {
            namespaces,
            cgroup_procs: Vec::new(),
            runtime_cgroup_procs: Vec::new(),
            net: None,
            seccomp: false,
            control: false,
            root: self.root.clone(),
            binds,
            symlinks,
            devices: DEVICES.iter().map(PathBuf::from).collect(),
            tmp_mb: ephemeral_mb.unwrap_or(1),
            uid: UID_INSIDE,
            outside_uid: UID_OUTSIDE,
            rlimit_as: self
                .cgroups
                .memory
                .is_none()
                .then(|| (u64::from(memory_mb) + 1024) * 1024 * 1024),
            rlimit_nproc: (self.cgroups.pids.is_none() && self.namespaces.mount)
                .then_some(u64::from(PIDS_MAX)),
            hold: false,
            cwd: PathBuf::from(translate(&what.code_dir.display().to_string())),
            program: PathBuf::from(translate(&program.display().to_string())),
            args: what.args.iter().map(|a| translate(a)).collect(),
        }
    }
}

/// What one environment runs and sees, borrowed from its [`SandboxSpec`].
struct Launch<'a> {
    program: &'a Path,
    args: &'a [String],
    code_dir: &'a Path,
    runtime_dir: &'a Path,
    mounts: &'a [Mount],
    links: &'a [(PathBuf, PathBuf)],
}

fn check_executable(program: &Path) -> Result<(), SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    let error = |source| SandboxError::Spawn {
        program: program.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(program).map_err(error)?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(error(std::io::Error::from(
            std::io::ErrorKind::PermissionDenied,
        )));
    }
    Ok(())
}

impl Sandbox for NamespaceSandbox {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn spawn(&self, spec: SandboxSpec) -> Result<Spawned, SandboxError> {
        // The helper would only find out after forking; a missing bootstrap is the caller's error.
        check_executable(&spec.program)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let cgroups = if self.cgroups.granted().is_empty() && self.cgroups.unified.is_none() {
            None
        } else {
            Some(Arc::new(
                self.cgroups
                    .create(&id, spec.memory_mb)
                    .map_err(SandboxError::Cgroup)?,
            ))
        };
        let what = Launch {
            program: &spec.program,
            args: &spec.args,
            code_dir: &spec.code_dir,
            runtime_dir: &spec.runtime_dir,
            mounts: &spec.mounts,
            links: &spec.links,
        };
        let mut plan = self.plan(
            self.namespaces,
            &what,
            spec.memory_mb,
            Some(spec.ephemeral_mb),
        );
        if let Some(c) = &cgroups {
            plan.cgroup_procs = c.procs_files();
            plan.runtime_cgroup_procs = c.runtime_procs_files();
        }
        plan.seccomp = self.seccomp;
        if self.network.private {
            plan.net = Some(NetPlan::for_endpoint(
                spec.endpoint_port,
                self.network.stack.clone(),
            ));
        }
        plan.control = true;
        let fork = match (&self.templates, &spec.template) {
            (Some(templates), Some(launch)) => templates.fork(launch),
            _ => None,
        };
        let fork = match fork {
            Some(socket) => {
                plan.hold = true;
                Some(self.pending_fork(&plan, &spec, socket)?)
            }
            None => None,
        };
        let (server_end, helper_end) =
            std::os::unix::net::UnixStream::pair().map_err(|source| SandboxError::Spawn {
                program: self.helper.display().to_string(),
                source,
            })?;
        let json = serde_json::to_string(&plan).map_err(|e| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let mut command = tokio::process::Command::new(&self.helper);
        command
            .arg(INIT_ARG)
            .arg(json)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir("/")
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(helper_end)))
            .stdout(Stdio::from(spec.stdout))
            .stderr(Stdio::from(spec.stderr))
            .process_group(0)
            .kill_on_drop(true);
        match command.spawn() {
            Ok(child) => Ok(Spawned {
                child,
                fork,
                cgroups,
                control: Some(
                    Control::new(server_end).map_err(|source| SandboxError::Spawn {
                        program: self.helper.display().to_string(),
                        source,
                    })?,
                ),
            }),
            Err(source) => {
                if let Some(c) = &cgroups {
                    c.remove();
                }
                Err(SandboxError::Spawn {
                    program: self.helper.display().to_string(),
                    source,
                })
            }
        }
    }

    fn lambda_layout(&self) -> bool {
        self.namespaces.mount
    }

    fn private_network(&self) -> bool {
        self.network.private
    }
}
