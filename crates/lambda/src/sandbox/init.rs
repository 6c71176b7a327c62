//! The sandbox helper: `nubo __sandbox-init <plan as JSON>`.
//!
//! A fresh, single-threaded process (the server is multi-threaded, and only async-signal-safe
//! calls are allowed between its fork and exec). Its stdin is the server's control socket. It
//! 1. with a network plan: unshares a network namespace, binds the Runtime API and the Nubo
//!    endpoint in there, hands the listeners to the server over the control socket and attaches
//!    the user-mode network stack ([`super::network`]);
//! 2. moves itself into the environment's memory and pids cgroups (so everything below is
//!    counted);
//! 3. unshares the pid namespace and forks: the child is pid 1 of the new pid namespace, and the
//!    helper stays as its parent, waiting, to pass its exit status on (a child killed by a signal
//!    makes the helper kill itself with the same signal) — and watching the control socket: when
//!    the server closes it (the environment is dropped, or the server died, even by SIGKILL) the
//!    helper kills the child, and with it everything in the namespace;
//! 4. in the child: joins the freezable cgroup, builds a minimal root on a tmpfs (read-only binds
//!    of the system directories, the interpreter, our bootstrap at `/var/runtime`, the code at
//!    `/var/task`, the runtime's SDK; a few devices; an empty `/opt`; a private `/tmp` tmpfs; a
//!    fresh `/proc`), pivots into it and detaches the old root; sets `RLIMIT_NOFILE` (and the
//!    fallback rlimits);
//! 5. drops supplementary groups, unshares a user namespace whose only uid/gid (993, Lambda's)
//!    maps to an unprivileged one outside (written by the helper, which is still in the parent
//!    namespace), sets no-new-privileges, installs the seccomp filter ([`super::seccomp`]), waits
//!    for the network stack to be ready and execs the runtime.
//!
//! Errors are printed to stderr (the function's log) and end the helper with status 125.

use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The exit status of a helper that could not set the sandbox up.
pub const SETUP_FAILED: i32 = 125;

/// Which namespaces an environment gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    /// A user namespace (the function runs as an unprivileged uid).
    pub user: bool,
    /// A pid namespace (the function sees only its own processes).
    pub pid: bool,
    /// A mount namespace with a minimal root (no view of the host's files).
    pub mount: bool,
}

impl Namespaces {
    /// "user,pid,mount" (or "none").
    pub fn names(&self) -> String {
        let names: Vec<&str> = [
            ("user", self.user),
            ("pid", self.pid),
            ("mount", self.mount),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }
}

/// A bind mount into the new root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Bind {
    pub(crate) source: PathBuf,
    /// Absolute path inside the new root.
    pub(crate) target: PathBuf,
    pub(crate) writable: bool,
}

/// Everything the helper does, decided by the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) namespaces: Namespaces,
    /// `cgroup.procs` files the helper joins before it forks (memory, pids).
    pub(crate) cgroup_procs: Vec<PathBuf>,
    /// `cgroup.procs` files the runtime alone joins (the freezable, killable group).
    #[serde(default)]
    pub(crate) runtime_cgroup_procs: Vec<PathBuf>,
    /// The environment's own network namespace, when it gets one.
    #[serde(default)]
    pub(crate) net: Option<super::network::NetPlan>,
    /// Install the seccomp filter before exec.
    #[serde(default)]
    pub(crate) seccomp: bool,
    /// Stdin is the server's control socket (the listeners go out on it; its end ends us).
    #[serde(default)]
    pub(crate) control: bool,
    /// An empty directory to build the new root on.
    pub(crate) root: PathBuf,
    pub(crate) binds: Vec<Bind>,
    /// (link inside the new root, what it points to).
    pub(crate) symlinks: Vec<(PathBuf, PathBuf)>,
    /// Device nodes bound at the same path.
    pub(crate) devices: Vec<PathBuf>,
    /// Size of the private `/tmp`, in MB.
    pub(crate) tmp_mb: u32,
    /// The uid/gid inside the user namespace, and what it maps to outside.
    pub(crate) uid: u32,
    pub(crate) outside_uid: u32,
    /// Fallback limits where cgroups were refused.
    pub(crate) rlimit_as: Option<u64>,
    pub(crate) rlimit_nproc: Option<u64>,
    pub(crate) cwd: PathBuf,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    /// Build the environment but exec nothing: the child (pid 1 of the namespace) holds it while
    /// a runtime forked from a template joins it ([`super::template`]), and passes on the exit
    /// status that runtime's parent reports on the anchor socket.
    #[serde(default)]
    pub(crate) hold: bool,
}

