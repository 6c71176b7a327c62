//! Runtime identifiers and how each one is launched on this host.
//!
//! Every identifier on AWS's current list is accepted at creation. At invoke time a runtime maps to a
//! launch: our own bootstrap under a real interpreter (python, node), or the user's `bootstrap`
//! (`provided*`). Interpreters are found once, by their real paths — version-manager shims are
//! scripts that cost ~100 ms per start — and the nearest installed version stands in for a missing
//! one. Operators override any mapping (`--interpreter python3.12=/opt/py312/bin/python3`).
//!
//! Each family has its own runtime directory (`LAMBDA_RUNTIME_DIR`, `/var/runtime` inside the
//! sandbox) holding our bootstrap; the AWS SDK that Lambda ships with the family comes from the
//! shared [`sdk::RuntimeSdk`] once it is installed.

pub mod sdk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::InvokeError;
use sdk::{InstallReport, PythonTool, RuntimeSdk};

/// AWS's current runtime identifiers.
pub const SUPPORTED: &[&str] = &[
    "nodejs24.x",
    "nodejs22.x",
    "nodejs20.x",
    "nodejs18.x",
    "python3.14",
    "python3.13",
    "python3.12",
    "python3.11",
    "python3.10",
    "python3.9",
    "java25",
    "java21",
    "java17",
    "java11",
    "java8.al2",
    "dotnet10",
    "dotnet8",
    "ruby3.4",
    "ruby3.3",
    "ruby3.2",
    "provided.al2023",
    "provided.al2",
    "provided",
];

/// Identifiers AWS no longer lets anyone create or update functions with.
pub const DEPRECATED: &[&str] = &[
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "java8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet7",
    "ruby2.5",
    "ruby2.7",
    "go1.x",
];

const PYTHON_BOOTSTRAP: &str = include_str!("../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../runtimes/node/bootstrap.mjs");
const PYTHON_TEMPLATE: &str = include_str!("../runtimes/python/template.py");

/// True for an identifier on AWS's current list.
pub fn is_supported(runtime: &str) -> bool {
    SUPPORTED.contains(&runtime)
}

/// The language family of a runtime identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `python3.N`.
    Python {
        /// Minor version.
        minor: u32,
    },
    /// `nodejsN.x`.
    Node {
        /// Major version.
        major: u32,
    },
    /// `provided`, `provided.al2`, `provided.al2023`.
    Provided,
    /// A runtime Nubo accepts but cannot run yet (java, dotnet, ruby).
    Unsupported,
}

/// Classifies an identifier.
pub fn family(runtime: &str) -> Family {
    if let Some(minor) = runtime
        .strip_prefix("python3.")
        .and_then(|m| m.parse().ok())
    {
        Family::Python { minor }
    } else if let Some(major) = runtime
        .strip_prefix("nodejs")
        .and_then(|m| m.strip_suffix(".x"))
        .and_then(|m| m.parse().ok())
    {
        Family::Node { major }
    } else if runtime == "provided" || runtime.starts_with("provided.") {
        Family::Provided
    } else {
        Family::Unsupported
    }
}

/// How to start an environment's process.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The executable, by real path.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Set when a different interpreter version stands in for the requested one; said once in the
    /// function's log.
    pub substitution: Option<String>,
    /// The family and version of what actually runs (the interpreter found, not the one asked
    /// for): it picks the SDK and the interpreter's names on `PATH`.
    pub family: Family,
    /// The runtime's directory on the host (`LAMBDA_RUNTIME_DIR`).
    pub runtime_dir: PathBuf,
    /// The template it may be forked from (python): the same interpreter running
    /// `template.py` beside the bootstrap.
    pub template: Option<(PathBuf, Vec<String>)>,
}

/// The family directories under `<data>/runtimes`, each with its files (bootstrap, template).
const FAMILY_DIRS: [(&str, &[(&str, &str)]); 3] = [
    (
        "python",
        &[
            ("bootstrap.py", PYTHON_BOOTSTRAP),
            ("template.py", PYTHON_TEMPLATE),
        ],
    ),
    ("node", &[("bootstrap.mjs", NODE_BOOTSTRAP)]),
    ("provided", &[]),
];

/// An interpreter found on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Interpreter {
    version: u32,
    path: PathBuf,
}

/// Finds interpreters and writes our bootstraps; one per process, shared by every environment.
#[derive(Debug)]
pub struct RuntimeCatalog {
    runtimes_dir: PathBuf,
    overrides: HashMap<String, PathBuf>,
    pythons: OnceLock<Vec<Interpreter>>,
    nodes: OnceLock<Vec<Interpreter>>,
    sdk: Option<Arc<RuntimeSdk>>,
}

