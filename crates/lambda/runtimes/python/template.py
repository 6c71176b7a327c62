"""Nubo's python template: an interpreter with the bootstrap loaded that forks new environments.

Started by the server as `python -u -S template.py` with a unix socket on stdin. It says "R" when
ready, then for every message carrying a socket it forks and goes back to waiting; it never reads
what an environment is, so no function's variables or credentials ever sit in its memory. The
fork reads the environment's document and descriptors from that socket, joins the environment
the sandbox helper holds (cgroups; network, pid and mount namespaces; then the user namespace),
drops its privileges as the helper would before exec (uid 993, rlimits, no-new-privileges,
seccomp), forks the runtime into the pid namespace, waits for it and reports its wait status on
the anchor socket. The runtime takes the function's variables and runs the bootstrap's `main`.
See crates/lambda/src/sandbox/template.rs.
"""

import _socket
import ctypes
import gc
import json
import os
import resource
import select
import signal
import struct
import sys
import time

import bootstrap

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

LIBC = ctypes.CDLL(None, use_errno=True)
# prctl(2) is variadic: its arguments must go as full words.
LIBC.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
LIBC.setns.argtypes = [ctypes.c_int, ctypes.c_int]
LIBC.unshare.argtypes = [ctypes.c_int]
LIBC.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
INT_SIZE = struct.calcsize("i")


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def checked(ret, what):
    if ret == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, "%s: %s" % (what, os.strerror(errno)))


