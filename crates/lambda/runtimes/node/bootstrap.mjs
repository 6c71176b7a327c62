// Nubo's Node.js runtime: the Lambda Runtime API loop for `nodejsN.x` functions.
//
// Node's standard library only. Behaves like AWS's runtime interface client where user code can
// tell: handler resolution (CommonJS, `.mjs`, `.cjs`, package `"type": "module"`), async and
// callback handlers, the context object, console lines prefixed with time, request id and level,
// and the error document (`errorType`, `errorMessage`, `trace`; `stackTrace` carries the same
// lines for clients that read the Python-style name).
//
// The Runtime API client is a few lines of HTTP/1.1 over one kept-alive socket: node's `http`
// module costs several hundred microseconds per request, which was most of a warm invoke.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import util from "node:util";
import module, { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [apiHost, apiPort] = splitAddress(process.env.AWS_LAMBDA_RUNTIME_API);
const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
const BASE = "/2018-06-01/runtime";

// Nubo's arguments, not the function's: process.argv is left as Lambda's.
const esmNodePath = process.argv.includes("--esm-node-path");
process.argv = process.argv.filter((arg) => arg !== "--esm-node-path");

let currentRequestId;

function splitAddress(address) {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/** One request at a time over one socket; reconnects when the platform closes it. */
class RuntimeClient {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    this.waiting = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host: this.host, port: this.port, noDelay: true });
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
      socket.on("data", (chunk) => {
        this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
        this.parse();
      });
      socket.on("close", () => {
        this.socket = null;
        this.buffer = Buffer.alloc(0);
        if (this.waiting) this.waiting.reject(new Error("runtime API closed the connection"));
        this.waiting = null;
      });
      socket.on("error", () => {});
    });
  }

  parse() {
    if (!this.waiting) return;
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(head[0].split(" ")[1]);
    const headers = {};
    for (let i = 1; i < head.length; i++) {
      const colon = head[i].indexOf(":");
      headers[head[i].slice(0, colon).trim().toLowerCase()] = head[i].slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] || 0);
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = this.buffer.subarray(end + 4 + length);
    const { resolve } = this.waiting;
    this.waiting = null;
    resolve({ status, headers, body });
  }

  async request(method, urlPath, body, headers = {}) {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.socket) this.socket = await this.connect();
        const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
        let head = `${method} ${BASE}${urlPath} HTTP/1.1\r\nHost: runtime\r\nContent-Length: ${payload.length}\r\n`;
        for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
        const reply = new Promise((resolve, reject) => {
          this.waiting = { resolve, reject };
        });
        this.socket.write(payload.length ? Buffer.concat([Buffer.from(head + "\r\n", "latin1"), payload]) : head + "\r\n");
        return await reply;
      } catch (e) {
        if (attempt >= 1) throw e;
        if (this.socket) this.socket.destroy();
        this.socket = null;
      }
    }
  }
}

const client = new RuntimeClient(apiHost, apiPort);

function request(method, urlPath, body, headers = {}) {
  return client.request(method, urlPath, body, headers);
}

function postError(urlPath, document) {
  return request("POST", urlPath, JSON.stringify(document), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": document.errorType,
  });
}

// --- errors -------------------------------------------------------------------------------

class Fault extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.errorType = errorType;
    if (cause) this.cause = cause;
  }
}

