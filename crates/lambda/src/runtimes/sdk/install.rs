//! Running the registries' own clients: `pip install --target` and `compileall` for a python
//! part, `npm ci` for the node part, each logged and bounded by [`INSTALLER_TIMEOUT`].

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Part, PythonTool, RuntimeSdk, INSTALLER_TIMEOUT, NODE_LOCK, NODE_PACKAGE};

impl RuntimeSdk {
    pub(super) fn install_python(
        &self,
        part: &Part,
        pins: &str,
        (min_minor, max_minor): (u32, u32),
        pythons: &[PythonTool],
        log: &Path,
    ) -> Result<(), String> {
        let pip = pythons
            .iter()
            .find(|p| has_pip(&p.path))
            .ok_or("no python interpreter with pip found on this host")?;
        let staging = self.staging(part)?;
        let requirements = staging.join("requirements.txt");
        std::fs::write(&requirements, pins)
            .map_err(|e| format!("writing {}: {e}", requirements.display()))?;
        let tree = staging.join("tree");
        let mut command = Command::new(&pip.path);
        command
            .args(["-m", "pip", "install", "--no-deps", "--require-hashes"])
            .args(["--only-binary=:all:", "--no-compile", "--python-version"])
            .arg(format!("3.{min_minor}"))
            .arg("--target")
            .arg(&tree)
            .arg("-r")
            .arg(&requirements)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1")
            .env("PIP_ROOT_USER_ACTION", "ignore");
        run_logged(&mut command, log, "pip install")?;
        // The tree is read-only inside the sandbox, so python cannot cache bytecode there itself:
        // without these, every cold start that imports boto3 would compile botocore again.
        for python in pythons
            .iter()
            .filter(|p| (min_minor..=max_minor).contains(&p.minor))
        {
            let mut command = Command::new(&python.path);
            command.args(["-m", "compileall", "-q"]).arg(&tree);
            if let Err(e) = run_logged(&mut command, log, "compileall") {
                tracing::warn!(python = %python.path.display(), "runtime SDK: {e}");
            }
        }
        self.publish(part, &tree)?;
        let _ = std::fs::remove_dir_all(&staging);
        Ok(())
    }

    pub(super) fn install_node(
        &self,
        part: &Part,
        node: Option<&Path>,
        log: &Path,
    ) -> Result<(), String> {
        let node = node.ok_or("no node interpreter found on this host")?;
        let node_dir = node.parent().unwrap_or(Path::new("/"));
        // npm is a node script (`#!/usr/bin/env node`): it needs that node first on its PATH.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![node_dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        let npm = dirs
            .iter()
            .map(|d| d.join("npm"))
            .find(|p| p.is_file())
            .ok_or("npm not found beside node or on PATH")?;
        let search = std::env::join_paths(&dirs).map_err(|e| e.to_string())?;
        let staging = self.staging(part)?;
        for (name, body) in [
            ("package.json", NODE_PACKAGE),
            ("package-lock.json", NODE_LOCK),
        ] {
            std::fs::write(staging.join(name), body).map_err(|e| format!("writing {name}: {e}"))?;
        }
        let mut command = Command::new(&npm);
        command
            .args([
                "ci",
                "--omit=dev",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
            ])
            .args(["--loglevel=error", "--prefix"])
            .arg(&staging)
            .current_dir(&staging)
            .env("PATH", search)
            .env("npm_config_update_notifier", "false");
        run_logged(&mut command, log, "npm ci")?;
        if !staging.join("node_modules/@aws-sdk").is_dir() {
            return Err("npm ci installed no @aws-sdk packages".into());
        }
        self.publish(part, &staging)
    }
}

fn has_pip(python: &Path) -> bool {
    Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs an installer with its output appended to `log`, under [`INSTALLER_TIMEOUT`]; on failure
/// the error carries the log's last lines.
pub(super) fn run_logged(command: &mut Command, log: &Path, what: &str) -> Result<(), String> {
    let file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    let deadline = Instant::now() + INSTALLER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what} did not finish within {} s",
                    INSTALLER_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{what} failed ({status}): {}", tail.join(" / ")))
}
