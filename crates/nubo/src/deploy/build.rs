//! `nubo build`: each function's `CodeUri` copied to `.nubo/build/{LogicalId}/` with its
//! dependencies installed there (python: `pip install -r requirements.txt -t`, node: `npm install
//! --omit=dev`, Rust `provided.*` with a Cargo.toml: `cargo build --release` → `bootstrap`).
//! `nubo deploy` packages a function's build folder with its sources laid over it (so an edited
//! handler deploys without building again; `sam deploy` would package the stale build).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use nubo_stacks::template::Pseudo;
use nubo_stacks::Template;

/// Where `nubo build` puts function `id`'s package, for a template in `base`.
pub(crate) fn build_dir(base: &Path, id: &str) -> PathBuf {
    base.join(".nubo").join("build").join(id)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for (relative, path) in super::package::files_of(from)? {
        let target = to.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&path, &target).with_context(|| format!("cannot copy {}", path.display()))?;
    }
    Ok(())
}

fn run(step: &str, mut command: Command) -> anyhow::Result<()> {
    println!("  {step}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {step}"))?;
    if !status.success() {
        anyhow::bail!("{step} failed ({status})");
    }
    Ok(())
}

/// Builds every function of the template at `path`.
pub(crate) fn build(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the template {}", path.display()))?;
    let template = Template::parse(&path.display().to_string(), &text)?;
    // Only CodeUri and Runtime matter here; pseudo parameters are placeholders.
    let pseudo = Pseudo {
        region: "us-east-1".into(),
        account: "000000000000".into(),
        stack: "build".into(),
    };
    let expanded = template.expand(&Default::default(), &pseudo)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut built = 0;
    for (id, r) in &expanded.resources {
        let Some(uri) = r
            .properties
            .get("Code")
            .and_then(|c| c.get("NuboCodeUri"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let runtime = r
            .properties
            .get("Runtime")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let source = base.join(uri);
        let out = build_dir(&base, id);
        println!("Building {id} ({runtime}) from {}", source.display());
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        std::fs::create_dir_all(&out)?;
        if runtime.starts_with("provided") && source.join("Cargo.toml").is_file() {
            let mut cargo = Command::new("cargo");
            cargo
                .args(["build", "--release", "--manifest-path"])
                .arg(source.join("Cargo.toml"));
            run("cargo build --release", cargo)?;
            let target = source.join("target/release");
            let binary = std::fs::read_dir(&target)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.is_file() && p.file_name().is_some_and(|n| n == "bootstrap"))
                .with_context(|| {
                    format!(
                        "no `bootstrap` binary in {} (name the [[bin]] bootstrap)",
                        target.display()
                    )
                })?;
            std::fs::copy(&binary, out.join("bootstrap"))?;
        } else {
            copy_tree(&source, &out)?;
        }
        if runtime.starts_with("python") && out.join("requirements.txt").is_file() {
            let python = std::env::var("NUBO_PYTHON").unwrap_or_else(|_| "python3".into());
            let mut pip = Command::new(python);
            pip.args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-r",
                "requirements.txt",
                "-t",
                ".",
            ])
            .current_dir(&out);
            run("pip install -r requirements.txt", pip)?;
        }
        if runtime.starts_with("nodejs") && out.join("package.json").is_file() {
            let mut npm = Command::new("npm");
            npm.args(["install", "--omit=dev", "--no-audit", "--no-fund"])
                .current_dir(&out);
            run("npm install --omit=dev", npm)?;
        }
        built += 1;
    }
    println!(
        "Built {built} function(s) into {}; `nubo deploy` packages them from there.",
        base.join(".nubo/build").display()
    );
    Ok(())
}
