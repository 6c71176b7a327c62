//! Per-environment cgroups on the hybrid layout this platform targets: limits in v1
//! (`/sys/fs/cgroup/{memory,pids,cpu}`), `cgroup.kill` and `cgroup.freeze` in v2
//! (`/sys/fs/cgroup/unified`), or the v1 freezer where v2 has no `cgroup.freeze`.
//!
//! Every environment gets `<the server's own cgroup>/nubo-<server pid>/<environment id>` in each
//! hierarchy it was granted at start-up. The helper moves itself into the memory and pids groups
//! before it forks, so the runtime and everything it forks are counted; the runtime (pid 1 of
//! its namespace) alone joins the v2 group (or v1 freezer), so freezing an idle environment
//! freezes the function's processes but never the helper, which must stay awake to notice that
//! the server is gone. Plain file I/O: no unsafe code here.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The cgroup hierarchies granted at start-up: each one is the server's parent directory
/// (`…/nubo-<pid>`) for environments.
#[derive(Debug, Clone, Default)]
pub(crate) struct CgroupRoots {
    pub(crate) memory: Option<PathBuf>,
    pub(crate) pids: Option<PathBuf>,
    pub(crate) cpu: Option<PathBuf>,
    pub(crate) unified: Option<PathBuf>,
    /// True when the v2 group has `cgroup.freeze` (else `freezer` may stand in).
    pub(crate) unified_freeze: bool,
    /// The v1 freezer, only where v2 cannot freeze.
    pub(crate) freezer: Option<PathBuf>,
}

/// The number of processes an environment may have (Lambda's limit is 1024).
pub(crate) const PIDS_MAX: u32 = 1024;
/// Memory that buys one full vCPU on Lambda.
pub(crate) const MB_PER_VCPU: u64 = 1769;
const CPU_PERIOD_US: u64 = 100_000;

/// The cgroup path of this process in hierarchy `controller` (v1) or the v2 one (`""`).
fn own_path(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        wanted.then(|| path.to_owned())
    })
}

