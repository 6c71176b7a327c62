// The Nubo console: a client of the same public AWS APIs as the CLI and the SDKs, each request
// signed in the browser (aws.js) with the keys the user signed in with. Hash routes:
// #/functions, #/functions/NAME[/tab], #/create, #/apis, #/queues, #/buckets, #/usage.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const main = () => $("#main");
const LAMBDA = "/2015-03-31/functions";
let stopTimers = [];

function page(html) {
  stopTimers.forEach((stop) => stop());
  stopTimers = [];
  main().innerHTML = html;
}
function every(ms, fn) {
  const id = setInterval(fn, ms);
  stopTimers.push(() => clearInterval(id));
}
function showError(where, error) {
  const el = typeof where === "string" ? $(where) : where;
  if (el) el.innerHTML = `<p class="error" data-testid="error">${esc(error.message || error)}</p>`;
}

// ---- sign in ------------------------------------------------------------------------------------

function signInPage() {
  $("#nav").style.visibility = "hidden";
  $("#who").textContent = "";
  page(`<div id="signin" class="card">
    <h2>Sign in</h2>
    <p class="muted">With an access key of this server (<code>nubo serve</code> prints where the
    administrator's is). Requests are signed in this browser; the secret is kept in this tab's
    session storage only.</p>
    <form id="signin-form">
      <label for="access-key">Access key ID</label><input id="access-key" autocomplete="username" required>
      <label for="secret-key">Secret access key</label><input id="secret-key" type="password" autocomplete="current-password" required>
      <label for="region">Region</label><input id="region" value="us-east-1" required>
      <p><button type="submit" id="signin-button">Sign in</button></p>
      <div id="signin-error"></div>
    </form></div>`);
  $("#signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    Aws.signIn({ accessKeyId: $("#access-key").value.trim(), secretAccessKey: $("#secret-key").value.trim(), region: $("#region").value.trim() });
    try {
      const doc = await Aws.query("sts", "GetCallerIdentity", "2011-06-15");
      const s = Aws.session();
      s.arn = doc.querySelector("Arn").textContent;
      s.account = doc.querySelector("Account").textContent;
      Aws.signIn(s);
      location.hash = "#/functions";
      route();
    } catch (error) {
      Aws.signOut();
      showError("#signin-error", error);
    }
  });
}

// ---- functions ----------------------------------------------------------------------------------

async function functionsPage() {
  page(`<div class="row"><h2 style="margin:0">Functions</h2><a href="#/create"><button id="create-function">Create function</button></a></div>
    <div class="card" id="functions">Loading…</div>`);
  try {
    const list = await (await Aws.rest("lambda", "GET", `${LAMBDA}/`)).json();
    const rows = list.Functions.map((f) => `<tr data-function="${esc(f.FunctionName)}">
      <td><a href="#/functions/${encodeURIComponent(f.FunctionName)}">${esc(f.FunctionName)}</a></td>
      <td>${esc(f.Runtime || "")}</td><td>${f.MemorySize} MB</td><td>${esc(f.LastModified)}</td></tr>`).join("");
    $("#functions").innerHTML = list.Functions.length
      ? `<table><tr><th>Name</th><th>Runtime</th><th>Memory</th><th>Last modified</th></tr>${rows}</table>`
      : `<p class="muted">No functions yet.</p>`;
  } catch (error) {
    showError("#functions", error);
  }
}

const STARTERS = {
  python: { file: "lambda_function.py", handler: "lambda_function.lambda_handler", code:
`import json

def lambda_handler(event, context):
    print("event:", json.dumps(event))
    return {"statusCode": 200, "body": json.dumps({"hello": "from Nubo"})}
` },
  node: { file: "index.mjs", handler: "index.handler", code:
`export const handler = async (event) => {
  console.log("event:", JSON.stringify(event));
  return { statusCode: 200, body: JSON.stringify({ hello: "from Nubo" }) };
};
` },
};
const family = (runtime) => (String(runtime).startsWith("node") ? "node" : "python");

