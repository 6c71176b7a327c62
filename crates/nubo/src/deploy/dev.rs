//! `nubo dev`: a server (the one at the endpoint, or one started for the session), the stack
//! deployed, then the template and every CodeUri folder watched: a change redeploys, and since
//! unchanged resources are left alone an edited handler is one UpdateFunctionCode.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nubo::client::Client;

use super::DeployArgs;

/// A fingerprint of the watched files: (newest modification, file count, total size).
fn fingerprint(paths: &[PathBuf]) -> (Option<SystemTime>, usize, u64) {
    let mut newest = None;
    let mut count = 0;
    let mut size = 0;
    for p in paths {
        let files = if p.is_dir() {
            super::package::files_of(p)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, f)| f)
                .collect()
        } else {
            vec![p.clone()]
        };
        for f in files {
            if let Ok(m) = std::fs::metadata(&f) {
                count += 1;
                size += m.len();
                let t = m.modified().ok();
                if t > newest {
                    newest = t;
                }
            }
        }
    }
    (newest, count, size)
}

/// Whether a server answers at the client's endpoint.
async fn reachable(client: &Client) -> bool {
    client
        .get_unsigned("/_nubo/health")
        .await
        .is_ok_and(|r| r.status.is_success())
}

/// Runs until interrupted. `make_client` is called once a server answers (a server started
/// here writes the credentials the client reads).
pub(crate) async fn dev(
    args: DeployArgs,
    endpoint: Option<String>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    poll: Duration,
) -> anyhow::Result<()> {
    let make = || -> anyhow::Result<Client> {
        let c = Client::from_env(endpoint.clone(), data_dir.clone())?;
        Ok(match &region {
            Some(r) => c.in_region(r.clone()),
            None => c,
        })
    };
    let probe = Client::new(
        &nubo::client::resolve_endpoint(endpoint.clone(), |k| {
            std::env::var(k).ok().filter(|v| !v.is_empty())
        }),
        "us-east-1",
        nubo_wire::sigv4::Credentials {
            access_key_id: String::new(),
            secret_access_key: String::new(),
        },
        None,
    );
    let mut child = None;
    if !reachable(&probe).await {
        let exe = std::env::current_exe()?;
        let listen = probe.base().trim_start_matches("http://").to_owned();
        println!("Starting `nubo serve --listen {listen}` for this session");
        let mut command = tokio::process::Command::new(exe);
        command
            .arg("serve")
            .arg("--listen")
            .arg(&listen)
            .kill_on_drop(true);
        if let Some(d) = &data_dir {
            command.arg("--data-dir").arg(d);
        }
        child = Some(command.spawn()?);
        let started = Instant::now();
        while !reachable(&probe).await {
            if started.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("the server did not start within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let client = make()?;
    let template = super::template_path(args.template.clone());
    let mut args = args;
    args.template = Some(template.clone());
    args.no_confirm = true;
    let first = super::prepare(&client, &args, None).await?;
    let account = first.account.clone();
    let mut watched: Vec<PathBuf> = first.code_dirs.clone();
    watched.push(template.clone());
    if let Err(e) = super::deploy_prepared(&client, &args, first, false).await {
        eprintln!("deploy failed: {e:#}");
    }
    println!(
        "Watching {} for changes (Ctrl-C to stop)",
        watched
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut seen = fingerprint(&watched);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    // SIGTERM too, so a server started here is stopped with us (kill_on_drop).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = term.recv() => break,
            _ = tokio::time::sleep(poll) => {}
        }
        let now = fingerprint(&watched);
        if now == seen {
            continue;
        }
        seen = now;
        let started = Instant::now();
        match super::prepare(&client, &args, Some(account.clone())).await {
            Ok(prepared) => {
                let dirs = prepared.code_dirs.clone();
                match super::deploy_prepared(&client, &args, prepared, true).await {
                    Ok(_) => println!("Redeployed in {} ms", started.elapsed().as_millis()),
                    Err(e) => eprintln!("deploy failed: {e:#}"),
                }
                watched = dirs;
                watched.push(template.clone());
                seen = fingerprint(&watched);
            }
            Err(e) => eprintln!("{e:#}"),
        }
    }
    if let Some(mut c) = child {
        // A graceful stop (the server flushes), then a hard one if it lingers.
        if let Some(pid) = c.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(15), c.wait())
            .await
            .is_err()
        {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }
    Ok(())
}