/// What the helper sends on the control socket once a holding child is ready: this payload, then
/// the anchor socket, the child's namespaces (user, mount, net) and, with a network stack, its
/// readiness pipe.
pub(crate) const HELD: &[u8] = b"H";

/// The first argument after [`super::INIT_ARG`] that makes the binary a forked runtime's waiter
/// instead (`wait <runtime pid> <anchor fd>`, see [`super::template`]).
pub(crate) const WAIT_ARG: &str = "wait";

/// The helper's `main`: never returns.
pub fn main(args: impl Iterator<Item = OsString>) -> ! {
    let mut args = args.peekable();
    if args.peek().is_some_and(|a| a == WAIT_ARG) {
        args.next();
        let numbers: Vec<i32> = args
            .filter_map(|a| a.to_str().and_then(|a| a.parse().ok()))
            .collect();
        if let [runtime, anchor] = numbers[..] {
            wait_for_runtime(runtime, anchor);
        }
        let _ = writeln!(std::io::stderr(), "nubo sandbox: bad waiter arguments");
        std::process::exit(SETUP_FAILED);
    }
    let plan: Result<Plan, String> = args
        .next()
        .ok_or_else(|| "missing plan".to_owned())
        .and_then(|json| {
            serde_json::from_slice(json.as_bytes()).map_err(|e| format!("bad plan: {e}"))
        });
    let error = match plan {
        Ok(plan) => match take_control(&plan).and_then(|control| run(&plan, control)) {
            Ok(never) => match never {},
            Err(e) => e,
        },
        Err(e) => e,
    };
    let _ = writeln!(std::io::stderr(), "nubo sandbox: {error}");
    std::process::exit(SETUP_FAILED);
}

enum Never {}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn check(ret: libc::c_int, what: &str) -> Result<(), String> {
    if ret == -1 {
        Err(os_error(what))
    } else {
        Ok(())
    }
}

fn cstring(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("NUL in {}", path.display()))
}

/// Moves the control socket off stdin (close-on-exec) and puts `/dev/null` there, so neither the
/// runtime nor the network stack inherits it.
fn take_control(plan: &Plan) -> Result<Option<OwnedFd>, String> {
    if !plan.control {
        return Ok(None);
    }
    // SAFETY: fcntl/open/dup2 on descriptors this process owns.
    unsafe {
        let control = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        if control == -1 {
            return Err(os_error("taking the control socket"));
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null == -1 || libc::dup2(null, 0) == -1 {
            return Err(os_error("/dev/null"));
        }
        libc::close(null);
        Ok(Some(OwnedFd::from_raw_fd(control)))
    }
}

fn run(plan: &Plan, control: Option<OwnedFd>) -> Result<Never, String> {
    let pid = std::process::id();
    // The network first, outside the cgroups: the stack is the platform's overhead, not the
    // function's, and must not be frozen with it.
    let network_ready = match &plan.net {
        Some(net) => super::network::enter(net, control.as_ref().map(AsFd::as_fd))?,
        None => None,
    };
    for procs in &plan.cgroup_procs {
        std::fs::write(procs, pid.to_string())
            .map_err(|e| format!("joining {}: {e}", procs.display()))?;
    }
    // For a holding child, the template's fork makes the pid namespace (an empty one cannot be
    // entered): the runtime is its pid 1, as it is here.
    if plan.namespaces.pid && !plan.hold {
        // SAFETY: unshare(2) takes flags only; this process is single-threaded.
        check(unsafe { libc::unshare(libc::CLONE_NEWPID) }, "unshare(pid)")?;
    }
    let (mut to_parent, mut from_child) =
        UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let anchor = if plan.hold {
        Some(UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?)
    } else {
        None
    };
    // SAFETY: fork(2) in a single-threaded process; the child continues with ordinary code.
    let child = unsafe { libc::fork() };
    if child == -1 {
        return Err(os_error("fork"));
    }
    if child == 0 {
        drop(from_child);
        drop(control);
        let anchor = anchor.map(|(holder_end, _)| holder_end);
        let error = match child_setup(plan, &mut to_parent, network_ready.as_ref(), anchor) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        let _ = writeln!(std::io::stderr(), "nubo sandbox: {error}");
        // SAFETY: _exit(2) ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(SETUP_FAILED) }
    }
    drop(to_parent);
    if plan.namespaces.user {
        // The child asks once it has unshared its user namespace; EOF means it failed before.
        let mut byte = [0u8; 1];
        if from_child.read_exact(&mut byte).is_ok() {
            let map = format!("{} {} 1\n", plan.uid, plan.outside_uid);
            let proc_dir = PathBuf::from(format!("/proc/{child}"));
            let written = std::fs::write(proc_dir.join("setgroups"), "deny")
                .and_then(|()| std::fs::write(proc_dir.join("uid_map"), &map))
                .and_then(|()| std::fs::write(proc_dir.join("gid_map"), &map));
            if let Err(e) = written {
                let _ = writeln!(std::io::stderr(), "nubo sandbox: writing the id maps: {e}");
            } else {
                let _ = from_child.write_all(&[1]);
            }
        }
    }
    if let (Some((holder_end, runtime_end)), Some(control)) = (anchor, &control) {
        drop(holder_end);
        hand_over(
            child,
            &mut from_child,
            runtime_end,
            network_ready.as_ref(),
            control,
        )?;
    }
    drop(network_ready);
    if let Some(control) = &control {
        watch(child, control, &plan.runtime_cgroup_procs);
    }
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid(2) writes one int we own.
        let ret = unsafe { libc::waitpid(child, &mut status, 0) };
        if ret == child {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(os_error("waitpid"));
        }
    }
    if plan.hold {
        // The holder exits 0 after passing on the status of the runtime it held for.
        let mut reported = [0u8; 5];
        if from_child.read_exact(&mut reported).is_ok() && reported[0] == b'S' {
            status =
                libc::c_int::from_ne_bytes([reported[1], reported[2], reported[3], reported[4]]);
        }
    }
    drop(from_child);
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: resetting a disposition and signalling ourselves: no memory is involved.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::kill(libc::getpid(), signal);
        }
        std::process::exit(128 + signal);
    }
    std::process::exit(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        SETUP_FAILED
    });
}

