//! One execution environment: a sandboxed process running a runtime, its Runtime API listener, the
//! Nubo endpoint inside its own network ([`endpoint`]) and its log pipe. Used by one invocation at
//! a time, frozen while idle; killed (with everything it forked) when dropped. What the function
//! sees inside (paths, SDK, variables, credentials) is worked out in [`view`].

mod endpoint;
mod view;

pub use endpoint::{EndpointServer, EnvironmentEndpoint};

use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::control::records::FunctionRecord;
use crate::extensions::{Extensions, FunctionInfo, SHUTDOWN_GRACE};
use crate::logs::LogCapture;
use crate::runtime_api::{InitDone, RuntimeApi};
use crate::runtimes::{Family, Launch, RuntimeCatalog};
use crate::sandbox::network::{inside_endpoint_port, RUNTIME_API_INSIDE};
use crate::sandbox::{kill_process_group, Cgroups, Control, Sandbox, SandboxSpec, Spawned};
use crate::InvokeError;

/// How long initialization runs without the CPU quota at most (Lambda's init boost).
const INIT_BOOST: Duration = Duration::from_secs(10);

/// What every environment needs from the platform.
pub(crate) struct EnvironmentContext<'a> {
    pub(crate) catalog: &'a RuntimeCatalog,
    pub(crate) sandbox: &'a dyn Sandbox,
    pub(crate) code_dir: &'a Path,
    /// The function's layers merged in order (`/opt`), when it has any.
    pub(crate) opt_dir: Option<&'a Path>,
    pub(crate) scope: &'a nubo_wire::Scope,
    pub(crate) endpoint_url: &'a str,
    /// Serves the Nubo endpoint inside environments with a network of their own.
    pub(crate) endpoint: &'a Arc<EnvironmentEndpoint>,
    /// `on-demand` or `provisioned-concurrency` (`AWS_LAMBDA_INITIALIZATION_TYPE`).
    pub(crate) initialization_type: &'static str,
    /// Issues the execution role's credentials.
    pub(crate) credentials: Option<&'a dyn crate::credentials::ExecutionCredentials>,
}

pub(crate) struct Environment {
    pub(crate) revision_id: String,
    pub(crate) stream: String,
    pid: u32,
    pub(crate) api: RuntimeApi,
    pub(crate) logs: Arc<LogCapture>,
    pub(crate) exit: watch::Receiver<Option<ExitStatus>>,
    pub(crate) started: Instant,
    /// When its execution-role credentials expire: it is retired before then.
    pub(crate) credentials_expire: Option<Instant>,
    /// Set once the first invocation has been delivered (the init phase is over).
    pub(crate) initialized: bool,
    pub(crate) last_used: Instant,
    /// The interpreter substitution note, said in the log of the first invocation.
    pub(crate) substitution: Option<String>,
    /// Held by environments initialized ahead for provisioned concurrency.
    pub(crate) provisioned: Option<crate::control::concurrency::Ticket>,
    /// The environment's cgroups (namespace sandbox), removed once the process is gone.
    cgroups: Option<Arc<Cgroups>>,
    /// Set before the exit is published: the kernel's OOM killer ended the environment.
    oom_killed: Arc<AtomicBool>,
    /// Peak memory in bytes, read from the cgroup before it is removed.
    final_max_memory: Arc<AtomicU64>,
    /// The peak-memory source, opened on first use (one `pread` per invocation afterwards).
    peak_memory: std::sync::OnceLock<Option<PeakMemory>>,
    /// The helper's control socket: dropping it makes the helper end the environment.
    _control: Option<Control>,
    /// Serving the Nubo endpoint inside; the init boost's timer.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Set once killed (a timeout, a crash): no `SHUTDOWN` then.
    killed: AtomicBool,
    /// Where what the extensions print during `SHUTDOWN` goes: the writer and the log group (the
    /// stream is the environment's).
    pub(crate) shutdown_log: Option<(nubo_observe::LogWriter, String)>,
}

