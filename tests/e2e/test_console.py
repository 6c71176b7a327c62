"""The web console in headless Chromium (Debian's `chromium`, driven by playwright): a browser opening
the server's address lands on the console, signs in with an access key, creates a function with the
inline editor, tests it with an event (result, duration, log), sees its log and its charts, edits and
deploys it, and browses APIs, queues, buckets and usage. A key the policy refuses sees AWS's error.
Screenshots are kept in target/e2e-artifacts/console/ (and the test's tmp dir)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO, ROLE, unique_name

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "target" / "e2e-artifacts" / "console"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="python playwright is not installed (tests/e2e/requirements.txt)"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (scripts/test.sh installs Debian's `chromium` as root)"),
]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path

    return shot


def sign_in(page, endpoint: str, key: str, secret: str) -> None:
    # A browser opening the server's address is sent to the console.
    page.goto(endpoint + "/")
    assert page.url == endpoint + "/_nubo/console/"
    page.fill("#access-key", key)
    page.fill("#secret-key", secret)
    page.click("#signin-button")


def test_sign_in_create_test_and_watch_a_function(browser, server, endpoint, lam, shots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, endpoint, server.credentials["aws_access_key_id"], server.credentials["aws_secret_access_key"])
    expect(page.locator("#who")).to_contain_text("arn:aws:iam::")
    shots(page, "01-functions")

    name = unique_name("console")
    page.click("#create-function")
    page.fill("#fn-name", name)
    page.select_option("#fn-role", ROLE)
    page.fill("#fn-code", 'import json\n\ndef lambda_handler(event, context):\n    print("got", json.dumps(event))\n    return {"greeting": "hi " + event.get("key1", "?")}\n')
    shots(page, "02-create")
    page.click("#fn-create")
    try:
        # The new function opens on its Test tab; the "hello" template is the first event.
        expect(page.locator("#function-name")).to_have_text(name)
        expect(page.locator("#event")).to_have_value(re.compile(r'"key1": "value1"'))
        page.click("#run-test")
        expect(page.locator("#result-status")).to_have_text("Succeeded", timeout=30_000)
        expect(page.locator("#result")).to_contain_text('"greeting": "hi value1"')
        expect(page.locator("#result-duration")).to_contain_text("Duration")
        expect(page.locator("#result-log")).to_contain_text("REPORT RequestId")
        expect(page.locator("#result-log")).to_contain_text("got {")
        shots(page, "03-test")

        # A saved event, chosen again, runs as saved.
        page.fill("#event", json.dumps({"key1": "saved"}))
        page.fill("#event-name", "mine")
        page.click("#save-event")
        page.select_option("#event-select", "saved:mine")
        page.click("#run-test")
        expect(page.locator("#result")).to_contain_text('"greeting": "hi saved"', timeout=30_000)

        # The SQS template too (templates for API Gateway, S3, SQS and schedules are offered).
        options = page.locator("#event-select option").all_inner_texts()
        assert {"Template: api-gateway-http", "Template: s3-put", "Template: sqs", "Template: schedule"} <= set(options)

        # Its log, through CloudWatch Logs.
        page.click("[data-tab=logs]")
        expect(page.locator("#log-lines")).to_contain_text("START RequestId", timeout=15_000)
        expect(page.locator("#log-lines")).to_contain_text("got {")
        page.fill("#log-filter", '"hi"')
        page.press("#log-filter", "Enter")
        shots(page, "04-logs")

        # Its charts (uPlot canvases over CloudWatch's AWS/Lambda metrics).
        page.click("[data-tab=monitor]")
        expect(page.locator(".uplot")).to_have_count(5, timeout=15_000)
        shots(page, "05-monitor")

        # Edit, deploy, test again.
        page.click("[data-tab=code]")
        expect(page.locator("#code-file")).to_have_text("lambda_function.py")
        code = page.input_value("#code")
        page.fill("#code", code.replace('"hi "', '"hello "'))
        page.click("#deploy")
        expect(page.locator("[data-testid=deployed]")).to_be_visible(timeout=15_000)
        page.click("[data-tab=test]")
        page.click("#run-test")
        # Saved events come first in the list.
        expect(page.locator("#result")).to_contain_text('"greeting": "hello saved"', timeout=30_000)
        assert lam.get_function(FunctionName=name)["Configuration"]["Handler"] == "lambda_function.lambda_handler"

        page.click("[data-tab=configuration]")
        expect(page.locator("[data-testid=configuration]")).to_contain_text(f"function:{name}")

        # The other pages answer without errors.
        for where, ready in [("#/apis", "#apis"), ("#/queues", "#queues"), ("#/buckets", "#buckets"), ("#/usage", "#usage")]:
            page.goto(endpoint + "/_nubo/console/" + where)
            expect(page.locator(ready)).not_to_contain_text("Loading")
            assert page.locator("[data-testid=error]").count() == 0, page.locator(ready).inner_text()
            shots(page, f"06-{where[2:]}")
        expect(page.locator("[data-testid=usage-table]")).to_contain_text(name)
        page.goto(endpoint + "/_nubo/console/#/functions")
        expect(page.locator(f"tr[data-function='{name}']")).to_be_visible()
        assert errors == []
    finally:
        lam.delete_function(FunctionName=name)
        page.close()


def test_a_wrong_secret_and_a_refused_user(browser, server, endpoint, shots):
    page = browser.new_page()
    sign_in(page, endpoint, server.credentials["aws_access_key_id"], "not-the-secret")
    expect(page.locator("#signin-error")).to_contain_text("SignatureDoesNotMatch")
    shots(page, "07-wrong-secret")

    iam = server.client("iam")
    user = unique_name("console-ro")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    try:
        page.goto(endpoint + "/_nubo/console/")
        page.evaluate("sessionStorage.clear()")
        sign_in(page, endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        # STS answers anyone; Lambda refuses a user without a policy, in AWS's words.
        expect(page.locator("#functions [data-testid=error]")).to_contain_text("AccessDeniedException")
        shots(page, "08-refused")
    finally:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=user)
        page.close()


def test_the_console_is_plain_files_and_api_clients_keep_their_errors(endpoint):
    import urllib.request

    with urllib.request.urlopen(endpoint + "/_nubo/console/app.js") as reply:
        assert reply.headers["Content-Type"].startswith("text/javascript")
        assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    # An unsigned API call (no Accept: text/html) still gets AWS's error, not the console.
    request = urllib.request.Request(endpoint + "/", headers={"Accept": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request)
    assert e.value.code in (400, 403)