def receive(sock, size, max_fds):
    """One message and the descriptors that came with it."""
    data, ancillary, _, _ = sock.recvmsg(size, _socket.CMSG_SPACE(max_fds * INT_SIZE))
    fds = []
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % INT_SIZE
            fds.extend(struct.unpack("%di" % (usable // INT_SIZE), payload[:usable]))
    return data, fds


def join(spec):
    """As root on the host: join the environment's cgroups and make its pid namespace (an empty
    one cannot be entered, so not the holder's): the next fork is its pid 1."""
    me = str(os.getpid())
    for procs in spec["cgroups"]:
        with open(procs, "w") as f:
            f.write(me)
    checked(LIBC.unshare(CLONE_NEWPID), "unshare(pid)")
    os.setgroups([])


def enter(namespaces):
    """The runtime, pid 1 of its namespace and still root on the host: into the environment's
    network and mount namespaces, with its own /proc."""
    _, mnt, net = namespaces
    checked(LIBC.setns(net, CLONE_NEWNET), "setns(net)")
    checked(LIBC.setns(mnt, CLONE_NEWNS), "setns(mount)")
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    checked(LIBC.mount(b"proc", b"/proc", b"proc", flags, None), "mounting /proc")


def drop(spec, user):
    """Into the user namespace as uid 993, with Lambda's limits, no new privileges and the
    seccomp filter: as the sandbox helper leaves a runtime it execs."""
    checked(LIBC.setns(user, CLONE_NEWUSER), "setns(user)")
    uid = spec["uid"]
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    for name, limit in spec["rlimits"]:
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), (limit, limit))
    checked(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    program = spec.get("seccomp")
    if program:
        filters = (SockFilter * len(program))(*[SockFilter(*f) for f in program])
        fprog = SockFprog(len(program), filters)
        checked(
            LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0),
            "installing the seccomp filter",
        )


def run_runtime(spec):
    """The runtime: the function's variables, Lambda's argv, the bootstrap's main loop."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.closerange(3, 1 << 16)
    os.environ.clear()
    os.environ.update(spec["env"])
    if "TZ" in os.environ:
        time.tzset()
    args = spec["args"]
    # args as a plain start gets them: interpreter flags, the bootstrap, then Nubo's arguments.
    script = next((i for i, a in enumerate(args) if a.endswith(".py")), len(args) - 1)
    sys.argv = args[script:]
    # What the interpreter would have put first had it started with the function's PYTHONPATH.
    front = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    sys.path[:0] = [p for p in front if p not in sys.path]
    gc.enable()
    bootstrap.main(forked=True)


def environment(sock):
    """The template's fork: becomes the environment's parent process."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    first, fds = receive(sock, 1 << 16, 8)
    chunks = [first]
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    sock.close()
    if len(fds) not in (6, 7):
        raise SystemExit("nubo template: the environment came without its descriptors")
    spec = json.loads(b"".join(chunks))
    stdout, stderr, anchor = fds[:3]
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.close(stdout)
    os.close(stderr)
    namespaces = fds[3:6]
    network_ready = fds[6] if len(fds) == 7 else None
    join(spec)
    runtime = os.fork()
    if runtime == 0:
        try:
            os.close(anchor)
            enter(namespaces)
            drop(spec, namespaces[0])
            for fd in namespaces:
                os.close(fd)
            # Changing uids made it undumpable (its /proc/self root's); an exec'd runtime is not.
            checked(LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
            os.chdir(spec["cwd"])
            if network_ready is not None:
                wait_for_network(network_ready)
            run_runtime(spec)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if e.code is not None and not isinstance(e.code, int):
                sys.stderr.write("%s\n" % e.code)
            sys.stdout.flush()
            os._exit(code)
        except BaseException:
            import traceback

            traceback.print_exc()
            sys.stdout.flush()
            os._exit(1)
        os._exit(0)
    # This process, too, keeps no privilege: it only waits, as the sandbox helper's smaller
    # binary if it can (an interpreter's copy-on-write pages cost ~1 MB per environment).
    drop(spec, namespaces[0])
    for fd in namespaces:
        os.close(fd)
    if network_ready is not None:
        os.close(network_ready)
    waiter = spec.get("waiter")
    if waiter:
        try:
            os.set_inheritable(anchor, True)
            os.execv(waiter[0], waiter + [str(runtime), str(anchor)])
        except OSError:
            pass
    status = wait(runtime, anchor)
    try:
        os.write(anchor, struct.pack("=i", status))
    except OSError:
        pass
    os._exit(0)


def wait_for_network(ready):
    """As a plain start does before exec: the user-mode network stack's readiness byte."""
    watched = select.poll()
    watched.register(ready, select.POLLIN)
    if not watched.poll(5000):
        raise OSError("the network stack was not ready within 5 s")
    if not os.read(ready, 1):
        raise OSError("the network stack failed to set the network up")


def wait(runtime, anchor):
    """The runtime's wait status; kills it first if the holder goes (the environment dropped)."""
    watched = select.poll()
    pidfd = os.pidfd_open(runtime)
    watched.register(pidfd, select.POLLIN)
    watched.register(anchor, select.POLLIN)
    while True:
        ready = [fd for fd, _ in watched.poll()]
        if pidfd in ready:
            break
        if anchor in ready:
            os.kill(runtime, signal.SIGKILL)
            watched.unregister(anchor)
    try:
        return os.waitpid(runtime, 0)[1]
    except ChildProcessError:
        return 0


def main():
    control = _socket.socket(fileno=os.dup(0))
    os.close(0)
    os.open(os.devnull, os.O_RDONLY)
    bootstrap.prepare()
    # The fork's children are reaped by the kernel; the fork itself waits for its runtime.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Everything loaded so far is shared with every fork: keep the collector off those pages.
    gc.collect()
    gc.freeze()
    gc.disable()
    control.sendall(b"R")
    while True:
        try:
            data, fds = receive(control, 16, 4)
        except InterruptedError:
            continue
        if not data:
            os._exit(0)
        for fd in fds[1:]:
            os.close(fd)
        if not fds:
            continue
        child = os.fork()
        if child == 0:
            control.close()
            try:
                environment(_socket.socket(fileno=fds[0]))
            except BaseException as e:
                sys.stderr.write("nubo template: %s\n" % e)
            os._exit(125)
        os.close(fds[0])


if __name__ == "__main__":
    main()