async function createPage() {
  page(`<h2>Create function</h2><div class="card"><form id="create-form">
    <div class="row"><label>Name <input id="fn-name" required pattern="[A-Za-z0-9_-]{1,64}"></label>
    <label>Runtime <select id="fn-runtime"><option>python3.12</option><option>python3.13</option><option>nodejs20.x</option><option>nodejs22.x</option></select></label>
    <label>Memory <input id="fn-memory" type="number" value="128" min="128" max="10240" style="width:90px"> MB</label>
    <label>Role <select id="fn-role"></select></label></div>
    <textarea class="code" id="fn-code" spellcheck="false"></textarea>
    <p><button type="submit" id="fn-create">Create</button></p><div id="create-error"></div></form></div>`);
  const code = $("#fn-code");
  code.value = STARTERS.python.code;
  $("#fn-runtime").addEventListener("change", (e) => { code.value = STARTERS[family(e.target.value)].code; });
  try {
    const doc = await Aws.query("iam", "ListRoles", "2010-05-08");
    const roles = [...doc.querySelectorAll("member > Arn")].map((n) => n.textContent);
    $("#fn-role").innerHTML = roles.map((r) => `<option>${esc(r)}</option>`).join("") ||
      `<option value="arn:aws:iam::${esc(Aws.session().account)}:role/lambda-role">(no roles: create one with IAM)</option>`;
  } catch (error) {
    showError("#create-error", error);
  }
  $("#create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const runtime = $("#fn-runtime").value, starter = STARTERS[family(runtime)];
    const name = $("#fn-name").value.trim();
    $("#fn-create").disabled = true;
    try {
      await Aws.rest("lambda", "POST", `${LAMBDA}`, {
        FunctionName: name, Runtime: runtime, Handler: starter.handler, Role: $("#fn-role").value,
        MemorySize: Number($("#fn-memory").value), Code: { ZipFile: Aws.base64(Aws.zip({ [starter.file]: code.value })) },
      });
      location.hash = `#/functions/${encodeURIComponent(name)}/test`;
    } catch (error) {
      showError("#create-error", error);
      $("#fn-create").disabled = false;
    }
  });
}

// The function page: tabs for code, test, monitor (charts) and logs.
async function functionPage(name, tab) {
  const base = `#/functions/${encodeURIComponent(name)}`;
  const tabs = ["code", "test", "monitor", "logs", "configuration"]
    .map((t) => `<a href="${base}/${t}" class="${t === tab ? "active" : ""}" data-tab="${t}">${t[0].toUpperCase() + t.slice(1)}</a>`).join("");
  page(`<h2 id="function-name">${esc(name)}</h2><div class="tabs">${tabs}</div><div id="tab">Loading…</div>`);
  let fn;
  try {
    fn = await (await Aws.rest("lambda", "GET", `${LAMBDA}/${encodeURIComponent(name)}`)).json();
  } catch (error) {
    return showError("#tab", error);
  }
  ({ code: codeTab, test: testTab, monitor: monitorTab, logs: logsTab, configuration: configTab }[tab] || testTab)(fn);
}

function configTab(fn) {
  const c = fn.Configuration;
  const items = [["ARN", c.FunctionArn], ["Runtime", c.Runtime], ["Handler", c.Handler], ["Memory", `${c.MemorySize} MB`],
    ["Timeout", `${c.Timeout} s`], ["Architectures", (c.Architectures || []).join(", ")], ["Role", c.Role], ["State", c.State],
    ["Code size", `${c.CodeSize} bytes`], ["Last modified", c.LastModified], ["Log group", (c.LoggingConfig || {}).LogGroup || `/aws/lambda/${c.FunctionName}`]];
  const vars = Object.entries((c.Environment || {}).Variables || {});
  $("#tab").innerHTML = `<div class="card kv" data-testid="configuration">${items.map(([k, v]) => `<div>${k}</div><div>${esc(v)}</div>`).join("")}</div>
    <div class="card"><h3>Environment variables</h3>${vars.length ? vars.map(([k, v]) => `<div><code>${esc(k)}</code> = ${esc(v)}</div>`).join("") : `<p class="muted">None.</p>`}</div>`;
}