/// Waits for the holding child to be ready (its root built, its user namespace mapped, its
/// network up), then sends the server the anchor socket and the child's namespaces, which the
/// template's fork joins. If the child failed first, returns quietly: its status says why.
fn hand_over(
    child: libc::pid_t,
    from_child: &mut UnixStream,
    runtime_end: UnixStream,
    network_ready: Option<&OwnedFd>,
    control: &OwnedFd,
) -> Result<(), String> {
    let mut byte = [0u8; 1];
    if from_child.read_exact(&mut byte).is_err() || byte[0] != b'R' {
        return Ok(());
    }
    let mut namespaces = Vec::new();
    for name in ["user", "mnt", "net"] {
        let path = format!("/proc/{child}/ns/{name}");
        namespaces.push(std::fs::File::open(&path).map_err(|e| format!("opening {path}: {e}"))?);
    }
    let mut fds = vec![runtime_end.as_raw_fd()];
    fds.extend(namespaces.iter().map(AsRawFd::as_raw_fd));
    // The runtime waits for the network stack itself, so the stack starts while it is forked.
    fds.extend(network_ready.map(AsRawFd::as_raw_fd));
    super::network::send_fds(control.as_fd(), HELD, &fds)
        .map_err(|e| format!("handing the environment over: {e}"))
}

/// Returns once the child has exited, having killed it if the server closed the control socket
/// first (the environment was dropped, or the server is gone). Without `pidfd_open` (Linux < 5.3)
/// it returns at once and the caller just waits.
fn watch(child: libc::pid_t, control: &OwnedFd, runtime_cgroups: &[PathBuf]) {
    // SAFETY: pidfd_open(2) with integer arguments; the result is a new descriptor we own.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child, 0) } as libc::c_int;
    if pidfd < 0 {
        return;
    }
    // SAFETY: a fresh descriptor.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let mut fds = [
        libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: control.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: poll(2) on two descriptors we own.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ret == -1 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        if fds[0].revents != 0 {
            return;
        }
        if fds[1].revents != 0 {
            // The server sends nothing after the listeners: readable means closed.
            // SAFETY: kill(2) with integers; the child is ours and not yet reaped.
            unsafe {
                libc::kill(child, libc::SIGKILL);
            }
            // A frozen environment (v1 freezer) takes the signal only once thawed; v2 at once.
            for procs in runtime_cgroups {
                if let Some(dir) = procs.parent() {
                    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                    let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
                }
            }
            return;
        }
    }
}

