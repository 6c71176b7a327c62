//! The AWS SDKs Lambda's managed runtimes ship: boto3 in the python runtimes, the AWS SDK for
//! JavaScript v3 in the node runtimes.
//!
//! Each *part* is pinned exactly in `runtimes/sdk/` (python: every package with its wheel's hash;
//! node: a `package-lock.json` with integrity hashes), installed once from the registries with the
//! ordinary clients (`pip install --target`, `npm ci`) into a directory shared by every server on
//! the machine, and shown read-only to every environment. The install is blocking
//! ([`RuntimeSdk::install`]); the composition root runs it on a thread of its own, so `nubo serve`
//! never waits for it, and an environment started before a part is ready runs without that part —
//! rather than every invoke paying a bounded wait for a one-time, once-per-machine download.
//!
//! Servers sharing the directory take turns with an exclusive lock on `<dir>/.lock`. A part is
//! built in a staging directory and renamed into place, so its directory exists only when complete;
//! whoever takes the lock next finds it done, and a crashed install leaves only staging debris that
//! the next lock holder removes. Layout:
//!
//! ```text
//! <dir>/python3.10-<hash>/   boto3 and its dependencies for python 3.10+, with .pyc for every
//!                            python 3.10+ on the host (the tree is read-only inside the sandbox)
//! <dir>/python3.9-<hash>/    the last boto3 that supports python 3.9
//! <dir>/nodejs-<hash>/node_modules/@aws-sdk/…
//! ```
//! `<hash>` is of the part's pin file, so new pins install beside the old ones.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

mod install;

const PYTHON_310_PINS: &str = include_str!("../../../runtimes/sdk/python3.10.txt");
const PYTHON_39_PINS: &str = include_str!("../../../runtimes/sdk/python3.9.txt");
const NODE_PACKAGE: &str = include_str!("../../../runtimes/sdk/nodejs/package.json");
const NODE_LOCK: &str = include_str!("../../../runtimes/sdk/nodejs/package-lock.json");

/// How long one installer (pip, compileall, npm) may run before it is killed.
const INSTALLER_TIMEOUT: Duration = Duration::from_secs(600);
/// Prefix of the directories parts are built in.
const STAGING: &str = ".staging-";

/// A python interpreter the install can run: pip for the download, compileall for the `.pyc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonTool {
    /// Minor version (3.N).
    pub minor: u32,
    /// Real path of the interpreter.
    pub path: PathBuf,
}

#[derive(Debug)]
enum Kind {
    /// boto3 for python 3.`min_minor` … 3.`max_minor`.
    Python {
        min_minor: u32,
        max_minor: u32,
        pins: &'static str,
    },
    /// The SDK for JavaScript v3.
    Node,
}

#[derive(Debug)]
struct Part {
    /// What it serves, as said in reports: `python3.10+`, `python3.9`, `nodejs`.
    label: &'static str,
    /// Its directory under the SDK root, `<label>-<hash>`.
    dir_name: String,
    kind: Kind,
    /// The tree environments mount, once installed.
    ready: OnceLock<PathBuf>,
}

impl Part {
    fn new(label: &'static str, kind: Kind) -> Self {
        let pins = match &kind {
            Kind::Python { pins, .. } => fnv1a(pins.as_bytes()),
            Kind::Node => {
                fnv1a(NODE_PACKAGE.as_bytes()) ^ fnv1a(NODE_LOCK.as_bytes()).rotate_left(1)
            }
        };
        let prefix = label.trim_end_matches('+');
        Self {
            label,
            dir_name: format!("{prefix}-{:012x}", pins >> 16),
            kind,
            ready: OnceLock::new(),
        }
    }

    /// The tree to mount inside a finished part directory.
    fn tree(&self, dir: &Path) -> PathBuf {
        match self.kind {
            Kind::Python { .. } => dir.to_path_buf(),
            Kind::Node => dir.join("node_modules"),
        }
    }

    /// "boto3 1.44.8" or "@aws-sdk/client-lambda 3.1164.0 and 16 more packages".
    fn versions(&self) -> String {
        match &self.kind {
            Kind::Python { pins, .. } => pinned(pins, "boto3")
                .map(|v| format!("boto3 {v}"))
                .unwrap_or_else(|| "boto3".into()),
            Kind::Node => {
                let packages = node_packages();
                let lambda = packages
                    .iter()
                    .find(|(name, _)| name == "@aws-sdk/client-lambda");
                match lambda {
                    Some((name, version)) => format!(
                        "{name} {version} and {} more @aws-sdk packages",
                        packages.len() - 1
                    ),
                    None => format!("{} @aws-sdk packages", packages.len()),
                }
            }
        }
    }
}

/// The version pinned for `package` in a requirements file (`name==version --hash=…`).
fn pinned<'a>(pins: &'a str, package: &str) -> Option<&'a str> {
    pins.lines().find_map(|line| {
        let spec = line.split_whitespace().next()?;
        let (name, version) = spec.split_once("==")?;
        (name == package).then_some(version)
    })
}