async function codeTab(fn) {
  const c = fn.Configuration;
  $("#tab").innerHTML = `<div class="card"><div class="row"><span id="code-file" class="muted"></span>
    <button id="deploy">Deploy</button><span id="deploy-status"></span></div>
    <textarea class="code" id="code" spellcheck="false">Loading…</textarea></div>`;
  let files;
  try {
    files = await Aws.unzip(await (await fetch(fn.Code.Location)).arrayBuffer());
  } catch (error) {
    return showError("#deploy-status", error);
  }
  const names = Object.keys(files);
  if (names.length !== 1) {
    $("#code").value = `This function's package holds ${names.length} files (${names.slice(0, 5).join(", ")}…); the inline editor edits single-file functions.`;
    $("#code").disabled = $("#deploy").disabled = true;
    return;
  }
  const file = names[0];
  $("#code-file").textContent = file;
  $("#code").value = new TextDecoder().decode(files[file]);
  $("#deploy").addEventListener("click", async () => {
    $("#deploy-status").textContent = "Deploying…";
    try {
      await Aws.rest("lambda", "PUT", `${LAMBDA}/${encodeURIComponent(c.FunctionName)}/code`,
        { ZipFile: Aws.base64(Aws.zip({ [file]: $("#code").value })) });
      $("#deploy-status").innerHTML = `<span class="ok" data-testid="deployed">Deployed.</span>`;
    } catch (error) {
      showError("#deploy-status", error);
    }
  });
}

const TEMPLATES = {
  "hello": { key1: "value1", key2: "value2" },
  "api-gateway-http": { version: "2.0", routeKey: "GET /hello", rawPath: "/hello", rawQueryString: "name=me",
    headers: { accept: "application/json", host: "example.execute-api.us-east-1.localhost" }, queryStringParameters: { name: "me" },
    requestContext: { http: { method: "GET", path: "/hello", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "console" },
      routeKey: "GET /hello", stage: "$default", requestId: "console-test" }, isBase64Encoded: false },
  "s3-put": { Records: [{ eventVersion: "2.1", eventSource: "aws:s3", awsRegion: "us-east-1", eventName: "ObjectCreated:Put",
    s3: { bucket: { name: "my-bucket", arn: "arn:aws:s3:::my-bucket" }, object: { key: "photo.jpg", size: 1024, eTag: "0123456789abcdef" } } }] },
  "sqs": { Records: [{ messageId: "059f36b4-87a3-44ab-83d2-661975830a7d", receiptHandle: "AQEB...", body: "Hello from SQS!",
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1545082649183" }, messageAttributes: {}, eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:my-queue", awsRegion: "us-east-1" }] },
  "schedule": { version: "0", id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", source: "aws.events",
    account: "000000000000", time: "2026-01-01T00:00:00Z", region: "us-east-1", resources: ["arn:aws:events:us-east-1:000000000000:rule/my-schedule"], detail: {} },
};