impl RuntimeCatalog {
    /// Writes the bootstraps under `<data_dir>/runtimes/<family>` and remembers operator overrides
    /// (runtime identifier → interpreter path). Without [`RuntimeCatalog::with_sdk`], functions go
    /// without the AWS SDKs.
    pub fn install(data_dir: &Path, overrides: HashMap<String, PathBuf>) -> std::io::Result<Self> {
        let runtimes_dir = data_dir.join("runtimes");
        for (family_dir, files) in FAMILY_DIRS {
            let dir = runtimes_dir.join(family_dir);
            std::fs::create_dir_all(&dir)?;
            for (file, body) in files {
                install_file(&dir, file, body)?;
            }
        }
        // The empty directory the SDK is mounted on inside the sandbox (Lambda's
        // /var/runtime/node_modules); the runtime directory itself is read-only in there.
        std::fs::create_dir_all(runtimes_dir.join("node").join("node_modules"))?;
        Ok(Self {
            runtimes_dir,
            overrides,
            pythons: OnceLock::new(),
            nodes: OnceLock::new(),
            sdk: None,
        })
    }

    /// Shows environments the runtimes' AWS SDKs from `sdk` (each part once it is installed).
    pub fn with_sdk(mut self, sdk: Arc<RuntimeSdk>) -> Self {
        self.sdk = Some(sdk);
        self
    }

    /// The runtimes' AWS SDKs, if this server has them.
    pub fn sdk(&self) -> Option<&Arc<RuntimeSdk>> {
        self.sdk.as_ref()
    }

    /// The tree of the AWS SDK for what `launch` runs, once installed (boto3 for its python, the
    /// SDK for JavaScript for node 18 and later). A read of a `OnceLock`: no disk.
    pub fn sdk_for(&self, launch: &Launch) -> Option<&Path> {
        let sdk = self.sdk.as_deref()?;
        match launch.family {
            Family::Python { minor } => sdk.python(minor),
            Family::Node { major } if major >= 18 => sdk.node(),
            _ => None,
        }
    }

    /// Installs whatever part of the runtimes' SDKs is missing (blocking; see [`sdk`]). `None`
    /// when this server has no SDK directory.
    pub fn install_sdk(&self) -> Option<InstallReport> {
        let sdk = self.sdk.as_deref()?;
        if sdk.is_complete() {
            return None;
        }
        let mut pythons: Vec<PythonTool> = self
            .pythons
            .get_or_init(discover_pythons)
            .iter()
            .map(|i| PythonTool {
                minor: i.version,
                path: i.path.clone(),
            })
            .collect();
        // Interpreters the operator named compile the .pyc for their versions too.
        for (runtime, path) in &self.overrides {
            if let Family::Python { minor } = family(runtime) {
                pythons.push(PythonTool {
                    minor,
                    path: path.clone(),
                });
            }
        }
        pythons.sort_by_key(|p| std::cmp::Reverse(p.minor));
        let node = self
            .nodes
            .get_or_init(discover_nodes)
            .iter()
            .max_by_key(|i| i.version)
            .map(|i| i.path.clone());
        Some(sdk.install(&pythons, node.as_deref()))
    }

    /// How to launch `runtime` for code unpacked at `code_dir`.
    pub fn launch(&self, runtime: &str, code_dir: &Path) -> Result<Launch, InvokeError> {
        if let Some(path) = self.overrides.get(runtime) {
            return Ok(self.interpreter_launch(family(runtime), path.clone(), None));
        }
        match family(runtime) {
            Family::Python { minor } => {
                let found = nearest(self.pythons.get_or_init(discover_pythons), minor).ok_or_else(|| {
                    InvokeError::InvalidRuntime(format!("No python3 interpreter found on this host for {runtime}; set one with --interpreter {runtime}=PATH"))
                })?;
                let note = (found.version != minor).then(|| {
                    format!("nubo: {runtime} is not installed on this host; running python3.{} at {}", found.version, found.path.display())
                });
                Ok(self.interpreter_launch(Family::Python { minor: found.version }, found.path.clone(), note))
            }
            Family::Node { major } => {
                let found = nearest(self.nodes.get_or_init(discover_nodes), major).ok_or_else(|| {
                    InvokeError::InvalidRuntime(format!("No node interpreter found on this host for {runtime}; set one with --interpreter {runtime}=PATH"))
                })?;
                let note = (found.version != major).then(|| {
                    format!("nubo: {runtime} is not installed on this host; running node {} at {}", found.version, found.path.display())
                });
                Ok(self.interpreter_launch(Family::Node { major: found.version }, found.path.clone(), note))
            }
            Family::Provided => Ok(Launch {
                program: code_dir.join("bootstrap"),
                args: Vec::new(),
                substitution: None,
                family: Family::Provided,
                runtime_dir: self.runtimes_dir.join("provided"),
                template: None,
            }),
            Family::Unsupported => Err(InvokeError::InvalidRuntime(format!(
                "The runtime {runtime} is accepted but cannot run on Nubo yet; use a provided runtime with your own bootstrap"
            ))),
        }
    }

