//! Python cold starts forked from a started template (`--templates on`, the default) beside the
//! same server's plain start (`--templates off`) and spawning `python -c pass`, in one run.

use std::path::Path;

use super::{
    cold_start_samples, cold_starts, create_function, spawn_samples, stats, zip_of, BenchArgs, Row,
    Server,
};

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
    Ok(vec![
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
    ])
}