/// Where an environment's peak memory is read (REPORT's Max Memory Used): the cgroup's
/// `memory.max_usage_in_bytes` (every process of the environment) or the runtime's VmHWM. Kept
/// open because it is read after every invocation: re-reading at offset 0 regenerates it.
enum PeakMemory {
    Cgroup(std::fs::File),
    Status(std::fs::File),
}

impl PeakMemory {
    /// Peak bytes, or `None` if the source is gone.
    fn read(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buffer = [0u8; 4096];
        let (file, cgroup) = match self {
            Self::Cgroup(f) => (f, true),
            Self::Status(f) => (f, false),
        };
        let n = file.read_at(&mut buffer, 0).ok()?;
        let text = std::str::from_utf8(&buffer[..n]).ok()?;
        if cgroup {
            return text.trim().parse().ok();
        }
        let kb: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        if self.shutdown_in_background() {
            return;
        }
        self.kill();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Environment {
    /// Starts the process; returns as soon as it runs (initialization continues in the background
    /// and ends when the runtime first asks for `next`).
    pub(crate) async fn start(
        function: &FunctionRecord,
        ctx: &EnvironmentContext<'_>,
    ) -> Result<Self, InvokeError> {
        let mut launch = ctx.catalog.launch(&function.runtime, ctx.code_dir)?;
        let sandbox_error = |e: std::io::Error| InvokeError::Sandbox(e.to_string());
        let server_port = port_of(ctx.endpoint_url);
        // Without a network of its own, the Runtime API listens on a host loopback port.
        let host_listener = if ctx.sandbox.private_network() {
            None
        } else {
            Some(
                tokio::net::TcpListener::bind(("127.0.0.1", 0))
                    .await
                    .map_err(sandbox_error)?,
            )
        };
        let (runtime_api, endpoint_url) = match &host_listener {
            Some(listener) => (
                listener.local_addr().map_err(sandbox_error)?.to_string(),
                ctx.endpoint_url.to_owned(),
            ),
            None => (
                RUNTIME_API_INSIDE.to_owned(),
                format!("http://127.0.0.1:{}", inside_endpoint_port(server_port)),
            ),
        };
        let (logs, stdout, stderr) = LogCapture::new().map_err(sandbox_error)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stream = format!(
            "{}/[{}]{}",
            nubo_wire::timefmt::log_stream_day(time::OffsetDateTime::now_utc()),
            function.version,
            id
        );
        let view = view::view(
            function,
            ctx,
            &mut launch,
            &view::Addresses {
                runtime_api: &runtime_api,
                endpoint_url: &endpoint_url,
            },
            &stream,
        );
        let Launch {
            program,
            args,
            substitution,
            runtime_dir,
            template,
            family,
        } = launch;
        let extension_dir = ctx.opt_dir.map(|opt| opt.join("extensions"));
        let external = extension_dir.as_deref().map_or(0, count_executables);
        let wrapper = function
            .environment
            .get("AWS_LAMBDA_EXEC_WRAPPER")
            .filter(|_| matches!(family, Family::Python { .. } | Family::Node { .. }))
            .map(|inside| host_path_of(inside, ctx));
        let mut mounts = view.mounts;
        let wrapping = external > 0 || wrapper.is_some();
        if let Some(prefix) = install_prefix(&program).filter(|_| wrapping) {
            // The sandbox shows the program's install prefix (a pyenv version); with `sh` in
            // front of it, it must be named.
            mounts.push(crate::sandbox::Mount {
                host: prefix.clone(),
                inside: prefix,
            });
        }
        let (program, args) = launch_with_extensions(
            program,
            args,
            extension_dir.filter(|_| external > 0),
            wrapper,
        );
        let extensions = Extensions::new(
            FunctionInfo {
                name: function.name.clone(),
                version: function.version.clone(),
                handler: function.handler.clone().unwrap_or_default(),
                account_id: ctx.scope.account_id.clone(),
            },
            external,
        );
        extensions.emit(
            "platform.initStart",
            serde_json::json!({
                "initializationType": ctx.initialization_type,
                "phase": "init",
                "runtimeVersion": function.runtime,
                "functionName": function.name,
                "functionVersion": function.version,
            }),
        );
        // Variables the interpreter (or the dynamic loader) reads only when it starts would not
        // take effect in a fork of a started template, and a fork would bypass the extensions'
        // wrapper and the paths layers add: such functions start plainly.
        let read_at_start = |name: &String| name.starts_with("PYTHON") || name.starts_with("LD_");
        let template = template
            .filter(|_| ctx.opt_dir.is_none() && !wrapping)
            .filter(|_| !function.environment.keys().any(read_at_start))
            .map(|(program, args)| crate::sandbox::TemplateLaunch { program, args });
        let credentials_expire = view.credentials_expire.map(|at| {
            let left = (at - time::OffsetDateTime::now_utc()).max(time::Duration::ZERO);
            Instant::now() + Duration::from_secs(left.whole_seconds() as u64)
        });
        let spec = SandboxSpec {
            program,
            args,
            env: view.env,
            code_dir: ctx.code_dir.to_path_buf(),
            runtime_dir,
            mounts,
            links: view.links,
            memory_mb: function.memory_mb,
            ephemeral_mb: function.ephemeral_storage_mb,
            endpoint_port: server_port,
            stdout: stdout.into(),
            stderr: stderr.into(),
            template,
        };
        let started = Instant::now();
        let Spawned {
            mut child,
            cgroups,
            control,
            fork,
        } = match ctx.sandbox.spawn(spec) {
            Ok(spawned) => spawned,
            Err(e) => return Err(InvokeError::Sandbox(e.to_string())),
        };
        let pid = child.id().unwrap_or(0);
        if ctx.sandbox.private_network() {
            extensions.set_network_of(pid);
        }
        tracing::debug!(function = %function.name, environment = %id, pid, "environment started");
        let (exit_tx, exit_rx) = watch::channel(None);
        let oom_killed = Arc::new(AtomicBool::new(false));
        let final_max_memory = Arc::new(AtomicU64::new(0));
        let (oom, peak, limits) = (
            oom_killed.clone(),
            final_max_memory.clone(),
            cgroups.clone(),
        );
        tokio::spawn(async move {
            let status = child.wait().await.ok();
            if let Some(limits) = &limits {
                // Read before the exit is published, so whoever sees the exit sees these too.
                oom.store(limits.oom_killed(), Ordering::SeqCst);
                peak.store(limits.max_memory_bytes().unwrap_or(0), Ordering::SeqCst);
            }
            let _ = exit_tx.send(status);
            if let Some(limits) = limits {
                limits.kill();
                // The last processes of the namespace may take a moment to be reaped.
                for _ in 0..100 {
                    if limits.remove() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        let mut tasks = Vec::new();
        let api_listener = match (host_listener, &control) {
            (Some(listener), _) => listener,
            (None, Some(control)) => {
                let inside = tokio::time::timeout(Duration::from_secs(10), control.listeners())
                    .await
                    .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
                let inside = match inside {
                    Ok(inside) => inside,
                    Err(e) => {
                        kill_process_group(pid);
                        return Err(InvokeError::Sandbox(format!(
                            "the environment's network: {e}"
                        )));
                    }
                };
                tasks.push(ctx.endpoint.serve(inside.endpoint));
                tokio::net::TcpListener::from_std(inside.runtime_api).map_err(sandbox_error)?
            }
            (None, None) => {
                kill_process_group(pid);
                return Err(InvokeError::Sandbox(
                    "the sandbox gave no control socket for the environment's network".into(),
                ));
            }
        };
        if let (Some(fork), Some(control)) = (fork, &control) {
            let handed = tokio::time::timeout(Duration::from_secs(10), fork.complete(control))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
            if let Err(e) = handed {
                kill_process_group(pid);
                return Err(InvokeError::Sandbox(format!(
                    "forking the environment from its template: {e}"
                )));
            }
        }
        // The CPU quota starts when init is over, or after the boost at the latest.
        let init_done: Option<InitDone> = cgroups.clone().map(|c| {
            let boosted = c.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(INIT_BOOST).await;
                boosted.apply_cpu_quota();
            }));
            Box::new(move || c.apply_cpu_quota()) as InitDone
        });
        let api = RuntimeApi::serve(api_listener, init_done, extensions);
        Ok(Self {
            revision_id: function.environment_revision().to_owned(),
            stream,
            pid,
            api,
            logs,
            exit: exit_rx,
            started,
            credentials_expire,
            initialized: false,
            last_used: started,
            substitution,
            provisioned: None,
            cgroups,
            oom_killed,
            final_max_memory,
            peak_memory: std::sync::OnceLock::new(),
            _control: control,
            tasks,
            killed: AtomicBool::new(false),
            shutdown_log: None,
        })
    }

    /// Retiring a healthy environment whose extensions asked for `SHUTDOWN`: they get it and
    /// [`SHUTDOWN_GRACE`] to finish (the Extensions API keeps serving meanwhile), then the
    /// environment is killed. False when there is nothing to wait for (killed at once).
    fn shutdown_in_background(&mut self) -> bool {
        let extensions = self.api.state.extensions.clone();
        if self.killed.load(Ordering::SeqCst) || self.has_exited() || !extensions.wants_shutdown() {
            return false;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        self.thaw();
        let (pid, cgroups, control) = (self.pid, self.cgroups.clone(), self._control.take());
        let server = self.api.take_server();
        // The runtime keeps waiting in `next` meanwhile: were it told the environment is gone, it
        // would exit, and with it (pid 1 of the environment) every extension.
        let deliveries = self.api.deliveries.clone();
        let tasks = std::mem::take(&mut self.tasks);
        let (logs, stream, shutdown_log) = (
            self.logs.clone(),
            self.stream.clone(),
            self.shutdown_log.take(),
        );
        runtime.spawn(async move {
            extensions.shutdown("spindown", SHUTDOWN_GRACE).await;
            if let Some((writer, group)) = shutdown_log {
                let lines = tokio::time::timeout(Duration::from_millis(500), logs.drain())
                    .await
                    .unwrap_or_default();
                writer.send(
                    lines
                        .into_iter()
                        .map(|(timestamp_ms, message)| nubo_store::LogEvent {
                            group: group.clone(),
                            stream: stream.clone(),
                            timestamp_ms,
                            message,
                        })
                        .collect(),
                );
            }
            kill_process_group(pid);
            if let Some(cgroups) = &cgroups {
                cgroups.kill();
            }
            drop((control, deliveries));
            for task in tasks.iter().chain(server.as_ref()) {
                task.abort();
            }
        });
        true
    }

    /// Peak memory of the environment in MB: its memory cgroup's high-water mark (every process,
    /// as Lambda measures), else the runtime process's peak resident set (VmHWM).
    pub(crate) fn max_memory_used_mb(&self) -> u64 {
        let source = self.peak_memory.get_or_init(|| match &self.cgroups {
            Some(cgroups) => cgroups.open_max_memory().map(PeakMemory::Cgroup),
            None => std::fs::File::open(format!("/proc/{}/status", self.pid))
                .ok()
                .map(PeakMemory::Status),
        });
        let bytes = source
            .as_ref()
            .and_then(PeakMemory::read)
            .filter(|b| *b > 0)
            .unwrap_or_else(|| self.final_max_memory.load(Ordering::SeqCst));
        bytes.div_ceil(1024 * 1024)
    }

    /// Kills the process group and, with cgroups, everything in the environment's cgroup (drop
    /// does too).
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        kill_process_group(self.pid);
        if let Some(cgroups) = &self.cgroups {
            cgroups.kill();
        }
    }

    /// The first invocation is over. (The CPU quota already applies, since the end of init.)
    pub(crate) fn mark_initialized(&mut self) {
        if self.initialized {
            return;
        }
        self.initialized = true;
        if let Some(cgroups) = &self.cgroups {
            cgroups.apply_cpu_quota();
        }
    }

    /// Freezes the function's processes while the environment is idle (Lambda freezes between
    /// invocations): background threads and processes stop until [`thaw`](Self::thaw).
    pub(crate) fn freeze(&self) {
        if let Some(cgroups) = &self.cgroups {
            cgroups.set_frozen(true);
        }
    }

    /// Lets the function's processes run again, before the next event is delivered.
    pub(crate) fn thaw(&self) {
        if let Some(cgroups) = &self.cgroups {
            cgroups.set_frozen(false);
        }
    }

    /// True when the environment was ended by its memory limit. Waits briefly for the exit to be
    /// seen (a runtime's connection can drop before its process is reaped).
    pub(crate) async fn out_of_memory(&self) -> bool {
        let Some(cgroups) = &self.cgroups else {
            return false;
        };
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(Duration::from_secs(1), exit.wait_for(Option::is_some)).await;
        self.oom_killed.load(Ordering::SeqCst) || cgroups.oom_killed()
    }

    pub(crate) fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }
}

/// The install prefix of an interpreter outside the system directories (`…/bin/python3.12` →
/// `…`).
fn install_prefix(program: &Path) -> Option<std::path::PathBuf> {
    let system = ["/usr/", "/bin/", "/lib", "/sbin/", "/etc/"];
    if system.iter().any(|s| program.starts_with(s)) || !program.is_absolute() {
        return None;
    }
    let dir = program.parent()?;
    if dir.file_name().is_some_and(|n| n == "bin") {
        dir.parent().map(Path::to_path_buf)
    } else {
        None
    }
}

/// Executable files in `dir` (the external extensions of `/opt/extensions`).
fn count_executables(dir: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| {
                e.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .count()
    })
}

/// An inside path (`/opt/…`, `/var/task/…`) as the function reaches it: itself with a private
/// root, else the host tree it names.
fn host_path_of(inside: &str, ctx: &EnvironmentContext<'_>) -> String {
    if ctx.sandbox.lambda_layout() {
        return inside.to_owned();
    }
    let trees = [
        (Some("/opt"), ctx.opt_dir),
        (Some("/var/task"), Some(ctx.code_dir)),
    ];
    for (prefix, host) in trees {
        if let (Some(prefix), Some(host)) = (prefix, host) {
            if let Some(rest) = inside.strip_prefix(prefix).filter(|r| r.starts_with('/')) {
                return format!("{}{rest}", host.display());
            }
        }
    }
    inside.to_owned()
}

/// Starts the external extensions (every executable of `extension_dir`, in the background) and
/// then the runtime — through `AWS_LAMBDA_EXEC_WRAPPER` when one is set, as Lambda runs internal
/// extensions' wrapper scripts with the runtime's command line as arguments. One `sh`, exec'd
/// into the runtime, so the runtime keeps its process (and the extensions are its children).
fn launch_with_extensions(
    program: std::path::PathBuf,
    args: Vec<String>,
    extension_dir: Option<std::path::PathBuf>,
    wrapper: Option<String>,
) -> (std::path::PathBuf, Vec<String>) {
    if extension_dir.is_none() && wrapper.is_none() {
        return (program, args);
    }
    const SCRIPT: &str = r#"d=$1; shift
if [ -n "$d" ]; then for e in "$d"/*; do if [ -f "$e" ] && [ -x "$e" ]; then "$e" & fi; done; fi
exec "$@""#;
    let mut wrapped = vec![
        "-c".to_owned(),
        SCRIPT.to_owned(),
        "nubo-extensions".to_owned(),
        extension_dir
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
    ];
    wrapped.extend(wrapper);
    wrapped.push(program.display().to_string());
    wrapped.extend(args);
    // By its /usr path where there is one: the sandbox shows /usr whole, while a program
    // elsewhere gets its directory's prefix bound (for /bin/sh that would be the host's root).
    let shell = ["/usr/bin/sh", "/bin/sh"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "/bin/sh".into());
    (shell, wrapped)
}

/// The port of the server's endpoint URL (`http://host:port`), 80 when it names none.
fn port_of(url: &str) -> u16 {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    authority
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::port_of;

    #[test]
    fn the_endpoint_port_comes_from_the_url() {
        assert_eq!(port_of("http://127.0.0.1:4750"), 4750);
        assert_eq!(port_of("http://[::1]:9000/"), 9000);
        assert_eq!(port_of("http://localhost"), 80);
    }
}