    fn interpreter_launch(
        &self,
        family: Family,
        program: PathBuf,
        substitution: Option<String>,
    ) -> Launch {
        let (runtime_dir, args, template) = match family {
            Family::Node { .. } => {
                let dir = self.runtimes_dir.join("node");
                let bootstrap = dir.join("bootstrap.mjs").display().to_string();
                (dir, vec![bootstrap], None)
            }
            // -u: unbuffered output, so log lines reach the pipe before the response is posted.
            // -S: no `site` (its .pth processing costs cold starts); the bootstrap lays out
            // sys.path itself, without user site-packages, as on Lambda.
            _ => {
                let dir = self.runtimes_dir.join("python");
                let bootstrap = dir.join("bootstrap.py").display().to_string();
                let template = dir.join("template.py").display().to_string();
                let flags = |script| vec!["-u".into(), "-S".into(), script];
                (
                    dir,
                    flags(bootstrap),
                    Some((program.clone(), flags(template))),
                )
            }
        };
        Launch {
            program,
            args,
            substitution,
            family,
            runtime_dir,
            template,
        }
    }
}

/// Writes `body` to `dir/file` unless it is there already (atomically: a running environment may
/// be reading the old one).
fn install_file(dir: &Path, file: &str, body: &str) -> std::io::Result<()> {
    let path = dir.join(file);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(body) {
        let tmp = dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// The installed version closest to `wanted`; on a tie the newer one.
fn nearest(found: &[Interpreter], wanted: u32) -> Option<&Interpreter> {
    found
        .iter()
        .min_by_key(|i| (i.version.abs_diff(wanted), std::cmp::Reverse(i.version)))
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".pyenv")));
    let nvm = home.as_ref().map(|h| h.join(".nvm/versions/node"));
    for root in [pyenv.map(|p| p.join("versions")), nvm]
        .into_iter()
        .flatten()
    {
        if let Ok(entries) = std::fs::read_dir(root) {
            let mut versions: Vec<PathBuf> =
                entries.flatten().map(|e| e.path().join("bin")).collect();
            versions.sort();
            dirs.extend(versions);
        }
    }
    dirs
}

fn discover_pythons() -> Vec<Interpreter> {
    let mut found: Vec<Interpreter> = Vec::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let Some(minor) = name
                .strip_prefix("python3.")
                .and_then(|m| m.parse::<u32>().ok())
            else {
                continue;
            };
            if found.iter().any(|i| i.version == minor) {
                continue;
            }
            let Ok(real) = std::fs::canonicalize(dir.join(&name)) else {
                continue;
            };
            if is_elf(&real) {
                found.push(Interpreter {
                    version: minor,
                    path: real,
                });
            }
        }
    }
    found
}

fn discover_nodes() -> Vec<Interpreter> {
    let mut found: Vec<Interpreter> = Vec::new();
    for dir in search_dirs() {
        let Ok(real) = std::fs::canonicalize(dir.join("node")) else {
            continue;
        };
        if !is_elf(&real) || found.iter().any(|i| i.path == real) {
            continue;
        }
        let version = std::process::Command::new(&real)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|v| {
                v.trim()
                    .trim_start_matches('v')
                    .split('.')
                    .next()?
                    .parse()
                    .ok()
            });
        if let Some(version) = version {
            if !found.iter().any(|i| i.version == version) {
                found.push(Interpreter {
                    version,
                    path: real,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family("python3.12"), Family::Python { minor: 12 });
        assert_eq!(family("nodejs22.x"), Family::Node { major: 22 });
        assert_eq!(family("provided.al2023"), Family::Provided);
        assert_eq!(family("java21"), Family::Unsupported);
    }

    #[test]
    fn nearest_prefers_exact_then_closest_then_newer() {
        let i = |v| Interpreter {
            version: v,
            path: PathBuf::from(format!("/p{v}")),
        };
        let found = [i(9), i(11), i(13)];
        assert_eq!(nearest(&found, 11).unwrap().version, 11);
        assert_eq!(nearest(&found, 14).unwrap().version, 13);
        assert_eq!(nearest(&found, 12).unwrap().version, 13);
        assert!(nearest(&[], 12).is_none());
    }

    #[test]
    fn this_host_has_a_real_python() {
        let pythons = discover_pythons();
        assert!(!pythons.is_empty(), "no python3.N found");
        assert!(pythons.iter().all(|p| is_elf(&p.path)));
    }
}
