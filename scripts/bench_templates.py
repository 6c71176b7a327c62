#!/usr/bin/env python3
"""Python cold starts forked from a started template, beside same-run baselines: the same server
with `--templates off` (each environment starts its own interpreter) and spawning
`python3.12 -c pass`; interleaved in rounds so each sees the same machine. Then idle PSS per
environment and a burst of concurrent cold invokes, both servers.

    .venv/bin/python scripts/bench_templates.py --nubo target/release/nubo [--count 15] [--burst 100]

Uses the e2e fixtures (tests/e2e/conftest.py) for the server and boto3. Prints Markdown rows.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from conftest import ROLE, NuboServer, make_zip, wait_updated  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
SLEEPER = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n"


def cold(lam, name: str, counter: list[int]) -> tuple[float, float]:
    counter[0] += 1
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"IT": str(counter[0])}})
    wait_updated(lam, name)
    start = time.perf_counter()
    reply = lam.invoke(FunctionName=name, LogType="Tail")
    whole = (time.perf_counter() - start) * 1000
    log = base64.b64decode(reply["LogResult"]).decode()
    init = re.search(r"Init Duration: ([\d.]+) ms", log)
    return whole, float(init.group(1)) if init else float("nan")


def descendants(root: int) -> list[int]:
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                pass
    found, i = [root], 0
    while i < len(found):
        found += [pid for pid, ppid in parent.items() if ppid == found[i]]
        i += 1
    return found[1:]


def pss_kb(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def concurrent(lam, name: str, n: int) -> tuple[float, int]:
    errors = [0]

    def call():
        reply = lam.invoke(FunctionName=name)
        if "FunctionError" in reply:
            errors[0] += 1

    threads = [threading.Thread(target=call) for _ in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, errors[0]


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * q))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nubo", default="target/release/nubo")
    parser.add_argument("--python", default=None, help="the interpreter python3.12 runs on")
    parser.add_argument("--count", type=int, default=15)
    parser.add_argument("--idle", type=int, default=10)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args()
    servers = {
        label: NuboServer(Path(tempfile.mkdtemp()), ["--templates", label], binary=Path(args.nubo)).start()
        for label in ("on", "off")
    }
    lams = {label: srv.client("lambda", max_pool_connections=max(args.burst, 10)) for label, srv in servers.items()}
    for lam in lams.values():
        for name, body in (("noop", NOOP), ("idle", SLEEPER), ("burst", SLEEPER)):
            lam.create_function(
                FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                MemorySize=1769, Timeout=30, Code={"ZipFile": make_zip({"app.py": body})},
            )
    python = args.python or subprocess.check_output(
        ["sh", "-c", "ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -1 || command -v python3.12"],
        text=True,
    ).strip()
    counter = [0]
    for _ in range(2):  # the template starts with the first environment; page cache warm-up
        for lam in lams.values():
            cold(lam, "noop", counter)
    samples: dict[str, list[tuple[float, float]]] = {"on": [], "off": [], "pass": []}
    rounds = 3
    per = max(1, -(-args.count // rounds))
    for _ in range(rounds):
        for label, lam in lams.items():
            samples[label] += [cold(lam, "noop", counter) for _ in range(per)]
        for _ in range(per):
            start = time.perf_counter()
            subprocess.run([python, "-c", "pass"], env={}, check=True)
            samples["pass"].append(((time.perf_counter() - start) * 1000, 0.0))
    whole = {k: [s[0] for s in v] for k, v in samples.items()}
    init = {k: [s[1] for s in v] for k, v in samples.items()}
    base = whole["pass"]
    print("| scenario | p50 ms | p99 ms | baseline | baseline p50 ms | baseline p99 ms | p50 ratio | p99 ratio |")
    print("|---|---|---|---|---|---|---|---|")

    def row(scenario, subject, baseline_name, baseline):
        print(
            f"| {scenario} | {p(subject, .5):.2f} | {p(subject, .99):.2f} | {baseline_name} | {p(baseline, .5):.2f} | "
            f"{p(baseline, .99):.2f} | {p(subject, .5) / p(baseline, .5):.2f} | {p(subject, .99) / p(baseline, .99):.2f} |"
        )

    row("cold start python3.12, forked from the template: whole invoke", whole["on"], "spawn python3.12 -c pass", base)
    row("cold start python3.12, forked from the template: Init Duration", init["on"], "spawn python3.12 -c pass", base)
    row("cold start python3.12, plain (--templates off): whole invoke", whole["off"], "spawn python3.12 -c pass", base)
    row("cold start python3.12, forked: whole invoke", whole["on"], "same, --templates off", whole["off"])
    row("cold start python3.12, forked: Init Duration", init["on"], "same, --templates off", init["off"])
    print(f"\n({len(base)} samples each)\n")

    print("| idle python3.12 environments | PSS per environment (every process the server started, the template included) |")
    print("|---|---|")
    for label, srv in servers.items():
        concurrent(lams[label], "idle", args.idle)
        time.sleep(1.0)
        kb = sum(pss_kb(pid) for pid in descendants(srv.proc.pid))
        # The noop function's last environment is there too: n + 1 environments.
        print(f"| --templates {label} | {kb / 1024 / (args.idle + 1):.2f} MB ({kb} kB ÷ {args.idle + 1}) |")

    print("\n| burst | environments started per second | failed | wall s |")
    print("|---|---|---|---|")
    for label in servers:
        wall, failed = concurrent(lams[label], "burst", args.burst)
        rate = (args.burst - failed) / max(wall - 0.5, 1e-3)
        print(f"| {args.burst} concurrent cold invokes, --templates {label} | {rate:.1f} | {failed} | {wall:.2f} |")
    for srv in servers.values():
        srv.stop()


if __name__ == "__main__":
    main()
