//! The seccomp filter every sandboxed runtime runs under.
//!
//! It refuses, with `EPERM`, the system calls a function has no business making and that widen
//! the kernel's attack surface: new namespaces (`unshare`/`clone` with any `CLONE_NEW*` flag, and
//! `setns`), mounting (`mount`, `umount2`, `pivot_root`, `chroot` and the new mount API), keyrings,
//! `bpf`, `perf_event_open`, `userfaultfd`, tracing other processes (`ptrace`,
//! `process_vm_*`, `kcmp`, `pidfd_getfd`), kernel modules and `kexec`, `open_by_handle_at`,
//! `io_uring` and a few administrative calls. `EPERM` rather than killing the process: runtimes
//! and libraries probe for features (libuv tries `io_uring`, glibc tries `clone3`) and must
//! survive the answer. `clone3` gets `ENOSYS` instead, because its flags sit in a struct a filter
//! cannot read, and `ENOSYS` is what makes glibc fall back to `clone`, whose flags it can.
//!
//! Hand-written classic BPF: one short program, no dependency, and the two cases a generic
//! builder does not cover (a foreign architecture's calls and x32's numbers are refused too).

use std::io;

/// The instruction set subset we use (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGE_K: u16 = 0x35;
const JMP_JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;

/// `struct seccomp_data` offsets: the call number, the architecture, the low half of the first
/// argument (little-endian).
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARG0_LOW_OFFSET: u32 = 16;

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64

/// x32 system calls share x86_64's architecture value and set this bit in the number.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Every namespace flag `clone` takes (its low byte is the exit signal, so no `CLONE_NEWTIME`).
const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;
/// Every namespace flag `unshare` takes.
const UNSHARE_NAMESPACES: u32 = CLONE_NAMESPACES | libc::CLONE_NEWTIME as u32;

/// Refused outright with `EPERM`.
const REFUSED: &[libc::c_long] = &[
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_syslog,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_quotactl_fd,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_lookup_dcookie,
    libc::SYS_vhangup,
    libc::SYS_fanotify_init,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

/// The names of what the filter refuses, for the start-up line.
pub(crate) const SUMMARY: &str = "EPERM for new namespaces, setns, mount/umount/pivot_root, keyrings, bpf, ptrace, perf_event_open, kexec, modules, userfaultfd, open_by_handle_at, io_uring";

/// A jump target while the program is assembled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Next,
    Deny,
    NoSys,
    CheckClone,
    CheckUnshare,
}

enum Step {
    Load(u32),
    Jump {
        code: u16,
        k: u32,
        yes: Label,
        no: Label,
    },
    Return(u32),
    /// Marks where a label points (emits nothing).
    Here(Label),
}

/// The filter as classic BPF instructions.
pub(crate) fn program() -> Vec<libc::sock_filter> {
    use Label::*;
    let mut steps = vec![
        Step::Load(ARCH_OFFSET),
        Step::Jump {
            code: JMP_JEQ_K,
            k: NATIVE_ARCH,
            yes: Next,
            no: Deny,
        },
        Step::Load(NR_OFFSET),
    ];
    #[cfg(target_arch = "x86_64")]
    steps.push(Step::Jump {
        code: JMP_JGE_K,
        k: X32_SYSCALL_BIT,
        yes: Deny,
        no: Next,
    });
    for &nr in REFUSED {
        steps.push(Step::Jump {
            code: JMP_JEQ_K,
            k: nr as u32,
            yes: Deny,
            no: Next,
        });
    }
    for (nr, target) in [
        (libc::SYS_clone, CheckClone),
        (libc::SYS_unshare, CheckUnshare),
        (libc::SYS_clone3, NoSys),
    ] {
        steps.push(Step::Jump {
            code: JMP_JEQ_K,
            k: nr as u32,
            yes: target,
            no: Next,
        });
    }
    steps.extend([
        Step::Return(RET_ALLOW),
        Step::Here(CheckClone),
        Step::Load(ARG0_LOW_OFFSET),
        Step::Jump {
            code: JMP_JSET_K,
            k: CLONE_NAMESPACES,
            yes: Deny,
            no: Next,
        },
        // BPF only jumps forward: each branch ends in a return of its own.
        Step::Return(RET_ALLOW),
        Step::Here(CheckUnshare),
        Step::Load(ARG0_LOW_OFFSET),
        Step::Jump {
            code: JMP_JSET_K,
            k: UNSHARE_NAMESPACES,
            yes: Deny,
            no: Next,
        },
        Step::Return(RET_ALLOW),
        Step::Here(NoSys),
        Step::Return(RET_ERRNO | libc::ENOSYS as u32),
        Step::Here(Deny),
        Step::Return(RET_ERRNO | libc::EPERM as u32),
    ]);
    assemble(&steps)
}