function testTab(fn) {
  const name = fn.Configuration.FunctionName;
  const storeKey = `nubo-console-events:${name}`;
  const saved = JSON.parse(localStorage.getItem(storeKey) || "{}");
  const options = [...Object.keys(saved).map((k) => `<option value="saved:${esc(k)}">Saved: ${esc(k)}</option>`),
    ...Object.keys(TEMPLATES).map((k) => `<option value="template:${k}">Template: ${k}</option>`)].join("");
  $("#tab").innerHTML = `<div class="card"><div class="row">
      <select id="event-select">${options}</select>
      <input id="event-name" placeholder="event name" value="my-event"><button class="plain" id="save-event">Save</button>
      <button id="run-test">Test</button></div>
    <textarea class="code" id="event" spellcheck="false" style="min-height:140px"></textarea></div>
    <div class="card" id="result-card" hidden><div class="row"><strong id="result-status"></strong>
      <span class="muted" id="result-duration"></span></div>
      <h3>Result</h3><pre id="result"></pre><h3>Log</h3><pre id="result-log"></pre></div>`;
  const pick = (value) => {
    const [kind, key] = value.split(/:(.*)/s);
    $("#event").value = JSON.stringify(kind === "saved" ? saved[key] : TEMPLATES[key], null, 2);
    if (kind === "saved") $("#event-name").value = key;
  };
  $("#event-select").addEventListener("change", (e) => pick(e.target.value));
  pick($("#event-select").value);
  $("#save-event").addEventListener("click", () => {
    try {
      saved[$("#event-name").value] = JSON.parse($("#event").value);
      localStorage.setItem(storeKey, JSON.stringify(saved));
      testTab(fn);
    } catch (error) { alert(`Not JSON: ${error.message}`); }
  });
  $("#run-test").addEventListener("click", async () => {
    $("#run-test").disabled = true;
    try {
      const response = await Aws.request("lambda", "POST", `${LAMBDA}/${encodeURIComponent(name)}/invocations`, {
        headers: { "x-amz-log-type": "Tail", "content-type": "application/json" }, body: $("#event").value,
      });
      if (!response.ok) throw await Aws.failure(response);
      const failed = response.headers.get("x-amz-function-error");
      const body = await response.text();
      const log = new TextDecoder().decode(Uint8Array.from(atob(response.headers.get("x-amz-log-result") || ""), (c) => c.charCodeAt(0)));
      const duration = (log.match(/\tDuration: ([\d.]+ ms)/) || [])[1];
      const billed = (log.match(/Billed Duration: (\d+ ms)/) || [])[1];
      $("#result-card").hidden = false;
      $("#result-status").innerHTML = failed ? `<span class="error">Failed (${esc(failed)})</span>` : `<span class="ok">Succeeded</span>`;
      $("#result-duration").textContent = duration ? `Duration ${duration} · billed ${billed}` : "";
      let pretty = body;
      try { pretty = JSON.stringify(JSON.parse(body), null, 2); } catch (_) { /* not JSON */ }
      $("#result").textContent = pretty;
      $("#result-log").textContent = log;
    } catch (error) {
      $("#result-card").hidden = false;
      showError("#result-status", error);
    } finally {
      $("#run-test").disabled = false;
    }
  });
}

// Live charts from CloudWatch's AWS/Lambda metrics (GetMetricData), one minute per point.
async function monitorTab(fn) {
  const name = fn.Configuration.FunctionName;
  const charts = [["Invocations", "Sum", "invocations"], ["Errors", "Sum", "errors"], ["Duration", "Average", "duration (avg ms)"],
    ["Duration", "Maximum", "duration (max ms)"], ["Throttles", "Sum", "throttles"]];
  $("#tab").innerHTML = `<p class="muted">Last hour, per minute; refreshed every 10 s.</p>
    <div class="grid">${charts.map((c, i) => `<div class="card"><h3>${c[2]}</h3><div class="chart" id="chart-${i}" data-testid="chart"></div></div>`).join("")}</div>`;
  const plots = [];
  const draw = async () => {
    const end = Math.floor(Date.now() / 1000 / 60) * 60 + 60, start = end - 3600;
    let data;
    try {
      data = await Aws.target("monitoring", "GraniteServiceVersion20100801", "1.0", "GetMetricData", {
        StartTime: start, EndTime: end, ScanBy: "TimestampAscending",
        MetricDataQueries: charts.map(([metric, stat], i) => ({ Id: `m${i}`, MetricStat: {
          Metric: { Namespace: "AWS/Lambda", MetricName: metric, Dimensions: [{ Name: "FunctionName", Value: name }] }, Period: 60, Stat: stat } })),
      });
    } catch (error) {
      return showError($(".grid"), error);
    }
    const xs = [];
    for (let t = start; t < end; t += 60) xs.push(t);
    data.MetricDataResults.forEach((result, i) => {
      const byTime = new Map(result.Timestamps.map((t, j) => [Math.round(t), result.Values[j]]));
      const ys = xs.map((t) => byTime.get(t) ?? (charts[i][1] === "Sum" ? 0 : null));
      const el = $(`#chart-${i}`);
      if (!el) return;
      if (plots[i]) return plots[i].setData([xs, ys]);
      plots[i] = new uPlot({ width: Math.max(el.clientWidth, 240), height: 180, legend: { show: false },
        series: [{}, { label: charts[i][2], stroke: i === 1 ? "#c2352b" : "#2f6fde", fill: i === 1 ? "#c2352b22" : "#2f6fde22", points: { show: true, size: 4 } }],
        axes: [{}, { size: 50 }] }, [xs, ys], el);
    });
  };
  await draw();
  every(10000, draw);
}

