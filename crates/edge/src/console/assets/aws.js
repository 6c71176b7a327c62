// The console's AWS client: SigV4 signing in the browser with the signed-in user's keys (kept in
// sessionStorage, never sent anywhere but as signatures), plus the zip writer/reader the code editor
// needs. Pure JavaScript (no WebCrypto), so it also works on plain http:// beyond localhost.
"use strict";

const Aws = (() => {
  // ---- SHA-256 and HMAC over byte arrays -------------------------------------------------------
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const enc = new TextEncoder();
  const bytes = (x) => (typeof x === "string" ? enc.encode(x) : x instanceof Uint8Array ? x : new Uint8Array(x));

  function sha256(input) {
    const msg = bytes(input);
    const len = msg.length;
    const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
    padded.set(msg);
    padded[len] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 4, len * 8);
    view.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], b = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
    return out;
  }

  function hmac(key, data) {
    let k = bytes(key);
    if (k.length > 64) k = sha256(k);
    const block = new Uint8Array(64);
    block.set(k);
    const inner = new Uint8Array(64), outer = new Uint8Array(64);
    for (let i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
    const d = bytes(data);
    const first = new Uint8Array(64 + d.length);
    first.set(inner); first.set(d, 64);
    const second = new Uint8Array(96);
    second.set(outer); second.set(sha256(first), 64);
    return sha256(second);
  }

  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const uriEncode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

  // ---- the session ----------------------------------------------------------------------------
  const KEY = "nubo-console-session";
  const session = () => JSON.parse(sessionStorage.getItem(KEY) || "null");
  const signIn = (s) => sessionStorage.setItem(KEY, JSON.stringify(s));
  const signOut = () => sessionStorage.removeItem(KEY);

  // ---- signing --------------------------------------------------------------------------------
  /** Signs and sends one request to this server. `service` is the signing name. */
  async function request(service, method, path, { query = {}, headers = {}, body = "" } = {}) {
    const s = session();
    if (!s) throw new Error("not signed in");
    const payload = bytes(body);
    const now = new Date().toISOString().replace(/[:-]|\.\d{3}/g, "");
    const day = now.slice(0, 8);
    const host = location.host;
    const all = { ...headers, host, "x-amz-date": now, "x-amz-content-sha256": hex(sha256(payload)) };
    const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
    const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
    const canonicalQuery = Object.keys(query).sort().map((k) => `${uriEncode(k)}=${uriEncode(query[k])}`).join("&");
    // The path as sent, each segment encoded once (S3 and the others agree for plain names).
    const canonicalPath = path.split("/").map((seg) => uriEncode(decodeURIComponent(seg))).join("/");
    const canonical = [
      method, canonicalPath, canonicalQuery,
      names.map((n) => `${n}:${lower[n]}\n`).join(""), names.join(";"), lower["x-amz-content-sha256"],
    ].join("\n");
    const scope = `${day}/${s.region}/${service}/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", now, scope, hex(sha256(canonical))].join("\n");
    let key = hmac("AWS4" + s.secretAccessKey, day);
    for (const part of [s.region, service, "aws4_request"]) key = hmac(key, part);
    const signature = hex(hmac(key, toSign));
    const sent = { ...headers, "x-amz-date": now, "x-amz-content-sha256": lower["x-amz-content-sha256"] };
    sent.authorization = `AWS4-HMAC-SHA256 Credential=${s.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
    const url = canonicalPath + (canonicalQuery ? "?" + canonicalQuery : "");
    return fetch(url, { method, headers: sent, body: method === "GET" || method === "HEAD" ? undefined : payload });
  }

  /** An AWS error answer as an Error with its code and message (JSON or XML bodies). */
  async function failure(response) {
    const text = await response.text();
    // Lambda names the code in a header (its body's `Type` is only User or Service).
    const header = (response.headers.get("x-amzn-errortype") || "").split(":")[0];
    let code = header || `HTTP ${response.status}`, message = text;
    try {
      const json = JSON.parse(text);
      code = header || (json.__type || json.code || code).split("#").pop();
      message = json.message || json.Message || text;
    } catch (_) {
      const doc = new DOMParser().parseFromString(text, "application/xml");
      const c = doc.querySelector("Code"), m = doc.querySelector("Message");
      if (c) code = c.textContent;
      if (m) message = m.textContent;
    }
    const error = new Error(`${code}: ${message}`);
    error.code = code;
    return error;
  }

  /** A JSON-body REST call (Lambda, API Gateway v2). */
  async function rest(service, method, path, body, headers = {}) {
    const response = await request(service, method, path, {
      body: body === undefined ? "" : JSON.stringify(body),
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    });
    if (!response.ok) throw await failure(response);
    return response;
  }

  /** A JSON-protocol call (`X-Amz-Target`): CloudWatch Logs (1.1), CloudWatch and SQS (1.0). */
  async function target(service, prefix, version, action, input) {
    const response = await request(service, "POST", "/", {
      headers: { "content-type": `application/x-amz-json-${version}`, "x-amz-target": `${prefix}.${action}` },
      body: JSON.stringify(input || {}),
    });
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  /** A query-protocol call (IAM, STS): the XML answer as a Document. */
  async function query(service, action, version, params = {}) {
    const form = new URLSearchParams({ Action: action, Version: version, ...params }).toString();
    const response = await request(service, "POST", "/", {
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: form,
    });
    if (!response.ok) throw await failure(response);
    return new DOMParser().parseFromString(await response.text(), "application/xml");
  }

  // ---- zips (one stored file in; stored or deflated files out) ---------------------------------
  const CRC = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();
  const crc32 = (b) => {
    let c = 0xffffffff;
    for (let i = 0; i < b.length; i++) c = CRC[(c ^ b[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };

  /** A zip holding `files` ({name: text}), stored (no compression). */
  function zip(files) {
    const parts = [], central = [];
    let offset = 0;
    for (const [name, text] of Object.entries(files)) {
      const nameBytes = enc.encode(name), data = enc.encode(text), crc = crc32(data);
      const local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034b50, true); local.setUint16(4, 20, true);
      local.setUint32(14, crc, true); local.setUint32(18, data.length, true); local.setUint32(22, data.length, true);
      local.setUint16(26, nameBytes.length, true);
      const entry = new DataView(new ArrayBuffer(46));
      entry.setUint32(0, 0x02014b50, true); entry.setUint16(4, 0x031e, true); entry.setUint16(6, 20, true);
      entry.setUint32(16, crc, true); entry.setUint32(20, data.length, true); entry.setUint32(24, data.length, true);
      entry.setUint16(28, nameBytes.length, true); entry.setUint32(38, 0o100644 << 16, true); entry.setUint32(42, offset, true);
      parts.push(new Uint8Array(local.buffer), nameBytes, data);
      central.push(new Uint8Array(entry.buffer), nameBytes);
      offset += 30 + nameBytes.length + data.length;
    }
    const centralSize = central.reduce((n, p) => n + p.length, 0);
    const end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054b50, true);
    end.setUint16(8, Object.keys(files).length, true); end.setUint16(10, Object.keys(files).length, true);
    end.setUint32(12, centralSize, true); end.setUint32(16, offset, true);
    const all = [...parts, ...central, new Uint8Array(end.buffer)];
    const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of all) { out.set(p, at); at += p.length; }
    return out;
  }

  /** The files of a zip, {name: Uint8Array} (stored or deflated entries). */
  async function unzip(buffer) {
    const b = new Uint8Array(buffer), v = new DataView(b.buffer);
    let end = b.length - 22;
    while (end >= 0 && v.getUint32(end, true) !== 0x06054b50) end--;
    if (end < 0) throw new Error("not a zip");
    const count = v.getUint16(end + 10, true);
    let at = v.getUint32(end + 16, true);
    const files = {};
    for (let i = 0; i < count; i++) {
      const method = v.getUint16(at + 10, true), size = v.getUint32(at + 20, true);
      const nameLen = v.getUint16(at + 28, true), extraLen = v.getUint16(at + 30, true), commentLen = v.getUint16(at + 32, true);
      const local = v.getUint32(at + 42, true);
      const name = new TextDecoder().decode(b.subarray(at + 46, at + 46 + nameLen));
      const dataAt = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
      const raw = b.subarray(dataAt, dataAt + size);
      if (!name.endsWith("/")) {
        if (method === 0) files[name] = raw;
        else if (method === 8) {
          const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
          files[name] = new Uint8Array(await new Response(stream).arrayBuffer());
        }
      }
      at += 46 + nameLen + extraLen + commentLen;
    }
    return files;
  }

  const base64 = (b) => {
    let s = "";
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
    return btoa(s);
  };

  return { sha256, hmac, hex, session, signIn, signOut, request, rest, target, query, failure, zip, unzip, base64 };
})();
