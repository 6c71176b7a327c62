#!/usr/bin/env bash
# Nubo's benchmark suite in one command: builds release binaries, installs the peer baseline
# (nginx) when it can, runs `nubo-bench` (the unpublished crates/bench: end-to-end scenarios against
# the real `nubo` binary beside same-run baselines, written to bench-results/{results.md,
# results.json,*.svg}) and the criterion micro-benchmarks of the hot functions (short runs; reports
# under target/criterion). Extra arguments go to `nubo-bench`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing nginx (the peer baseline)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1 ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null 2>&1 ||
            echo "    (could not install nginx; its row is skipped)"
    else
        echo "==> nginx not installed and cannot be installed here; its row is skipped"
    fi
fi

echo "==> cargo build --release -p nubo -p nubo-bench -p rust-runtime-fixture"
cargo build --release -p nubo -p nubo-bench -p rust-runtime-fixture

echo "==> nubo-bench"
target/release/nubo-bench --nubo target/release/nubo --out bench-results "$@"

echo "==> micro-benchmarks (criterion)"
cargo bench -p nubo-wire -p nubo-lambda -p nubo-identity --bench wire --bench lambda --bench identity -- --warm-up-time 1 --measurement-time 2 2>&1 |
    grep -E '^[A-Za-z_/0-9]+ +time:|^[A-Za-z_/0-9]+$|^ +time:' || true
echo "==> done: bench-results/results.md (table), results.json, warm.svg, concurrency.svg, cold.svg"