fn assemble(steps: &[Step]) -> Vec<libc::sock_filter> {
    // Where each label lands, counted in emitted instructions.
    let mut at = Vec::new();
    let mut index = 0usize;
    for step in steps {
        match step {
            Step::Here(label) => at.push((*label, index)),
            _ => index += 1,
        }
    }
    let target = |label: Label, from: usize| -> u8 {
        if label == Label::Next {
            return 0;
        }
        let to = at
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, i)| *i)
            .expect("every label used is placed");
        // Jumps are relative to the next instruction and only go forward, at most 255.
        u8::try_from(to - from - 1).expect("the filter is short enough for 8-bit jumps")
    };
    let mut out = Vec::with_capacity(index);
    for step in steps {
        let i = out.len();
        let insn = match *step {
            Step::Here(_) => continue,
            Step::Load(offset) => filter(LD_W_ABS, 0, 0, offset),
            Step::Return(value) => filter(RET_K, 0, 0, value),
            Step::Jump { code, k, yes, no } => filter(code, target(yes, i), target(no, i), k),
        };
        out.push(insn);
    }
    out
}

fn filter(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Installs `program` on the calling thread (inherited by what it forks and execs). Needs
/// no-new-privileges (or `CAP_SYS_ADMIN`). Async-signal-safe: one `prctl`.
pub(crate) fn install(program: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel copies the program during the call; `fprog` points into a live slice.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog as libc::c_ulong,
            0,
            0,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_stay_in_range_and_end_in_returns() {
        let program = program();
        assert!(program.len() < 100, "{}", program.len());
        for (i, insn) in program.iter().enumerate() {
            if insn.code & 0x07 == 0x05 {
                assert!(i + 1 + (insn.jt as usize) < program.len());
                assert!(i + 1 + (insn.jf as usize) < program.len());
            }
        }
        assert_eq!(program.last().map(|i| i.code), Some(RET_K));
    }

    /// Runs `probe` in a forked child under the filter; returns the errno it saw (0 for success).
    fn errno_under_filter(probe: fn() -> libc::c_long) -> i32 {
        let program = program();
        // SAFETY: the child makes only async-signal-safe calls (prctl, the probed syscall, _exit).
        unsafe {
            let child = libc::fork();
            assert!(child >= 0);
            if child == 0 {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if install(&program).is_err() {
                    libc::_exit(200);
                }
                let ret = probe();
                let errno = if ret == -1 {
                    *libc::__errno_location()
                } else {
                    0
                };
                libc::_exit(errno.min(199));
            }
            let mut status = 0;
            libc::waitpid(child, &mut status, 0);
            assert!(libc::WIFEXITED(status), "the child was killed: {status}");
            libc::WEXITSTATUS(status)
        }
    }

    #[test]
    fn refused_calls_get_eperm_and_the_rest_pass() {
        // SAFETY (all probes): raw syscalls with integer or null arguments.
        let unshare_user: fn() -> libc::c_long =
            || unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) };
        assert_eq!(errno_under_filter(unshare_user), libc::EPERM);
        let mount: fn() -> libc::c_long = || unsafe {
            libc::syscall(
                libc::SYS_mount,
                c"none".as_ptr(),
                c"/".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                0,
            )
        };
        assert_eq!(errno_under_filter(mount), libc::EPERM);
        let ptrace: fn() -> libc::c_long =
            || unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0) };
        assert_eq!(errno_under_filter(ptrace), libc::EPERM);
        let keyctl: fn() -> libc::c_long = || unsafe { libc::syscall(libc::SYS_keyctl, 0, 0) };
        assert_eq!(errno_under_filter(keyctl), libc::EPERM);
        let clone3: fn() -> libc::c_long =
            || unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0) };
        assert_eq!(errno_under_filter(clone3), libc::ENOSYS);
        // Allowed: an unshare without namespace flags, and ordinary calls.
        let unshare_files: fn() -> libc::c_long =
            || unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_FILES) };
        assert_eq!(errno_under_filter(unshare_files), 0);
        let getpid: fn() -> libc::c_long = || unsafe { libc::syscall(libc::SYS_getpid) };
        assert_eq!(errno_under_filter(getpid), 0);
        // A plain fork (clone without namespace flags) still works under the filter.
        let fork: fn() -> libc::c_long = || unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(0);
            }
            if pid > 0 {
                libc::waitpid(pid, std::ptr::null_mut(), 0);
                0
            } else {
                -1
            }
        };
        assert_eq!(errno_under_filter(fork), 0);
    }
}