fn child_setup(
    plan: &Plan,
    parent: &mut UnixStream,
    network_ready: Option<&OwnedFd>,
    anchor: Option<UnixStream>,
) -> Result<Never, String> {
    // SAFETY: prctl(2) with integer arguments only.
    unsafe {
        // The runtime (pid 1 of its namespace, taking everything in it along) dies with the helper.
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    // The freezable group: the runtime and whatever it forks, not the helper. "0" is the writer
    // (our pid is 1 here, in the new pid namespace).
    for procs in &plan.runtime_cgroup_procs {
        std::fs::write(procs, "0").map_err(|e| format!("joining {}: {e}", procs.display()))?;
    }
    if plan.namespaces.mount {
        // The child's own mount namespace: pivoting it must not move the helper's root (the helper
        // still needs the host's /proc to write the id maps).
        // SAFETY: unshare(2) takes flags only; this process is single-threaded.
        check(
            unsafe { libc::unshare(libc::CLONE_NEWNS) },
            "unshare(mount)",
        )?;
        // Nothing mounted from here on may propagate back to the host.
        mount(
            None,
            Path::new("/"),
            None,
            libc::MS_REC | libc::MS_PRIVATE,
            None,
        )?;
        build_root(plan)?;
    }
    for (resource, limit) in [
        (libc::RLIMIT_AS, plan.rlimit_as),
        (libc::RLIMIT_NPROC, plan.rlimit_nproc),
    ] {
        if let Some(limit) = limit {
            let value = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            // SAFETY: setrlimit(2) reads one struct we own.
            check(unsafe { libc::setrlimit(resource, &value) }, "setrlimit")?;
        }
    }
    super::set_open_files_limit().map_err(|e| format!("setrlimit(NOFILE): {e}"))?;
    // SAFETY: setgroups(2) with an empty list reads nothing.
    check(unsafe { libc::setgroups(0, std::ptr::null()) }, "setgroups")?;
    let uid = if plan.namespaces.user {
        // SAFETY: unshare(2) takes flags only; this process is single-threaded.
        check(
            unsafe { libc::unshare(libc::CLONE_NEWUSER) },
            "unshare(user)",
        )?;
        parent
            .write_all(&[1])
            .map_err(|e| format!("asking for the id maps: {e}"))?;
        let mut byte = [0u8; 1];
        parent
            .read_exact(&mut byte)
            .map_err(|_| "the id maps were not written".to_owned())?;
        plan.uid
    } else if plan.namespaces.mount {
        plan.outside_uid
    } else {
        // Without a private root the host paths on the way to the code may not be readable to an
        // unprivileged uid: stay as we are.
        // SAFETY: getuid(2) cannot fail.
        unsafe { libc::getuid() }
    };
    // SAFETY: setresgid/setresuid/prctl take integers only.
    unsafe {
        check(libc::setresgid(uid, uid, uid), "setresgid")?;
        check(libc::setresuid(uid, uid, uid), "setresuid")?;
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            "no_new_privs",
        )?;
    }
    std::env::set_current_dir(&plan.cwd)
        .map_err(|e| format!("chdir {}: {e}", plan.cwd.display()))?;
    if let (Some(ready), Some(stack), false) = (
        network_ready,
        plan.net.as_ref().and_then(|n| n.stack.as_ref()),
        plan.hold,
    ) {
        super::network::wait_ready(ready, &stack.program.display().to_string())?;
    }
    if plan.seccomp {
        // Last: the filter refuses what the steps above needed (unshare, mount, pivot_root).
        super::seccomp::install(&super::seccomp::program())
            .map_err(|e| format!("installing the seccomp filter: {e}"))?;
    }
    if let Some(anchor) = anchor {
        hold(parent, anchor)?;
    }
    let error = std::process::Command::new(&plan.program)
        .args(&plan.args)
        .exec();
    Err(format!("exec {}: {error}", plan.program.display()))
}

