//! An environment's own network: a network namespace whose listeners the server serves.
//!
//! The helper unshares a network namespace, brings its `lo` up, binds the Runtime API
//! (`127.0.0.1:9001`, as on Lambda) and the Nubo endpoint (`127.0.0.1:<the server's port>`, and
//! `[::1]` when the namespace has IPv6) in there, and hands the listening sockets to the server
//! over its control socket (`SCM_RIGHTS`). The server serves them like any listener; nothing of
//! the environment listens on the host, and the environment sees no host listener and no other
//! environment (abstract unix sockets are per network namespace too).
//!
//! Traffic beyond the namespace goes through a user-mode network stack the helper attaches
//! (`FunctionNetwork::Outbound`: `slirp4netns`, ~3 ms and ~1 MB per environment, with host
//! loopback disabled; `pasta` where slirp4netns is missing), or nowhere (`None`). In `HostLoopback`
//! mode `pasta -T auto` also binds, inside, every port the host has bound on loopback and forwards
//! it there, so a function's `127.0.0.1:5432` is the host's database, as `sam local` users expect.
//! The stack runs outside the environment's cgroups (platform overhead, never frozen) and ends
//! with the helper (`slirp4netns --exit-fd`; `PDEATHSIG` for pasta).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `AWS_LAMBDA_RUNTIME_API` inside an environment's own network namespace, as on Lambda.
pub const RUNTIME_API_INSIDE: &str = "127.0.0.1:9001";
const RUNTIME_API_PORT: u16 = 9001;
/// The Nubo endpoint's port inside when the server's own is 9001 (the Runtime API's).
const ENDPOINT_PORT_FALLBACK: u16 = 4750;

/// What a function's network reaches (`--function-network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunctionNetwork {
    /// Non-loopback destinations the host has a route to, through a user-mode network stack;
    /// the host's loopback services are out of reach.
    #[default]
    Outbound,
    /// Only the Nubo endpoint.
    None,
    /// Outbound, and the host's loopback services at `127.0.0.1:<port>` (local development).
    HostLoopback,
    /// No network namespace: the host's network, Runtime API on a host loopback port any local
    /// process can reach. For comparison (benchmarks) and kernels that refuse namespaces.
    Host,
}

impl FunctionNetwork {
    /// The flag's value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::None => "none",
            Self::HostLoopback => "host-loopback",
            Self::Host => "host",
        }
    }
}

/// The user-mode network stacks we know how to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StackKind {
    Slirp4netns,
    Pasta,
}

/// The stack an environment's helper attaches to its namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stack {
    pub(crate) kind: StackKind,
    pub(crate) program: PathBuf,
    /// Let the function reach the host's loopback services.
    pub(crate) host_loopback: bool,
}

impl Stack {
    /// The stacks to try for `network`, best first, from the programs found on `path`.
    pub(crate) fn candidates(
        network: FunctionNetwork,
        path: Option<&std::ffi::OsStr>,
    ) -> Vec<Self> {
        let find = |name: &str| -> Option<PathBuf> {
            std::env::split_paths(path?)
                .map(|dir| dir.join(name))
                .find(|candidate| is_executable(candidate))
        };
        let slirp = find("slirp4netns");
        let pasta = find("pasta");
        let stack = |kind, program: Option<PathBuf>, host_loopback| {
            program.map(|program| Self {
                kind,
                program,
                host_loopback,
            })
        };
        match network {
            // slirp4netns first: pasta takes ~60 ms and ~30 MB per environment here.
            FunctionNetwork::Outbound => [
                stack(StackKind::Slirp4netns, slirp, false),
                stack(StackKind::Pasta, pasta, false),
            ]
            .into_iter()
            .flatten()
            .collect(),
            // Only pasta maps the host's loopback ports to the namespace's 127.0.0.1; slirp4netns
            // can show them at its gateway (10.0.2.2), the next best thing.
            FunctionNetwork::HostLoopback => [
                stack(StackKind::Pasta, pasta, true),
                stack(StackKind::Slirp4netns, slirp, true),
            ]
            .into_iter()
            .flatten()
            .collect(),
            FunctionNetwork::None | FunctionNetwork::Host => Vec::new(),
        }
    }