impl CgroupRoots {
    /// Creates `nubo-<pid>` under this process's own cgroup in each hierarchy, keeping those where
    /// a probe child accepts the limit we need.
    pub(crate) fn probe() -> (Self, Vec<String>) {
        let mut refused = Vec::new();
        let server = format!("nubo-{}", std::process::id());
        let mut try_one = |mount: &str, controller: &str, file: &str, value: &str| {
            let result = (|| -> io::Result<PathBuf> {
                let own = own_path(controller).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "not in /proc/self/cgroup")
                })?;
                let parent = Path::new(mount).join(own.trim_start_matches('/'));
                remove_stale(&parent);
                let root = parent.join(&server);
                std::fs::create_dir_all(&root)?;
                let probe = root.join("probe");
                let _ = std::fs::create_dir(&probe);
                // An empty value only checks that the file is there (cgroup.kill takes only "1").
                let written = if value.is_empty() {
                    std::fs::metadata(probe.join(file)).map(drop)
                } else {
                    std::fs::write(probe.join(file), value)
                };
                let _ = std::fs::remove_dir(&probe);
                if let Err(e) = written {
                    let _ = std::fs::remove_dir(&root);
                    return Err(e);
                }
                Ok(root)
            })();
            match result {
                Ok(root) => Some(root),
                Err(e) => {
                    refused.push(format!(
                        "{}: {e}",
                        if controller.is_empty() {
                            "v2"
                        } else {
                            controller
                        }
                    ));
                    None
                }
            }
        };
        let mut roots = Self {
            memory: try_one(
                "/sys/fs/cgroup/memory",
                "memory",
                "memory.limit_in_bytes",
                "134217728",
            ),
            pids: try_one("/sys/fs/cgroup/pids", "pids", "pids.max", "1024"),
            cpu: try_one("/sys/fs/cgroup/cpu", "cpu", "cpu.shares", "1024"),
            unified: try_one("/sys/fs/cgroup/unified", "", "cgroup.kill", ""),
            unified_freeze: false,
            freezer: None,
        };
        roots.unified_freeze = roots
            .unified
            .as_ref()
            .is_some_and(|dir| dir.join("cgroup.freeze").exists());
        if !roots.unified_freeze {
            roots.freezer = try_one("/sys/fs/cgroup/freezer", "freezer", "freezer.state", "");
        }
        // Warm environments (under their quotas) compete with the host's processes as a group:
        // give the group the weight of one busy process per CPU rather than of one process.
        if let Some(cpu) = &roots.cpu {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            if std::fs::write(cpu.join("cpu.shares"), (1024 * cpus).to_string()).is_err() {
                roots.cpu = None;
            }
        }
        (roots, refused)
    }

    /// How idle environments are frozen, for `describe()`.
    pub(crate) fn freezing(&self) -> Option<&'static str> {
        if self.unified_freeze {
            Some("cgroup v2 cgroup.freeze")
        } else if self.freezer.is_some() {
            Some("cgroup v1 freezer")
        } else {
            None
        }
    }

    /// The controllers granted, for `describe()`.
    pub(crate) fn granted(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        for (name, root) in [
            ("memory", &self.memory),
            ("pids", &self.pids),
            ("cpu", &self.cpu),
        ] {
            if root.is_some() {
                names.push(name);
            }
        }
        names
    }

    /// Creates one environment's cgroups and writes its limits.
    pub(crate) fn create(&self, id: &str, memory_mb: u32) -> io::Result<Cgroups> {
        let make = |root: &Option<PathBuf>| -> io::Result<Option<PathBuf>> {
            match root {
                Some(root) => {
                    let dir = root.join(id);
                    std::fs::create_dir(&dir)?;
                    Ok(Some(dir))
                }
                None => Ok(None),
            }
        };
        let cgroups = Cgroups {
            memory: make(&self.memory)?,
            pids: make(&self.pids)?,
            cpu: make(&self.cpu)?,
            unified: make(&self.unified)?,
            freezer: make(&self.freezer)?,
            unified_freeze: self.unified_freeze,
            cpu_quota_us: CPU_PERIOD_US * u64::from(memory_mb) / MB_PER_VCPU,
            cpu_quota_applied: AtomicBool::new(false),
            freeze_file: std::sync::OnceLock::new(),
        };
        let bytes = u64::from(memory_mb) * 1024 * 1024;
        if let Some(dir) = &cgroups.memory {
            std::fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string())?;
            // Without this, a machine with swap would page instead of killing at the limit.
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), bytes.to_string());
            let _ = std::fs::write(dir.join("memory.swappiness"), "0");
        }
        if let Some(dir) = &cgroups.pids {
            std::fs::write(dir.join("pids.max"), PIDS_MAX.to_string())?;
        }
        if let Some(dir) = &cgroups.cpu {
            // Proportional weight from the start; the hard quota comes when init is over
            // (see `apply_cpu_quota`).
            let shares = (1024 * u64::from(memory_mb) / MB_PER_VCPU).max(2);
            std::fs::write(dir.join("cpu.shares"), shares.to_string())?;
        }
        Ok(cgroups)
    }

    /// Removes the server's parent directories (at shutdown; fails harmlessly while in use).
    pub(crate) fn remove(&self) {
        for root in [
            &self.memory,
            &self.pids,
            &self.cpu,
            &self.unified,
            &self.freezer,
        ]
        .into_iter()
        .flatten()
        {
            let _ = std::fs::remove_dir(root);
        }
    }
}

/// One environment's cgroups.
#[derive(Debug)]
pub struct Cgroups {
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    cpu: Option<PathBuf>,
    unified: Option<PathBuf>,
    freezer: Option<PathBuf>,
    unified_freeze: bool,
    cpu_quota_us: u64,
    cpu_quota_applied: AtomicBool,
    /// `cgroup.freeze` (or `freezer.state`), opened on first use: two writes per warm invoke.
    freeze_file: std::sync::OnceLock<Option<std::fs::File>>,
}

