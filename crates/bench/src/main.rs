//! `nubo-bench`: Nubo's benchmark suite (see BENCHMARKS.md and `scripts/bench.sh`), kept out of
//! the product binary.
//!
//! The scenarios drive the real `nubo` binary — by default the one beside this executable, as
//! `cargo build --release -p nubo -p nubo-bench` leaves them — over loopback HTTP with the same
//! SigV4-signing client the CLI uses (`nubo::client`), and measure each figure beside a baseline
//! taken in the same run. Micro-benchmarks of hot functions link the library crates directly.

mod bench;
mod peer;
mod plot;

use clap::Parser;

/// Measure warm and cold invocation against same-run baselines; writes a Markdown table and JSON.
#[derive(Debug, Parser)]
// A later `--out` (or any option) wins, so `scripts/bench.sh`'s defaults can be overridden.
#[command(name = "nubo-bench", version, about, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    args: bench::BenchArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench::run(cli.args))
}
