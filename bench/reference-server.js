'use strict';

/**
 * The benchmark's ceiling: the smallest server that speaks kvstore's HTTP contract, built on raw
 * node:http and a Map. No framework, no validation beyond JSON parsing, no logging, no storage
 * engine. Whatever kvstore reaches is reported as a ratio to this, measured in the same run on
 * the same machine, so the figures survive a change of hardware.
 *
 * Plain JavaScript on purpose: it must run without a build step.
 *
 *   PORT=4000 HOST=127.0.0.1 node bench/reference-server.js
 *
 * PREFILL_KEYS=N stores the benchmark's keys [0, N) with their standard values before it listens
 * (bench/keys.js), so the ceiling can hold a million keys without a million PUTs;
 * PREFILL_EXPIRES_AT=<epoch ms> gives them all that absolute expiry time.
 *
 * Routes: GET/PUT/DELETE /key/{key} (PUT takes any JSON text and an optional ?ttl=<seconds>),
 * GET /keys, GET /health. Expiry is lazy (checked on read), which is the cheapest correct form.
 */

const http = require('node:http');
const { keyName, valueFor } = require('./keys');

const port = Number(process.env.PORT) || 4000;
const host = process.env.HOST || '127.0.0.1';
const MAX_BODY_BYTES = 1024 * 1024;

/** key -> { text: canonical JSON text, expiresAt: epoch ms or 0 for never } */
const store = new Map();

function send(res, status, body) {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendError(res, status, message) {
  send(res, status, `{"error":${JSON.stringify(message)}}`);
}

/** The live entry for a key, dropping it if it has expired (lazy expiry, like Redis's GET path). */
function liveEntry(key) {
  const entry = store.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt !== 0 && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

function ttlFromQuery(query) {
  if (query === '') return { expiresAt: 0 };
  const raw = new URLSearchParams(query).get('ttl');
  if (raw === null) return { expiresAt: 0 };
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0)
    return { error: 'ttl must be a positive number of seconds' };
  return { expiresAt: Date.now() + seconds * 1000 };
}

function handlePut(req, res, key, query) {
  const ttl = ttlFromQuery(query);
  if (ttl.error) {
    req.resume();
    sendError(res, 400, ttl.error);
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return sendError(res, 413, 'Body too large');
    let text;
    try {
      // Parse and re-serialise: kvstore stores canonical JSON, so the ceiling pays the same price.
      text = JSON.stringify(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
    } catch {
      return sendError(res, 400, 'Invalid JSON');
    }
    if (text === undefined) return sendError(res, 400, 'Invalid JSON');
    store.set(key, { text, expiresAt: ttl.expiresAt });
    send(res, 200, `{"success":true,"key":${JSON.stringify(key)},"value":${text}}`);
  });
}

const server = http.createServer((req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);

  if (path.startsWith('/key/')) {
    let key;
    try {
      key = decodeURIComponent(path.slice(5));
    } catch {
      req.resume();
      return sendError(res, 400, 'Invalid key encoding');
    }
    if (key === '') {
      req.resume();
      return sendError(res, 400, 'Empty key');
    }
    if (req.method === 'GET') {
      const entry = liveEntry(key);
      if (entry === undefined) return sendError(res, 404, 'Key not found');
      return send(res, 200, `{"key":${JSON.stringify(key)},"value":${entry.text}}`);
    }
    if (req.method === 'PUT') return handlePut(req, res, key, query);
    if (req.method === 'DELETE') {
      const existed = liveEntry(key) !== undefined;
      store.delete(key);
      if (!existed) return sendError(res, 404, 'Key not found');
      return send(res, 200, `{"success":true,"key":${JSON.stringify(key)}}`);
    }
    req.resume();
    return sendError(res, 405, 'Method not allowed');
  }

  req.resume();
  if (req.method === 'GET' && path === '/health') return send(res, 200, '{"status":"ok"}');
  if (req.method === 'GET' && path === '/keys') {
    const keys = [];
    for (const key of store.keys()) if (liveEntry(key) !== undefined) keys.push(key);
    return send(res, 200, JSON.stringify({ keys }));
  }
  return sendError(res, 404, 'Not found');
});

/** Keys [0, n) with their standard values, stored as a PUT would store them. */
function prefill(n, expiresAt) {
  for (let i = 0; i < n; i += 1)
    store.set(keyName(i), { text: JSON.stringify(JSON.parse(valueFor(i))), expiresAt });
}

prefill(Number(process.env.PREFILL_KEYS) || 0, Number(process.env.PREFILL_EXPIRES_AT) || 0);
server.listen(port, host);

// Exit promptly on SIGTERM like a well-behaved server, so the harness never waits on us.
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