    /// One line for the start-up description.
    pub(crate) fn describe(&self) -> String {
        match (self.kind, self.host_loopback) {
            (StackKind::Slirp4netns, false) => {
                "outbound via slirp4netns (host loopback unreachable)".into()
            }
            (StackKind::Pasta, false) => "outbound via pasta (host loopback unreachable)".into(),
            (StackKind::Pasta, true) => {
                "outbound via pasta; the host's loopback services at 127.0.0.1:<port>".into()
            }
            (StackKind::Slirp4netns, true) => {
                "outbound via slirp4netns; the host's loopback services at 10.0.2.2:<port> (pasta not found: 127.0.0.1 would need it)".into()
            }
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What the helper does for an environment's network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetPlan {
    /// Addresses to listen on inside, sent back over the control socket in this order (IPv6
    /// ones may be missing when the namespace has no IPv6).
    pub(crate) listen: Vec<SocketAddr>,
    pub(crate) stack: Option<Stack>,
}

impl NetPlan {
    /// The Runtime API and the Nubo endpoint (the server's port, or a stand-in if that is 9001).
    pub(crate) fn for_endpoint(server_port: u16, stack: Option<Stack>) -> Self {
        let port = inside_endpoint_port(server_port);
        Self {
            listen: vec![
                SocketAddr::from(([127, 0, 0, 1], RUNTIME_API_PORT)),
                SocketAddr::from(([127, 0, 0, 1], port)),
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            ],
            stack,
        }
    }
}

/// The Nubo endpoint's port inside an environment.
pub fn inside_endpoint_port(server_port: u16) -> u16 {
    if server_port == RUNTIME_API_PORT {
        ENDPOINT_PORT_FALLBACK
    } else {
        server_port
    }
}

/// The listeners an environment's helper made inside its namespace.
#[derive(Debug)]
pub struct InsideListeners {
    /// `127.0.0.1:9001`.
    pub runtime_api: std::net::TcpListener,
    /// The Nubo endpoint (`127.0.0.1:<port>`, and `[::1]:<port>` when there is IPv6).
    pub endpoint: Vec<std::net::TcpListener>,
}

/// The server's end of the helper's control socket: the listeners arrive on it, and closing it
/// (the environment dropped, or the server gone) makes the helper end the environment.
#[derive(Debug)]
pub struct Control(tokio::net::UnixStream);

#[cfg(target_os = "linux")]
impl Control {
    /// Wraps the server's end (in a tokio runtime).
    pub(crate) fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self(tokio::net::UnixStream::from_std(stream)?))
    }

    /// Waits for the helper's listeners (it sends them before it starts the runtime).
    pub async fn listeners(&self) -> io::Result<InsideListeners> {
        let raw = self.0.as_raw_fd();
        let (flags, fds) = loop {
            self.0.readable().await?;
            match self
                .0
                .try_io(tokio::io::Interest::READABLE, || receive_fds(raw, 4))
            {
                Ok(result) => break result,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        };
        if flags.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the sandbox helper exited before its network was ready (see the function's log)",
            ));
        }
        let mut fds = fds.into_iter();
        let mut listeners = Vec::new();
        for flag in flags {
            if flag == 1 {
                let fd = fds.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "fewer listeners than announced")
                })?;
                let listener = std::net::TcpListener::from(fd);
                listener.set_nonblocking(true)?;
                listeners.push(Some(listener));
            } else {
                listeners.push(None);
            }
        }
        let mut listeners = listeners.into_iter();
        let runtime_api = listeners
            .next()
            .flatten()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Runtime API listener"))?;
        Ok(InsideListeners {
            runtime_api,
            endpoint: listeners.flatten().collect(),
        })
    }
}

