//! `nubo deploy`, `nubo delete`, `nubo stacks`: SAM/CloudFormation templates applied by the
//! [`nubo_stacks`] engine from the CLI process, as a signed client of Nubo's AWS APIs
//! ([`provision`]); stack records kept server-side ([`records`]).

pub(crate) mod build;
pub(crate) mod dev;
pub(crate) mod package;
mod provision;
mod records;
mod samconfig;
pub(crate) mod scaffold;
pub(crate) mod urls;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use nubo::client::Client;
use nubo_stacks::engine::{self, Action, Output};
use nubo_stacks::template::Pseudo;
use nubo_stacks::{StackRecord, Template};

/// What `nubo deploy` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeployArgs {
    /// The template (default: template.yaml, else template.yml, in the current folder).
    #[arg(short = 't', long = "template", alias = "template-file")]
    pub(crate) template: Option<PathBuf>,
    /// Stack name (default: the template folder's name).
    #[arg(long)]
    pub(crate) stack_name: Option<String>,
    /// Parameter values: `Key=Value` or `ParameterKey=K,ParameterValue=V`.
    #[arg(long, num_args = 1..)]
    pub(crate) parameter_overrides: Vec<String>,
    /// Deploy without asking (the default; kept for SAM's flag).
    #[arg(long, alias = "no-confirm-changeset")]
    pub(crate) no_confirm: bool,
    /// Show the change set and ask before applying.
    #[arg(long)]
    pub(crate) confirm_changeset: bool,
    /// The samconfig.toml environment whose `deploy` parameters give defaults.
    #[arg(long, default_value = "default")]
    pub(crate) config_env: String,
    /// Accepted for SAM compatibility (Nubo needs no capabilities).
    #[arg(long, num_args = 1.., hide = true)]
    pub(crate) capabilities: Vec<String>,
}

pub(crate) fn template_path(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let yml = PathBuf::from("template.yml");
        if !Path::new("template.yaml").exists() && yml.exists() {
            yml
        } else {
            PathBuf::from("template.yaml")
        }
    })
}

fn stack_name(given: Option<String>, template: &Path) -> String {
    given.unwrap_or_else(|| {
        let dir = std::fs::canonicalize(template)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let name: String = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            name
        } else {
            format!("app-{name}")
        }
    })
}

/// `Key=Value` or `ParameterKey=K,ParameterValue=V`; several per argument separated by spaces.
pub(crate) fn parse_overrides(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items.iter().flat_map(|i| i.split_whitespace()) {
        if let Some(rest) = item.strip_prefix("ParameterKey=") {
            let (key, value) = rest.split_once(",ParameterValue=").with_context(|| {
                format!("--parameter-overrides {item}: expected ParameterKey=K,ParameterValue=V")
            })?;
            out.insert(key.to_owned(), value.to_owned());
        } else {
            let (key, value) = item
                .split_once('=')
                .with_context(|| format!("--parameter-overrides {item}: expected Key=Value"))?;
            out.insert(key.to_owned(), value.to_owned());
        }
    }
    Ok(out)
}

/// One deploy's inputs after parsing and packaging.
pub(crate) struct Prepared {
    pub(crate) stack: String,
    pub(crate) template: Template,
    pub(crate) expanded: nubo_stacks::Expanded,
    pub(crate) code: HashMap<String, Vec<u8>>,
    /// The folders packaged (what `nubo dev` watches).
    pub(crate) code_dirs: Vec<PathBuf>,
    pub(crate) account: String,
}

