'use strict';

/**
 * The classic teaching store that kvstore replaces, as the benchmark measures it against: a raw
 * node:http server around a Map, the REST contract's classic routes (PUT/GET/DELETE /key/{key},
 * GET /keys) with their classic JSON bodies, and a log line per operation written with
 * console.log. Not the ceiling (that is reference-server.js, which logs nothing): the store
 * kvstore has to be at least as fast as, with what it did on every request.
 *
 * Plain JavaScript on purpose: it must run without a build step.
 *
 *   PORT=4000 HOST=127.0.0.1 node bench/teaching-store-server.js > /dev/null
 *
 * Its stdout is the log: the harness reads it through a pipe (and keeps only its tail), so the
 * line costs what a write to a pipe costs, as under a process manager or `docker logs`.
 */

const http = require('node:http');

// PORT=0: any free port (bench/profile.js), named in the listening line.
const port = process.env.PORT === undefined ? 4000 : Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';

const store = new Map();

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req, callback) {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => callback(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host || host}`);
  console.log(`${new Date().toISOString()} ${req.method} ${url.pathname}`);

  if (url.pathname === '/keys' && req.method === 'GET') {
    const keys = [...store.keys()];
    return send(res, 200, { totalKeys: keys.length, keys });
  }

  if (url.pathname.startsWith('/key/')) {
    const key = decodeURIComponent(url.pathname.slice('/key/'.length));
    if (req.method === 'GET') {
      if (!store.has(key)) return send(res, 404, { error: 'Key not found', key });
      return send(res, 200, { key, value: store.get(key) });
    }
    if (req.method === 'PUT') {
      return readBody(req, (body) => {
        let value;
        try {
          value = JSON.parse(body);
        } catch {
          return send(res, 400, { error: 'Invalid JSON' });
        }
        store.set(key, value);
        send(res, 200, { success: true, key, value });
      });
    }
    if (req.method === 'DELETE') {
      if (!store.delete(key)) return send(res, 404, { error: 'Key not found', key });
      return send(res, 200, { success: true, key });
    }
  }

  send(res, 404, { error: 'Not found' });
});

server.listen(port, host, () =>
  console.log(`teaching store listening on http://${host}:${server.address().port}`),
);

// Exit promptly on SIGTERM, so the harness never waits on us.
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