#[cfg(target_os = "linux")]
impl Control {
    /// Waits for a holding helper's hand-over ([`super::init::HELD`]): the anchor socket, then
    /// the environment's namespaces (user, mount, net), then the network stack's readiness pipe
    /// when there is a stack.
    pub(crate) async fn held(&self) -> io::Result<Vec<OwnedFd>> {
        let raw = self.0.as_raw_fd();
        loop {
            self.0.readable().await?;
            match self
                .0
                .try_io(tokio::io::Interest::READABLE, || receive_fds(raw, 8))
            {
                Ok((payload, fds)) if payload == super::init::HELD && (4..=5).contains(&fds.len()) => {
                    return Ok(fds)
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the sandbox helper ended before the environment was ready (see the function's log)",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Control {
    /// Only Linux gives environments a network of their own.
    pub async fn listeners(&self) -> io::Result<InsideListeners> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Only Linux holds environments for templates.
    pub(crate) async fn held(&self) -> io::Result<Vec<OwnedFd>> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Sends `payload` with `fds` attached (`SCM_RIGHTS`). Blocking; the helper's side.
pub(crate) fn send_fds(socket: BorrowedFd<'_>, payload: &[u8], fds: &[RawFd]) -> io::Result<()> {
    assert!(
        !payload.is_empty(),
        "a stream socket carries descriptors only with data"
    );
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    let data_len = std::mem::size_of_val(fds) as libc::c_uint;
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    // u64 words: the control buffer must be aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: a zeroed msghdr is a valid empty message; every pointer set below outlives the call.
    unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        if !fds.is_empty() {
            message.msg_control = control.as_mut_ptr().cast();
            message.msg_controllen = space as _;
            let header = libc::CMSG_FIRSTHDR(&message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(data_len) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(header).cast::<RawFd>(),
                fds.len(),
            );
        }
        if libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
/// Receives one message and up to `max_fds` descriptors (close-on-exec). An empty payload means
/// the peer closed the socket.
fn receive_fds(socket: RawFd, max_fds: usize) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut payload = [0u8; 16];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE((max_fds * std::mem::size_of::<RawFd>()) as u32) };
    let mut control = vec![0u64; (space as usize).div_ceil(8)];
    let mut fds = Vec::new();
    // SAFETY: as in `send_fds`; the descriptors read from the control data are new and ours.
    let received = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = space as _;
        let n = libc::recvmsg(socket, &mut message, libc::MSG_CMSG_CLOEXEC);
        if n == -1 {
            return Err(io::Error::last_os_error());
        }
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
        n as usize
    };
    Ok((payload[..received].to_vec(), fds))
}

// ------------------------------------------------------------------------------------------------
// The helper's side (single-threaded, before the runtime's fork).
// ------------------------------------------------------------------------------------------------

#[cfg(target_os = "linux")]
/// Enters a new network namespace, binds the plan's listeners and sends them over `control`,
/// and attaches the user-mode stack. Returns the stack's readiness pipe (one byte or EOF), to be
/// waited on before the runtime starts.
pub(crate) fn enter(
    plan: &NetPlan,
    control: Option<BorrowedFd<'_>>,
) -> Result<Option<OwnedFd>, String> {
    // The stack must live in the host's namespace (its sockets are the way out): it goes back
    // there before it execs.
    let host_namespace = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| format!("opening the host's network namespace: {e}"))?;
    // SAFETY: unshare(2) takes flags only; the helper is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == -1 {
        return Err(format!("unshare(net): {}", io::Error::last_os_error()));
    }
    loopback_up().map_err(|e| format!("bringing lo up: {e}"))?;
    let mut flags = Vec::with_capacity(plan.listen.len());
    let mut listeners = Vec::new();
    for address in &plan.listen {
        match std::net::TcpListener::bind(address) {
            Ok(listener) => {
                flags.push(1u8);
                listeners.push(listener);
            }
            // A namespace without IPv6 (disabled on the host) still serves the endpoint on IPv4.
            Err(_) if address.is_ipv6() => flags.push(0),
            Err(e) => return Err(format!("listening on {address} inside: {e}")),
        }
    }
    if let Some(control) = control {
        if !flags.is_empty() {
            let raw: Vec<RawFd> = listeners.iter().map(AsRawFd::as_raw_fd).collect();
            send_fds(control, &flags, &raw)
                .map_err(|e| format!("handing the listeners out: {e}"))?;
        }
    }
    drop(listeners);
    match &plan.stack {
        Some(stack) => attach(stack, host_namespace.as_raw_fd()).map(Some),
        None => Ok(None),
    }
}

#[cfg(target_os = "linux")]
fn loopback_up() -> io::Result<()> {
    // SAFETY: socket/ioctl/close on a descriptor we own, with a zeroed `ifreq` we fill in.
    unsafe {
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if socket == -1 {
            return Err(io::Error::last_os_error());
        }
        let socket = OwnedFd::from_raw_fd(socket);
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) == -1 {
            return Err(io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) writes two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(target_os = "linux")]
/// Starts the stack for this process's (new) network namespace; returns its readiness pipe.
fn attach(stack: &Stack, host_namespace: RawFd) -> Result<OwnedFd, String> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let (ready_read, ready_write) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut command = Command::new(&stack.program);
    command
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Kept open by the helper (close-on-exec, so not by the runtime): its end tells slirp4netns
    // to exit.
    let mut exit_pipe = None;
    match stack.kind {
        StackKind::Slirp4netns => {
            let (exit_read, exit_write) = pipe().map_err(|e| format!("pipe: {e}"))?;
            command.args(["--configure", "--mtu=65520", "--ready-fd=3", "--exit-fd=4"]);
            if !stack.host_loopback {
                command.arg("--disable-host-loopback");
            }
            command.arg(std::process::id().to_string()).arg("tap0");
            let (ready, exit) = (ready_write.as_raw_fd(), exit_read.as_raw_fd());
            // SAFETY: dup2/setns/prctl are async-signal-safe; the helper is single-threaded anyway.
            unsafe {
                command.pre_exec(move || {
                    // First: the namespace's descriptor may be 3 or 4, which the dup2s replace;
                    // and the pipes go through high numbers so neither overwrites the other.
                    back_home(host_namespace)?;
                    let ready = libc::fcntl(ready, libc::F_DUPFD, 10);
                    let exit = libc::fcntl(exit, libc::F_DUPFD, 10);
                    if ready == -1
                        || exit == -1
                        || libc::dup2(ready, 3) == -1
                        || libc::dup2(exit, 4) == -1
                    {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            exit_pipe = Some((exit_read, exit_write));
        }
        StackKind::Pasta => {
            // pasta drops the capabilities that opening /proc/<pid>/ns/net needs: it gets our
            // namespace as its stdin instead, and writes its pid (our readiness byte) to stdout.
            let namespace = std::fs::File::open("/proc/self/ns/net")
                .map_err(|e| format!("opening the network namespace: {e}"))?;
            // SAFETY: getuid/getgid cannot fail.
            let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
            let forwarded = if stack.host_loopback { "auto" } else { "none" };
            command
                .args([
                    "--runas",
                    &format!("{uid}:{gid}"),
                    "-f",
                    "-q",
                    "--config-net",
                ])
                .args(["-t", "none", "-u", "none", "-T", forwarded, "-U", forwarded])
                .args([
                    "--no-map-gw",
                    "--netns",
                    "/proc/self/fd/0",
                    "-P",
                    "/proc/self/fd/1",
                ])
                .stdin(Stdio::from(OwnedFd::from(namespace)))
                .stdout(Stdio::from(
                    ready_write.try_clone().map_err(|e| format!("dup: {e}"))?,
                ));
            // SAFETY: setns/prctl are async-signal-safe.
            unsafe {
                command.pre_exec(move || back_home(host_namespace));
            }
        }
    }
    command
        .spawn()
        .map_err(|e| format!("starting {}: {e}", stack.program.display()))?;
    drop(ready_write);
    if let Some((exit_read, exit_write)) = exit_pipe {
        drop(exit_read);
        // Lives as long as the helper: never closed explicitly.
        std::mem::forget(exit_write);
    }
    Ok(ready_read)
}

#[cfg(target_os = "linux")]
/// In the stack's process before exec: back to the host's network namespace, and dead with the
/// helper.
#[cfg(target_os = "linux")]
fn back_home(host_namespace: RawFd) -> io::Result<()> {
    // SAFETY: setns/prctl with integer arguments.
    unsafe {
        if libc::setns(host_namespace, libc::CLONE_NEWNET) == -1 {
            return Err(io::Error::last_os_error());
        }
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    Ok(())
}

/// Waits (at most 5 s) for the stack's readiness byte.
pub(crate) fn wait_ready(ready: &OwnedFd, program: &str) -> Result<(), String> {
    let mut poll = libc::pollfd {
        fd: ready.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll/read on a descriptor we own, into a local buffer.
    unsafe {
        let ret = libc::poll(&mut poll, 1, 5000);
        if ret == 0 {
            return Err(format!("{program} was not ready within 5 s"));
        }
        let mut byte = [0u8; 1];
        if libc::read(ready.as_raw_fd(), byte.as_mut_ptr().cast(), 1) != 1 {
            return Err(format!("{program} failed to set the network up"));
        }
    }
    Ok(())
}