impl Cgroups {
    /// The `cgroup.procs` files the helper writes its own pid into. Not the CPU one: the
    /// environment joins that when its init is over (`apply_cpu_quota`); not the freezable one
    /// (`runtime_procs_files`).
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        [&self.memory, &self.pids]
            .into_iter()
            .flatten()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// The `cgroup.procs` files the runtime joins (it is pid 1 of its namespace, so everything it
    /// forks is in them too): the v2 group (kill, freeze) or the v1 freezer.
    pub(crate) fn runtime_procs_files(&self) -> Vec<PathBuf> {
        [&self.unified, &self.freezer]
            .into_iter()
            .flatten()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// Caps CPU time at MemorySize / 1769 of one CPU, by moving the environment's processes into
    /// its CPU cgroup (what they fork later follows). Done once, when initialization is over
    /// (the runtime's first `next`) or after Lambda's 10 s init boost, whichever comes first, so the first invocation runs under the quota too: Lambda gives init a boost, and a
    /// 128 MB function's 7% of a CPU would otherwise turn a 50 ms interpreter start into most of
    /// a second. Until then each process competes for the CPU as a plain process does (the
    /// server's own cgroup), so many simultaneous cold starts are not squeezed into one cgroup's
    /// share.
    pub fn apply_cpu_quota(&self) {
        let Some(dir) = &self.cpu else {
            return;
        };
        if self.cpu_quota_applied.swap(true, Ordering::AcqRel) {
            return;
        }
        let quota = self.cpu_quota_us.max(1000);
        let _ = std::fs::write(dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string());
        let _ = std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string());
        let Some(members) = self.memory.as_ref().or(self.pids.as_ref()) else {
            return;
        };
        // Twice: a process forked while the first pass moved its parent stays behind otherwise.
        for _ in 0..2 {
            let procs = std::fs::read_to_string(members.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.split_whitespace() {
                let _ = std::fs::write(dir.join("cgroup.procs"), pid);
            }
        }
    }

    /// True once the CPU quota applies.
    pub fn cpu_quota_applied(&self) -> bool {
        self.cpu_quota_applied.load(Ordering::Acquire)
    }

    /// Freezes (`true`) or thaws the function's processes; false when the environment has no
    /// freezer. Freezing returns at once (the kernel completes it asynchronously); a thawed
    /// process runs again as soon as it is scheduled. One `write` on a kept file descriptor.
    pub fn set_frozen(&self, frozen: bool) -> bool {
        use std::os::unix::fs::FileExt;
        let file = self.freeze_file.get_or_init(|| {
            let path = if self.unified_freeze {
                self.unified.as_ref()?.join("cgroup.freeze")
            } else {
                self.freezer.as_ref()?.join("freezer.state")
            };
            std::fs::OpenOptions::new().write(true).open(path).ok()
        });
        let Some(file) = file.as_ref() else {
            return false;
        };
        let value: &[u8] = match (self.unified_freeze, frozen) {
            (true, true) => b"1",
            (true, false) => b"0",
            (false, true) => b"FROZEN",
            (false, false) => b"THAWED",
        };
        file.write_at(value, 0).is_ok()
    }

    /// `memory.max_usage_in_bytes`, opened for repeated reads at offset 0.
    pub fn open_max_memory(&self) -> Option<std::fs::File> {
        std::fs::File::open(self.memory.as_ref()?.join("memory.max_usage_in_bytes")).ok()
    }

    /// Peak memory charged to the environment, in bytes (`memory.max_usage_in_bytes`).
    pub fn max_memory_bytes(&self) -> Option<u64> {
        read_number(self.memory.as_ref()?.join("memory.max_usage_in_bytes"))
    }

    /// Memory charged now, in bytes.
    pub fn memory_bytes(&self) -> Option<u64> {
        read_number(self.memory.as_ref()?.join("memory.usage_in_bytes"))
    }

    /// True once the kernel's OOM killer has killed a process of this environment.
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = &self.memory else {
            return false;
        };
        std::fs::read_to_string(dir.join("memory.oom_control"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .is_some_and(|n| n > 0)
    }

    /// Kills every process in the environment at once (v2 `cgroup.kill`); false when unavailable.
    /// Thaws afterwards: v1-frozen processes take a SIGKILL only once thawed.
    pub fn kill(&self) -> bool {
        let killed = self
            .unified
            .as_ref()
            .is_some_and(|dir| std::fs::write(dir.join("cgroup.kill"), "1").is_ok());
        self.set_frozen(false);
        killed
    }

    /// Removes the directories; true when all are gone (fails while a process is still inside).
    pub fn remove(&self) -> bool {
        let mut all = true;
        for dir in [
            &self.memory,
            &self.pids,
            &self.cpu,
            &self.unified,
            &self.freezer,
        ]
        .into_iter()
        .flatten()
        {
            if dir.exists() && std::fs::remove_dir(dir).is_err() {
                all = false;
            }
        }
        all
    }
}

/// Removes what servers that died without cleaning up left behind: `nubo-<pid>` directories whose
/// process is gone, with their (by now empty) environment directories.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("nubo-")) else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Ok(children) = std::fs::read_dir(entry.path()) {
            for child in children.flatten() {
                if child.path().is_dir() {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

fn read_number(path: PathBuf) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