/// A template fork's last life (it execs this, a smaller process than the interpreter it was):
/// waits for the runtime it forked and writes its wait status on the anchor; if the anchor closes
/// first (the environment was dropped), kills the runtime.
fn wait_for_runtime(runtime: libc::pid_t, anchor: RawFd) -> ! {
    // SAFETY: pidfd_open(2) with integer arguments.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, runtime, 0) } as libc::c_int;
    // Without pidfd_open (Linux < 5.3) it only waits: the cgroup kill ends a dropped environment.
    if pidfd >= 0 {
        let watch = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut watched = [watch(anchor), watch(pidfd)];
        loop {
            // SAFETY: poll(2) on two descriptors this process owns.
            let ret = unsafe { libc::poll(watched.as_mut_ptr(), 2, -1) };
            if ret == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if ret == -1 || watched[1].revents != 0 {
                break;
            }
            if watched[0].revents != 0 {
                // SAFETY: kill(2) with integers; the runtime is our unreaped child.
                unsafe { libc::kill(runtime, libc::SIGKILL) };
                break;
            }
        }
    }
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid(2) writes one int we own; write(2) reads four bytes we own.
    unsafe {
        while libc::waitpid(runtime, &mut status, 0) == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
        let bytes = status.to_ne_bytes();
        libc::write(anchor, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(0)
    }
}

/// The holding child's life: says it is ready, then waits for the runtime's parent (the template's
/// fork) to report the runtime's wait status on the anchor, passes it to the helper and exits.
/// Its end of the anchor closing (the helper killed it: the server dropped the environment) tells
/// the runtime's parent to kill the runtime.
fn hold(parent: &mut UnixStream, mut anchor: UnixStream) -> Result<Never, String> {
    parent
        .write_all(b"R")
        .map_err(|e| format!("saying the environment is ready: {e}"))?;
    let mut status = [0u8; 4];
    if anchor.read_exact(&mut status).is_err() {
        return Err("the runtime's parent ended without a status".into());
    }
    let mut report = vec![b'S'];
    report.extend_from_slice(&status);
    let _ = parent.write_all(&report);
    // SAFETY: _exit(2) ends this process at once.
    unsafe { libc::_exit(0) }
}

fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let source_c = source.map(cstring).transpose()?;
    let target_c = cstring(target)?;
    let fstype_c = fstype.map(|s| CString::new(s).unwrap_or_default());
    let data_c = data.map(|s| CString::new(s).unwrap_or_default());
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string that outlives the call, or null.
    let ret = unsafe {
        libc::mount(
            ptr(&source_c),
            target_c.as_ptr(),
            ptr(&fstype_c),
            flags,
            ptr(&data_c).cast(),
        )
    };
    check(ret, &format!("mount {}", target.display()))
}

fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn bind(source: &Path, target: &Path, flags: libc::c_ulong) -> Result<(), String> {
    let is_dir = std::fs::metadata(source)
        .map_err(|e| format!("{}: {e}", source.display()))?
        .is_dir();
    if is_dir {
        std::fs::create_dir_all(target)
    } else if target.exists() {
        // A file inside an earlier (read-only) bind, e.g. /etc/passwd: mounted over as it is.
        Ok(())
    } else {
        std::fs::create_dir_all(target.parent().unwrap_or(target))
            .and_then(|()| std::fs::File::create(target).map(drop))
    }
    .map_err(|e| format!("creating {}: {e}", target.display()))?;
    mount(
        Some(source),
        target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    mount(
        None,
        target,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | flags,
        None,
    )
}

fn build_root(plan: &Plan) -> Result<(), String> {
    let root = &plan.root;
    let base = libc::MS_NOSUID | libc::MS_NODEV;
    mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        base,
        Some("size=1m,mode=755"),
    )?;
    for b in &plan.binds {
        let flags = base | if b.writable { 0 } else { libc::MS_RDONLY };
        bind(&b.source, &inside(root, &b.target), flags)?;
    }
    for device in &plan.devices {
        bind(
            device,
            &inside(root, device),
            libc::MS_NOSUID | libc::MS_NOEXEC,
        )?;
    }
    for (link, to) in &plan.symlinks {
        let link = inside(root, link);
        let _ = std::fs::create_dir_all(link.parent().unwrap_or(root));
        std::os::unix::fs::symlink(to, &link)
            .map_err(|e| format!("symlink {}: {e}", link.display()))?;
    }
    let tmp = root.join("tmp");
    let proc_dir = root.join("proc");
    // A holding child is not in the runtime's pid namespace: the runtime mounts its own /proc.
    let mount_proc = !plan.hold;
    // `/opt` is where layers land on Lambda; without layers it is an empty, read-only directory.
    let opt = root.join("opt");
    for dir in [&tmp, &proc_dir, &opt] {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let size = format!("size={}m,mode=1777", plan.tmp_mb.max(1));
    mount(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        base,
        Some(&size),
    )?;
    if mount_proc {
        mount(
            Some(Path::new("proc")),
            &proc_dir,
            Some("proc"),
            base | libc::MS_NOEXEC,
            None,
        )?;
    }
    // The skeleton itself is read-only: the function writes to /tmp only.
    mount(
        None,
        root,
        None,
        libc::MS_REMOUNT | libc::MS_RDONLY | base,
        None,
    )?;
    std::env::set_current_dir(root).map_err(|e| format!("chdir {}: {e}", root.display()))?;
    let dot = c".";
    // SAFETY: pivot_root(2) and umount2(2) with NUL-terminated constant strings.
    unsafe {
        check(
            libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) as libc::c_int,
            "pivot_root",
        )?;
        // The old root is now stacked under "/": detach it so nothing of the host stays reachable.
        check(
            libc::umount2(dot.as_ptr(), libc::MNT_DETACH),
            "detaching the old root",
        )?;
    }
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))
}