// The function's log group through CloudWatch Logs' FilterLogEvents, with its filter patterns.
function logsTab(fn) {
  const c = fn.Configuration;
  const group = (c.LoggingConfig || {}).LogGroup || `/aws/lambda/${c.FunctionName}`;
  $("#tab").innerHTML = `<div class="card"><div class="row"><input id="log-filter" placeholder='filter pattern, e.g. ERROR or { $.level = "ERROR" }' style="flex:1">
    <label><input type="checkbox" id="log-follow" checked> follow</label><button id="log-refresh">Refresh</button></div>
    <pre id="log-lines" data-testid="log-lines" style="max-height:520px">Loading…</pre></div>`;
  const load = async () => {
    try {
      const input = { logGroupName: group, startTime: Date.now() - 3600_000, limit: 500 };
      const pattern = $("#log-filter").value.trim();
      if (pattern) input.filterPattern = pattern;
      const out = await Aws.target("logs", "Logs_20140328", "1.1", "FilterLogEvents", input);
      $("#log-lines").textContent = out.events.length
        ? out.events.map((e) => `${new Date(e.timestamp).toISOString()}  ${e.message.replace(/\n$/, "")}`).join("\n")
        : "No events in the last hour.";
    } catch (error) {
      $("#log-lines").textContent = error.code === "ResourceNotFoundException" ? "No log group yet: invoke the function." : error.message;
    }
  };
  $("#log-refresh").addEventListener("click", load);
  $("#log-filter").addEventListener("change", load);
  load();
  every(2000, () => { if ($("#log-follow") && $("#log-follow").checked) load(); });
}

// ---- APIs, queues, buckets, usage ----------------------------------------------------------------

async function apisPage() {
  page(`<h2>APIs</h2><div id="apis">Loading…</div>`);
  try {
    const apis = (await (await Aws.rest("apigateway", "GET", "/v2/apis")).json()).items || [];
    if (!apis.length) return ($("#apis").innerHTML = `<div class="card muted">No HTTP APIs.</div>`);
    const cards = await Promise.all(apis.map(async (api) => {
      const [routes, stages] = await Promise.all(["routes", "stages"].map(async (what) =>
        (await (await Aws.rest("apigateway", "GET", `/v2/apis/${api.apiId}/${what}`)).json()).items || []));
      const urls = stages.map((s) => {
        const url = s.stageName === "$default" ? `${api.apiEndpoint}/` : `${api.apiEndpoint}/${s.stageName}/`;
        return `<div>${esc(s.stageName)}: <a href="${esc(url)}" target="_blank">${esc(url)}</a></div>`;
      }).join("");
      return `<div class="card" data-api="${esc(api.apiId)}"><h3>${esc(api.name)} <span class="muted">${esc(api.apiId)} · ${esc(api.protocolType)}</span></h3>
        <div class="kv"><div>Stages</div><div>${urls || "none"}</div><div>Routes</div><div>${routes.map((r) => `<code>${esc(r.routeKey)}</code>`).join("<br>") || "none"}</div></div></div>`;
    }));
    $("#apis").innerHTML = cards.join("");
  } catch (error) {
    showError("#apis", error);
  }
}

