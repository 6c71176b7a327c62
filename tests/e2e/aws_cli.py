"""The real AWS CLI (awscli v1 from tests/e2e/requirements.txt) in a subprocess, optionally with a
hook a test needs: a clock that is off by some seconds (for stale signatures), or a request body
changed after it was signed (a tampered request). The hooks are botocore's own extension points
(the signer's clock function, the `before-send` event); everything else is the unmodified CLI."""

from __future__ import annotations

import os
import subprocess
import sys

DRIVER = r"""
import datetime, os, sys

import botocore.auth

skew = float(os.environ.get("NUBO_TEST_CLOCK_SKEW", "0"))
if skew:
    _now = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: _now(*a, **k) + datetime.timedelta(seconds=skew)

from awscli.clidriver import create_clidriver

driver = create_clidriver()
swap = os.environ.get("NUBO_TEST_TAMPER")
if swap:
    before, after = swap.split("=>")
    def tamper(request, **kwargs):
        if isinstance(request.body, bytes) and before.encode() in request.body:
            request.body = request.body.replace(before.encode(), after.encode())
    driver.session.register("before-send", tamper)
sys.exit(driver.main(sys.argv[1:]))
"""


def aws(args: list[str], env: dict[str, str], skew: float = 0, tamper: tuple[str, str] | None = None, timeout: float = 60):
    """Runs `aws ARGS`; `skew` shifts the signer's clock, `tamper=(a, b)` replaces `a` by `b` (same
    length) in the body after signing."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    full.update(env)
    full["AWS_CONFIG_FILE"] = os.devnull
    full["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    full["AWS_MAX_ATTEMPTS"] = "1"
    if skew:
        full["NUBO_TEST_CLOCK_SKEW"] = str(skew)
    if tamper:
        assert len(tamper[0]) == len(tamper[1]), "a tampered body keeps its length"
        full["NUBO_TEST_TAMPER"] = f"{tamper[0]}=>{tamper[1]}"
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *[str(a) for a in args]],
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
    )
