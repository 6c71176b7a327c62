//! Python cold starts forked from a started template (`--templates on`, the default) beside the
//! same server's plain start (`--templates off`) and spawning `python -c pass`, in one run.

use std::path::Path;

use std::time::{Duration, Instant};

use anyhow::Context;

use super::{
    cold_start_samples, cold_starts, create_function, descendants, invoke, pss_kb, spawn_samples,
    stats, zip_of, BenchArgs, Row, Server,
};

/// Concurrent cold invokes in the burst.
const BURST: usize = 200;
/// How long each burst invocation (and each idle environment's first one) holds its environment,
/// so every concurrent call needs one of its own.
const HOLD: Duration = Duration::from_millis(500);
const SLEEPER: &str = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n";

const HANDLER: &str = "def handler(event, context):\n    return None\n";

pub(super) async fn rows(args: &BenchArgs, nubo: &Path) -> anyhow::Result<Vec<Row>> {
    eprintln!("bench: templates: starting `nubo serve` twice (--templates on, off) …");
    let forked = Server::start_with(nubo, &["--templates", "on"]).await?;
    let plain = Server::start_with(nubo, &["--templates", "off"]).await?;
    let catalog =
        nubo_lambda::runtimes::RuntimeCatalog::install(forked._data.path(), Default::default())?;
    let runtime = "python3.12";
    let python = catalog.launch(runtime, Path::new("/"))?.program;
    let code = zip_of(&[("app.py", HANDLER.as_bytes().to_vec(), 0o644)])?;
    let name = "bench-template-python";
    let (on, off) = (forked.client(), plain.client());
    create_function(&on, name, runtime, "app.handler", &code).await?;
    create_function(&off, name, runtime, "app.handler", &code).await?;
    // The template starts with the first environment (which starts plainly meanwhile).
    cold_starts(&on, name, 2).await?;
    eprintln!(
        "bench: cold start {runtime}, template vs plain vs python -c pass ({} each, interleaved in 3 rounds)",
        args.cold_iterations
    );
    let rounds = 3;
    let per_round = args.cold_iterations.div_ceil(rounds).max(1);
    let (mut fork_whole, mut fork_init, mut plain_whole, mut plain_init, mut spawn) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (whole, init) = cold_start_samples(&on, name, per_round).await?;
        fork_whole.extend(whole);
        fork_init.extend(init);
        let (whole, init) = cold_start_samples(&off, name, per_round).await?;
        plain_whole.extend(whole);
        plain_init.extend(init);
        spawn.extend(spawn_samples(&python, &["-c", "pass"], per_round)?);
    }
    let spawn = stats(spawn);
    let spawn_label = "spawn python3.12 -c pass".to_owned();
    let row = |scenario: &str, subject, baseline_name: &str, baseline| Row {
        scenario: scenario.into(),
        subject,
        throughput: None,
        baseline_name: baseline_name.into(),
        baseline,
        baseline_throughput: None,
    };
    let (fork_whole, fork_init) = (stats(fork_whole), stats(fork_init));
    let (plain_whole, plain_init) = (stats(plain_whole), stats(plain_init));
    let mut rows = vec![
        row(
            "cold start python3.12, forked from the template: whole invoke",
            fork_whole.clone(),
            &spawn_label,
            spawn.clone(),
        ),
        row(
            "cold start python3.12, forked from the template: Init Duration",
            fork_init.clone(),
            &spawn_label,
            spawn.clone(),
        ),
        row(
            "cold start python3.12, plain start (--templates off): whole invoke",
            plain_whole.clone(),
            &spawn_label,
            spawn,
        ),
        row(
            "cold start python3.12, forked: whole invoke",
            fork_whole,
            "same, --templates off",
            plain_whole,
        ),
        row(
            "cold start python3.12, forked: Init Duration",
            fork_init,
            "same, --templates off",
            plain_init,
        ),
    ];
    // Idle environments: PSS of every process the server started (the template's included),
    // per environment.
    let n = args.idle_environments.max(1);
    let sleeper = zip_of(&[("app.py", SLEEPER.as_bytes().to_vec(), 0o644)])?;
    let mut lines = vec![format!(
        "Idle {runtime} environments ({n} per server): PSS of every process the server started \
         (helper, network stack, template and its forks), per environment.\n\n| start | PSS per environment |\n|---|---|"
    )];
    for (label, server, client) in [
        ("forked from the template", &forked, &on),
        ("plain (--templates off)", &plain, &off),
    ] {
        create_function(client, "bench-idle", runtime, "app.handler", &sleeper).await?;
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..n {
            let client = server.client();
            calls.spawn(async move { invoke(&client, "bench-idle", false).await.map(drop) });
        }
        while let Some(done) = calls.join_next().await {
            done??;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let server_pid = server._child.id().context("server pid")?;
        // Before the burst; the cold starts' last environment is counted too (one in n + 1).
        let kb: u64 = descendants(server_pid).iter().map(|pid| pss_kb(*pid)).sum();
        lines.push(format!(
            "| {label} | {:.1} MB (all {kb} kB ÷ {n}) |",
            kb as f64 / 1024.0 / n as f64
        ));
    }
    // Burst: BURST concurrent calls of a function with no environment yet.
    let mut burst = Vec::new();
    for (server, client) in [(&forked, &on), (&plain, &off)] {
        create_function(client, "bench-burst", runtime, "app.handler", &sleeper).await?;
        eprintln!("bench: burst of {BURST} concurrent cold invokes of {runtime}");
        let started = Instant::now();
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..BURST {
            let client = server.client();
            calls.spawn(async move {
                let start = Instant::now();
                invoke(&client, "bench-burst", false)
                    .await
                    .map(|_| start.elapsed())
            });
        }
        let (mut latencies, mut failed) = (Vec::new(), 0usize);
        while let Some(done) = calls.join_next().await {
            // On a loaded machine some inits miss Lambda's 10 s: counted, not fatal.
            match done? {
                Ok(latency) => latencies.push(latency),
                Err(_) => failed += 1,
            }
        }
        eprintln!("bench: burst: {failed} of {BURST} invocations failed");
        anyhow::ensure!(
            !latencies.is_empty(),
            "every invocation of the burst failed"
        );
        // Every call held its environment HOLD long: the rest is starting BURST environments.
        let starting = started.elapsed().saturating_sub(HOLD).as_secs_f64();
        burst.push((stats(latencies), (BURST - failed) as f64 / starting));
    }
    let (plain_burst, plain_rate) = burst.pop().context("burst")?;
    let (fork_burst, fork_rate) = burst.pop().context("burst")?;
    rows.push(Row {
        scenario: format!("burst: {BURST} concurrent cold invokes of {runtime}, forked (req/s column: environments started per second)"),
        subject: fork_burst,
        throughput: Some(fork_rate),
        baseline_name: "same, --templates off".into(),
        baseline: plain_burst,
        baseline_throughput: Some(plain_rate),
    });
    let text = lines.join("\n");
    eprintln!("{text}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("template-memory.md"), &text)?;
    Ok(rows)
}