/// The packages the node part pins (name, version), from its package.json.
fn node_packages() -> Vec<(String, String)> {
    let parsed: serde_json::Value = serde_json::from_str(NODE_PACKAGE).unwrap_or_default();
    parsed["dependencies"]
        .as_object()
        .map(|deps| {
            deps.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// FNV-1a, 64 bits: a stable name for a pin file's content (std's hashers may change).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The shared SDK directory and which of its parts are ready. Environments ask it on the hot path
/// ([`RuntimeSdk::python`], [`RuntimeSdk::node`]): a `OnceLock` read, no disk.
#[derive(Debug)]
pub struct RuntimeSdk {
    root: PathBuf,
    parts: Vec<Part>,
}

/// What an install did, for the start-up output and the log.
#[derive(Debug, Default)]
pub struct InstallReport {
    /// Parts ready after the install (whether this server installed them or found them done).
    pub ready: Vec<String>,
    /// Parts that could not be installed: `label: why`.
    pub failed: Vec<String>,
    /// Where the SDKs live.
    pub root: PathBuf,
}

impl InstallReport {
    /// True when every part is ready.
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }
}

impl fmt::Display for InstallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.ready.is_empty() {
            write!(f, "ready: {}", self.ready.join(", "))?;
        }
        if !self.failed.is_empty() {
            if !self.ready.is_empty() {
                write!(f, "; ")?;
            }
            write!(
                f,
                "installation failed: {}; functions run without {} until a restart retries",
                self.failed.join("; "),
                if self.ready.is_empty() {
                    "them"
                } else {
                    "those"
                }
            )?;
        }
        write!(f, " (in {})", self.root.display())
    }
}

impl RuntimeSdk {
    /// The SDK directory at `root`; parts already installed there are ready at once (a few
    /// `stat`s). Creates nothing: [`RuntimeSdk::install`] does.
    pub fn open(root: PathBuf) -> Self {
        let parts = vec![
            Part::new(
                "python3.10+",
                Kind::Python {
                    min_minor: 10,
                    max_minor: u32::MAX,
                    pins: PYTHON_310_PINS,
                },
            ),
            Part::new(
                "python3.9",
                Kind::Python {
                    min_minor: 9,
                    max_minor: 9,
                    pins: PYTHON_39_PINS,
                },
            ),
            Part::new("nodejs", Kind::Node),
        ];
        let sdk = Self { root, parts };
        for part in &sdk.parts {
            sdk.mark_if_done(part);
        }
        sdk
    }

    /// Where the SDKs live.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when every part is installed.
    pub fn is_complete(&self) -> bool {
        self.parts.iter().all(|p| p.ready.get().is_some())
    }

    /// One line for the start-up output: the versions, or that the install is under way.
    pub fn describe(&self) -> String {
        if self.is_complete() {
            format!(
                "{} (in {})",
                self.versions().join(", "),
                self.root.display()
            )
        } else {
            format!(
                "installing into {} in the background; functions started before it is done run without them",
                self.root.display()
            )
        }
    }

    fn versions(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter(|p| p.ready.get().is_some())
            .map(|p| format!("{} ({})", p.versions(), p.label))
            .collect()
    }

    /// boto3's tree for python 3.`minor`, once installed.
    pub fn python(&self, minor: u32) -> Option<&Path> {
        self.parts.iter().find_map(|p| match p.kind {
            Kind::Python {
                min_minor,
                max_minor,
                ..
            } if (min_minor..=max_minor).contains(&minor) => p.ready.get().map(PathBuf::as_path),
            _ => None,
        })
    }

    /// The SDK for JavaScript's `node_modules`, once installed.
    pub fn node(&self) -> Option<&Path> {
        self.parts.iter().find_map(|p| match p.kind {
            Kind::Node => p.ready.get().map(PathBuf::as_path),
            _ => None,
        })
    }

    fn mark_if_done(&self, part: &Part) -> bool {
        let dir = self.root.join(&part.dir_name);
        if dir.is_dir() {
            let _ = part.ready.set(part.tree(&dir));
            true
        } else {
            false
        }
    }

    /// Installs every missing part (blocking: minutes on a fresh machine, milliseconds when another
    /// server already did it). `pythons` run pip and compile the `.pyc` for their versions;
    /// `node` finds npm.
    pub fn install(&self, pythons: &[PythonTool], node: Option<&Path>) -> InstallReport {
        let mut report = InstallReport {
            root: self.root.clone(),
            ..InstallReport::default()
        };
        if self.is_complete() {
            report.ready = self.versions();
            return report;
        }
        let lock = std::fs::create_dir_all(&self.root)
            .and_then(|()| {
                File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(self.root.join(".lock"))
            })
            .and_then(|file| file.lock().map(|()| file));
        let _lock = match lock {
            Ok(lock) => lock,
            Err(e) => {
                report.failed.push(format!("{}: {e}", self.root.display()));
                return report;
            }
        };
        self.remove_staging();
        for part in &self.parts {
            if part.ready.get().is_some() || self.mark_if_done(part) {
                continue;
            }
            let log = self
                .root
                .join(format!("{}.log", part.label.trim_end_matches('+')));
            // Each attempt's own output: the log explains the last failure.
            let _ = File::create(&log);
            let result = match &part.kind {
                Kind::Python {
                    min_minor,
                    max_minor,
                    pins,
                } => self.install_python(part, pins, (*min_minor, *max_minor), pythons, &log),
                Kind::Node => self.install_node(part, node, &log),
            };
            match result {
                Ok(()) => {
                    self.mark_if_done(part);
                }
                Err(e) => {
                    report
                        .failed
                        .push(format!("{}: {e} (log: {})", part.label, log.display()))
                }
            }
        }
        self.remove_staging();
        report.ready = self.versions();
        report
    }

    /// Removes the debris of interrupted installs (only under the lock: no install is running).
    fn remove_staging(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(STAGING) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    fn staging(&self, part: &Part) -> Result<PathBuf, String> {
        let dir = self
            .root
            .join(format!("{STAGING}{}-{}", part.dir_name, std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Moves a finished tree into place: from now on the part exists.
    fn publish(&self, part: &Part, tree: &Path) -> Result<(), String> {
        let target = self.root.join(&part.dir_name);
        std::fs::rename(tree, &target)
            .map_err(|e| format!("moving {} into place: {e}", tree.display()))
    }
}

#[cfg(test)]
mod tests;