function errorDocument(error) {
  if (error instanceof Fault) {
    const trace = error.cause instanceof Error && error.cause.stack ? error.cause.stack.split("\n") : [];
    return { errorType: error.errorType, errorMessage: error.message, trace, stackTrace: trace };
  }
  if (error instanceof Error) {
    const trace = (error.stack || "").split("\n");
    return { errorType: error.name, errorMessage: error.message, trace, stackTrace: trace };
  }
  let message;
  try {
    message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { errorType: typeof error, errorMessage: message, trace: [], stackTrace: [] };
}

// --- console: every line carries time, request id and level, as on AWS ---------------------

function patchConsole() {
  const write = (level, useStderr) =>
    (...args) => {
      const line = `${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${util.format(...args)}\n`;
      (useStderr ? process.stderr : process.stdout).write(line);
    };
  console.log = write("INFO");
  console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  console.trace = write("TRACE");
  console.fatal = write("FATAL");
}

function logError(document) {
  const text = JSON.stringify({ errorType: document.errorType, errorMessage: document.errorMessage, stack: document.trace });
  process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\tERROR\t${text}\n`);
}

// --- handler resolution ------------------------------------------------------------------

function splitHandler(handler) {
  const slash = handler.lastIndexOf("/");
  const dot = handler.indexOf(".", slash + 1);
  if (dot < 0) throw new Fault("Runtime.MalformedHandlerName", `Bad handler ${handler}`);
  return [handler.slice(0, dot), handler.slice(dot + 1)];
}

function isModulePackage(dir) {
  // The nearest package.json decides whether a `.js` file is ESM.
  for (let d = dir; d.startsWith(taskRoot); d = path.dirname(d)) {
    const manifest = path.join(d, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (d === path.dirname(d)) break;
  }
  return false;
}

// Lambda's node 18+ runtimes let ES modules import packages from NODE_PATH (the runtime's SDK,
// layers), which node's own resolver ignores. In the sandbox the SDK is reachable through
// /node_modules for free; without a private root Nubo asks for this loader (`--esm-node-path`). It
// runs on a thread of its own and costs ~28 ms, so only ES module handlers get it.
const NODE_PATH_LOADER = `
import path from "node:path";
import { pathToFileURL } from "node:url";
const dirs = (process.env.NODE_PATH || "").split(":").filter(Boolean);
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const bare = !/^([./]|[a-z][a-z0-9+.-]*:)/i.test(specifier);
    if (!bare || !error || error.code !== "ERR_MODULE_NOT_FOUND") throw error;
    for (const dir of dirs) {
      const parentURL = pathToFileURL(path.join(dir, "noop.js")).href;
      try {
        return await next(specifier, { ...context, parentURL });
      } catch {}
    }
    throw error;
  }
}`;

let nodePathLoader = false;
function useNodePathLoader() {
  if (nodePathLoader || !esmNodePath || typeof module.register !== "function") return;
  nodePathLoader = true;
  module.register("data:text/javascript," + encodeURIComponent(NODE_PATH_LOADER));
}

async function loadModule(moduleName) {
  const base = path.resolve(taskRoot, moduleName);
  const require = createRequire(path.join(taskRoot, "noop.js"));
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const file = base + ext;
    if (!fs.existsSync(file)) continue;
    const esm = ext === ".mjs" || (ext === ".js" && isModulePackage(path.dirname(file)));
    if (esm) {
      useNodePathLoader();
      return await import(pathToFileURL(file).href);
    }
    try {
      return require(file);
    } catch (e) {
      if (e && e.code === "ERR_REQUIRE_ESM") {
        useNodePathLoader();
        return await import(pathToFileURL(file).href);
      }
      throw e;
    }
  }
  // Not a file in the task root: a package (e.g. from node_modules or NODE_PATH).
  return require(moduleName);
}

async function loadHandler(handler) {
  const [moduleName, handlerPath] = splitHandler(handler);
  let mod;
  try {
    mod = await loadModule(moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new Fault("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`, e);
    if (e && (e.code === "MODULE_NOT_FOUND" || e.code === "ERR_MODULE_NOT_FOUND")) {
      throw new Fault("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`, e);
    }
    throw e;
  }
  let fn = handlerPath.split(".").reduce((obj, key) => (obj == null ? undefined : obj[key]), mod);
  if (fn === undefined && mod && mod.default) {
    fn = handlerPath.split(".").reduce((obj, key) => (obj == null ? undefined : obj[key]), mod.default);
  }
  if (fn === undefined) throw new Fault("Runtime.HandlerNotFound", `${handler} is undefined or not exported`);
  if (typeof fn !== "function") throw new Fault("Runtime.HandlerNotFound", `${handler} is not a function`);
  return fn;
}

// --- one invocation ----------------------------------------------------------------------

function makeContext(headers, settle) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const parse = (v) => {
    if (!v) return undefined;
    try {
      return JSON.parse(v);
    } catch {
      return undefined;
    }
  };
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parse(headers["lambda-runtime-client-context"]),
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    // The legacy completion methods.
    succeed: (result) => settle(null, result),
    fail: (err) => settle(err ?? "handled", undefined),
    done: (err, result) => settle(err, result),
  };
  return context;
}

function invoke(fn, headers, body) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (err, result) => {
      if (settled) return;
      settled = true;
      resolve(err !== null && err !== undefined ? { error: err } : { result });
    };
    currentRequestId = headers["lambda-runtime-aws-request-id"];
    if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = body.length ? JSON.parse(body.toString("utf8")) : null;
    } catch (e) {
      settle(new Fault("Runtime.UnmarshalError", `Unable to parse input as JSON: ${e.message}`, e));
      return;
    }
    const context = makeContext(headers, settle);
    currentInvocation = settle;
    try {
      const returned = fn(event, context, (err, result) => settle(err, result));
      if (returned && typeof returned.then === "function") {
        returned.then((result) => settle(null, result), (err) => settle(err ?? "rejected", undefined));
      }
    } catch (e) {
      settle(e);
    }
  });
}

// An error the handler did not catch (a throw in a timer, a rejected promise nobody awaited)
// fails the invocation in progress, as on AWS.
let currentInvocation;
function failCurrent(err) {
  if (currentInvocation) currentInvocation(err);
  else {
    logError(errorDocument(err));
    process.exit(129);
  }
}
process.on("uncaughtException", failCurrent);
process.on("unhandledRejection", failCurrent);

async function main() {
  patchConsole();
  let fn;
  try {
    fn = await loadHandler(process.env._HANDLER || "");
  } catch (e) {
    const document = errorDocument(e);
    logError(document);
    await postError("/init/error", document);
    process.exit(1);
  }
  for (;;) {
    const next = await request("GET", "/invocation/next");
    if (next.status !== 200) {
      process.stderr.write(`runtime API refused next: ${next.status}\n`);
      process.exit(1);
    }
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    const outcome = await invoke(fn, next.headers, next.body);
    currentInvocation = undefined;
    if ("error" in outcome) {
      const document = errorDocument(outcome.error);
      logError(document);
      await postError(`/invocation/${requestId}/error`, document);
      continue;
    }
    let payload;
    try {
      payload = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    } catch (e) {
      const document = errorDocument(new Fault("Runtime.MarshalError", `Unable to stringify response body: ${e.message}`, e));
      logError(document);
      await postError(`/invocation/${requestId}/error`, document);
      continue;
    }
    await request("POST", `/invocation/${requestId}/response`, payload, { "Content-Type": "application/json" });
  }
}

main().catch((e) => {
  process.stderr.write(`nubo node runtime: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