/// Reads, expands and packages a template.
pub(crate) async fn prepare(
    client: &Client,
    args: &DeployArgs,
    account: Option<String>,
) -> anyhow::Result<Prepared> {
    // samconfig.toml (beside the template, else here) fills what the flags leave out.
    let config_dir = args
        .template
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| d.join("samconfig.toml").is_file())
        .unwrap_or(Path::new("."));
    let config = samconfig::load(config_dir, &args.config_env);
    let mut args = args.clone();
    if args.template.is_none() {
        args.template = config
            .get("template_file")
            .or_else(|| config.get("template"))
            .map(|t| config_dir.join(t.text()));
    }
    if args.stack_name.is_none() {
        args.stack_name = config.get("stack_name").map(samconfig::Value::text);
    }
    if args.parameter_overrides.is_empty() {
        args.parameter_overrides = config
            .get("parameter_overrides")
            .map(samconfig::Value::words)
            .unwrap_or_default();
    }
    let path = template_path(args.template.clone());
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the template {}", path.display()))?;
    let file = path.display().to_string();
    let template = Template::parse(&file, &text)?;
    let stack = stack_name(args.stack_name.clone(), &path);
    let account = match account {
        Some(a) => a,
        None => records::account(client).await?,
    };
    let pseudo = Pseudo {
        region: client.region().to_owned(),
        account: account.clone(),
        stack: stack.clone(),
    };
    let overrides = parse_overrides(&args.parameter_overrides)?;
    let mut expanded = template.expand(&overrides, &pseudo)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut code = HashMap::new();
    let mut code_dirs = Vec::new();
    for (id, r) in expanded.resources.iter_mut() {
        let Some(uri) = r
            .properties
            .get("Code")
            .and_then(|c| c.get("NuboCodeUri"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        let source = if Path::new(&uri).is_absolute() {
            PathBuf::from(&uri)
        } else {
            base.join(&uri)
        };
        // `nubo build`'s folder (dependencies) with the sources laid over it: a handler edited
        // after the build deploys without building again.
        let built = build::build_dir(&base, id);
        let layers = if built.is_dir() {
            vec![built, source.clone()]
        } else {
            vec![source.clone()]
        };
        let (zip, sha) = package::zip_dirs(&layers)
            .map_err(|e| template.error(Some(id), format!("CodeUri: {e}")))?;
        let key = source.display().to_string();
        r.properties["Code"] = serde_json::json!({"NuboCodeUri": key, "Sha256": sha});
        code.insert(key, zip);
        code_dirs.push(source);
    }
    Ok(Prepared {
        stack,
        template,
        expanded,
        code,
        code_dirs,
        account,
    })
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Outputs with working URLs (see [`urls`]).
fn working_outputs(endpoint: &str, outputs: BTreeMap<String, Output>) -> BTreeMap<String, Output> {
    outputs
        .into_iter()
        .map(|(k, mut o)| {
            if let Value::String(s) = &o.value {
                o.value = Value::String(urls::rewrite(endpoint, s));
            }
            (k, o)
        })
        .collect()
}

fn print_outputs(outputs: &BTreeMap<String, Output>) {
    if outputs.is_empty() {
        return;
    }
    println!("Outputs");
    for (name, o) in outputs {
        let value = match &o.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match &o.description {
            Some(d) => println!("  {name:<28} {value}    # {d}"),
            None => println!("  {name:<28} {value}"),
        }
    }
}

/// The whole of `nubo deploy`; the record written. `quiet` leaves out the change set table.
pub(crate) async fn deploy(
    client: &Client,
    args: &DeployArgs,
    quiet: bool,
) -> anyhow::Result<Option<StackRecord>> {
    let prepared = prepare(client, args, None).await?;
    deploy_prepared(client, args, prepared, quiet).await
}

pub(crate) async fn deploy_prepared(
    client: &Client,
    args: &DeployArgs,
    prepared: Prepared,
    quiet: bool,
) -> anyhow::Result<Option<StackRecord>> {
    let Prepared {
        stack,
        template,
        expanded,
        code,
        account,
        ..
    } = prepared;
    let store = records::Records {
        client,
        account: account.clone(),
        region: client.region().to_owned(),
    };
    let previous = store.get(&stack).await?;
    let changes =
        engine::plan(&expanded, previous.as_ref()).map_err(|e| template_error(&template, e))?;
    let pending: Vec<_> = changes
        .iter()
        .filter(|c| c.action != Action::Keep)
        .collect();
    if pending.is_empty() {
        println!("No changes to deploy: stack {stack} is up to date.");
        if let Some(p) = &previous {
            print_outputs(&p.outputs);
        }
        return Ok(previous);
    }
    if !quiet {
        println!("Change set for stack {stack}:");
        println!("  {:<10} {:<48} TYPE", "OPERATION", "LOGICAL ID");
        for c in &pending {
            let op = match c.action {
                Action::Add => "+ Add",
                Action::Modify => "* Modify",
                Action::Remove => "- Delete",
                Action::Keep => "",
            };
            println!("  {op:<10} {:<48} {}", c.logical, c.kind);
        }
    }
    if args.confirm_changeset && !args.no_confirm {
        print!("Deploy this change set? [y/N]: ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            println!("Not deployed.");
            return Ok(previous);
        }
    }
    let provisioner = provision::ApiProvisioner {
        client,
        endpoint: client.base().to_owned(),
        region: client.region().to_owned(),
        account,
        stack: stack.clone(),
        code,
    };
    let mut log = |line: String| {
        if !quiet {
            println!("  {line}");
        }
    };
    match engine::deploy(&expanded, previous.as_ref(), &provisioner, &mut log).await {
        Ok((resources, outputs)) => {
            let record = StackRecord {
                name: stack.clone(),
                status: if previous.is_some() {
                    "UPDATE_COMPLETE"
                } else {
                    "CREATE_COMPLETE"
                }
                .into(),
                updated: now(),
                template_file: template.file.clone(),
                template: template.text.clone(),
                parameters: expanded.given.clone(),
                resources,
                outputs: working_outputs(client.base(), outputs),
            };
            store.put(&record).await?;
            println!("Successfully deployed stack {stack}.");
            print_outputs(&record.outputs);
            Ok(Some(record))
        }
        Err(e) => {
            if let Some(mut p) = previous {
                p.status = "UPDATE_ROLLBACK_COMPLETE".into();
                p.updated = now();
                store.put(&p).await?;
            }
            Err(template_error(&template, e))
        }
    }
}

/// A deploy error with the failing resource's line in the template.
fn template_error(template: &Template, e: engine::DeployError) -> anyhow::Error {
    match &e.resource {
        Some(r) => {
            let origin = template
                .root
                .get("Resources")
                .and_then(|rs| rs.get(r))
                .map(|_| r.clone())
                .unwrap_or_else(|| origin_of(template, r));
            let line = nubo_stacks::yaml::line_of(&template.text, "Resources", &origin);
            let suffix = if e.rolled_back {
                " (rolled back to the previous state)"
            } else {
                ""
            };
            anyhow::anyhow!(
                "{}{}: resource {r}: {}{suffix}",
                template.file,
                line.map(|l| format!(":{l}")).unwrap_or_default(),
                e.message
            )
        }
        None => anyhow::anyhow!("{}: {e}", template.file),
    }
}

/// The user's resource a generated logical id came from (`HelloFunctionRole` → `HelloFunction`).
fn origin_of(template: &Template, generated: &str) -> String {
    template
        .root
        .get("Resources")
        .and_then(Value::as_object)
        .and_then(|rs| {
            rs.keys()
                .filter(|k| generated.starts_with(k.as_str()))
                .max_by_key(|k| k.len())
                .cloned()
        })
        .unwrap_or_else(|| generated.to_owned())
}

/// `nubo invoke NAME`: NAME may be a function's logical id in the stack of `--stack-name`, or of the
/// template in the current folder (as `sam local invoke HelloWorldFunction`); else it is used as is.
pub(crate) async fn resolve_function(
    client: &Client,
    name: &str,
    stack: Option<String>,
) -> anyhow::Result<String> {
    if name.contains(':') {
        return Ok(name.to_owned());
    }
    let stack = match stack {
        Some(s) => s,
        None => {
            let template = template_path(None);
            if !template.is_file() {
                return Ok(name.to_owned());
            }
            let config = samconfig::load(Path::new("."), "default");
            config
                .get("stack_name")
                .map(samconfig::Value::text)
                .unwrap_or_else(|| stack_name(None, &template))
        }
    };
    // A caller who may not read stacks still invokes by name.
    let Ok(account) = records::account(client).await else {
        return Ok(name.to_owned());
    };
    let store = records::Records {
        client,
        account,
        region: client.region().to_owned(),
    };
    Ok(store
        .get(&stack)
        .await
        .ok()
        .flatten()
        .and_then(|r| {
            r.resources
                .get(name)
                .filter(|d| d.kind == "AWS::Lambda::Function")
                .map(|d| d.physical_id.clone())
        })
        .unwrap_or_else(|| name.to_owned()))
}

/// `nubo delete`.
pub(crate) async fn delete(client: &Client, stack: &str) -> anyhow::Result<()> {
    let account = records::account(client).await?;
    let store = records::Records {
        client,
        account: account.clone(),
        region: client.region().to_owned(),
    };
    let Some(mut record) = store.get(stack).await? else {
        anyhow::bail!("stack {stack} does not exist");
    };
    let provisioner = provision::ApiProvisioner {
        client,
        endpoint: client.base().to_owned(),
        region: client.region().to_owned(),
        account,
        stack: stack.to_owned(),
        code: HashMap::new(),
    };
    let failed = engine::destroy(&record, &provisioner, &mut |line| println!("  {line}")).await;
    if failed.is_empty() {
        store.delete(stack).await?;
        println!("Deleted stack {stack}.");
        return Ok(());
    }
    let kept: BTreeMap<String, _> = failed
        .iter()
        .filter_map(|(id, _)| record.resources.get(id).map(|d| (id.clone(), d.clone())))
        .collect();
    record.resources = kept;
    record.status = "DELETE_FAILED".into();
    record.updated = now();
    store.put(&record).await?;
    let reasons: Vec<String> = failed
        .into_iter()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    anyhow::bail!(
        "stack {stack} is partly deleted; still there:\n  {}",
        reasons.join("\n  ")
    )
}

/// `nubo stacks [NAME] [--json]`.
pub(crate) async fn stacks(
    client: &Client,
    name: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let account = records::account(client).await?;
    let store = records::Records {
        client,
        account,
        region: client.region().to_owned(),
    };
    if let Some(name) = name {
        let record = store
            .get(&name)
            .await?
            .with_context(|| format!("stack {name} does not exist"))?;
        if json {
            let mut v = serde_json::to_value(&record)?;
            if let Some(m) = v.as_object_mut() {
                m.remove("template");
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        println!(
            "Stack {} — {} ({})",
            record.name, record.status, record.updated
        );
        println!("  {:<48} {:<34} PHYSICAL ID", "LOGICAL ID", "TYPE");
        let mut resources: Vec<_> = record.resources.iter().collect();
        resources.sort_by_key(|(_, d)| d.order);
        for (id, d) in resources {
            println!("  {id:<48} {:<34} {}", d.kind, d.physical_id);
        }
        print_outputs(&record.outputs);
        return Ok(());
    }
    let list = store.list().await?;
    if json {
        let names: Vec<Value> = list.iter().map(|r| serde_json::json!({"StackName": r.name, "StackStatus": r.status, "LastUpdatedTime": r.updated, "Resources": r.resources.len()})).collect();
        println!("{}", serde_json::to_string_pretty(&names)?);
        return Ok(());
    }
    println!(
        "{:<40} {:<26} {:>9}  UPDATED",
        "STACK", "STATUS", "RESOURCES"
    );
    for r in list {
        println!(
            "{:<40} {:<26} {:>9}  {}",
            r.name,
            r.status,
            r.resources.len(),
            r.updated
        );
    }
    Ok(())
}
