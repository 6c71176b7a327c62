#!/usr/bin/env bash
# Nubo's whole test suite: Rust unit/integration tests, then the end-to-end suite (real server,
# real boto3 / aws CLI) in tests/e2e. Extra arguments go to pytest, e.g. `scripts/test.sh -k invoke -x`.
# Needs only a Rust toolchain, python3 (>= 3.10, with pip) and node (with npm) on PATH: the test
# servers install the runtimes' AWS SDKs with pip and npm into target/e2e-runtime-sdk themselves.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Functions reach the network through a user-mode network stack in their own network namespace
# (slirp4netns; pasta for --function-network host-loopback). Without them the server still runs,
# with no outbound network for functions (it says so), and the tests that need it are skipped.
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 \
    && { ! command -v slirp4netns >/dev/null 2>&1 || ! command -v pasta >/dev/null 2>&1; }; then
    echo "==> apt-get install slirp4netns passt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slirp4netns passt >/dev/null \
        || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slirp4netns passt >/dev/null; } \
        || echo "    (could not install them: functions get no outbound network)"
fi

# The console's end-to-end test drives Debian's headless Chromium (tests/e2e/test_console.py skips,
# saying why, where it cannot be installed).
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then
    echo "==> apt-get install chromium"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
        || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
        || echo "    (could not install chromium: the console test is skipped)"
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "==> cargo test --workspace"
cargo test --workspace

echo "==> cargo build -p nubo -p rust-runtime-fixture"
cargo build -p nubo -p rust-runtime-fixture

VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/e2e/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

wanted="$(sha256_of "$REQUIREMENTS")"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
    echo "==> installing tests/e2e/requirements.txt into .venv"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$wanted" >"$STAMP"
fi

echo "==> pytest tests/e2e"
exec "$VENV/bin/python" -m pytest -q tests/e2e "$@"