async function queuesPage() {
  page(`<h2>Queues</h2><div class="card" id="queues">Loading…</div>`);
  try {
    const urls = (await Aws.target("sqs", "AmazonSQS", "1.0", "ListQueues", {})).QueueUrls || [];
    const rows = await Promise.all(urls.map(async (url) => {
      const a = (await Aws.target("sqs", "AmazonSQS", "1.0", "GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] })).Attributes || {};
      return `<tr><td>${esc(url.split("/").pop())}</td><td>${esc(a.ApproximateNumberOfMessages)}</td><td>${esc(a.ApproximateNumberOfMessagesNotVisible)}</td><td>${esc(a.VisibilityTimeout)} s</td></tr>`;
    }));
    $("#queues").innerHTML = urls.length
      ? `<table><tr><th>Queue</th><th>Messages</th><th>In flight</th><th>Visibility timeout</th></tr>${rows.join("")}</table>`
      : `<p class="muted">No queues.</p>`;
  } catch (error) {
    showError("#queues", error);
  }
}

async function bucketsPage() {
  page(`<h2>Buckets</h2><div class="card" id="buckets">Loading…</div>`);
  try {
    const response = await Aws.request("s3", "GET", "/");
    if (!response.ok) throw await Aws.failure(response);
    const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
    const buckets = [...doc.getElementsByTagName("Bucket")].map((b) => [b.getElementsByTagName("Name")[0].textContent, b.getElementsByTagName("CreationDate")[0].textContent]);
    $("#buckets").innerHTML = buckets.length
      ? `<table><tr><th>Bucket</th><th>Created</th></tr>${buckets.map(([n, d]) => `<tr><td>${esc(n)}</td><td>${esc(d)}</td></tr>`).join("")}</table>`
      : `<p class="muted">No buckets.</p>`;
  } catch (error) {
    showError("#buckets", error);
  }
}

// Metered usage and cost (`/_nubo/usage`: served to loopback or with the metrics token).
async function usagePage() {
  page(`<h2>Usage and cost</h2><div class="row"><select id="usage-since"><option value="3600">last hour</option>
    <option value="86400" selected>last day</option><option value="2592000">last 30 days</option><option value="0">all</option></select></div>
    <div class="card" id="usage">Loading…</div>`);
  const load = async () => {
    const seconds = Number($("#usage-since").value);
    const since = seconds ? Date.now() - seconds * 1000 : 0;
    try {
      const response = await fetch(`/_nubo/usage?since=${since}`);
      if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
      const u = await response.json();
      const rows = u.functions.map((r) => `<tr><td>${esc(r.function)}</td><td>${esc(r.version)}</td><td>${esc(r.architecture)}</td>
        <td>${r.requests}</td><td>${r.errors}</td><td>${r.billedMs}</td><td>${r.gbSeconds.toFixed(6)}</td><td>$${r.cost.toFixed(8)}</td></tr>`).join("");
      $("#usage").innerHTML = `<table data-testid="usage-table"><tr><th>Function</th><th>Version</th><th>Arch</th><th>Requests</th><th>Errors</th><th>Billed ms</th><th>GB-s</th><th>Cost</th></tr>${rows}
        <tr><th colspan="3">Total</th><th>${u.total.requests}</th><th>${u.total.errors}</th><th>${u.total.billedMs}</th><th>${u.total.gbSeconds.toFixed(6)}</th><th>$${u.total.cost.toFixed(8)}</th></tr></table>`;
    } catch (error) {
      showError("#usage", error);
    }
  };
  $("#usage-since").addEventListener("change", load);
  load();
}

// ---- routing ------------------------------------------------------------------------------------

function route() {
  const s = Aws.session();
  if (!s) return signInPage();
  $("#nav").style.visibility = "visible";
  $("#who").innerHTML = `${esc(s.arn || s.accessKeyId)} · ${esc(s.region)} <button class="plain" id="signout">Sign out</button>`;
  $("#signout").onclick = () => { Aws.signOut(); location.hash = ""; route(); };
  const parts = (location.hash.replace(/^#\/?/, "") || "functions").split("/").map(decodeURIComponent);
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === `#/${parts[0]}`));
  switch (parts[0]) {
    case "functions": return parts[1] ? functionPage(parts[1], parts[2] || "test") : functionsPage();
    case "create": return createPage();
    case "apis": return apisPage();
    case "queues": return queuesPage();
    case "buckets": return bucketsPage();
    case "usage": return usagePage();
    default: return functionsPage();
  }
}

window.addEventListener("hashchange", route);
route();
