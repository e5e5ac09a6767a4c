'use strict';

/**
 * Filling a server with keys before a measurement, as fast as the server can take them.
 *
 * A million PUTs through node's http client costs more client CPU than a fast server spends
 * answering them, and the client shares two cores with the server. So this writes pipelined
 * HTTP/1.1 requests straight onto a few keep-alive sockets, in batches, and parses only what it
 * needs of the answers (status line and Content-Length, or chunked framing).
 *
 * Keys are written in index order from `from`; at the time budget it stops issuing and waits for
 * what is in flight, so exactly the keys [from, from + written) are stored when it resolves.
 */

const net = require('node:net');

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * @param {object} o
 * @param {number} o.port
 * @param {number} o.from          first key index
 * @param {number} o.to            one past the last key index
 * @param {(i: number) => string} o.path   request path for key i (may include ?ttl=)
 * @param {(i: number) => string} o.body   JSON text for key i
 * @param {number} [o.budgetMs]    stop issuing after this long (default: no limit)
 * @param {number} [o.sockets]     parallel connections (default 2)
 * @param {number} [o.pipeline]    requests in flight per connection (default 64)
 * @returns {Promise<{written:number, complete:boolean, elapsedMs:number, rate:number}>}
 */
function preload(o) {
  // Measured on the 2-core machine: few connections with deep pipelines beat many shallow ones
  // (fewer system calls per request on both sides).
  const sockets = o.sockets || 2;
  const pipeline = o.pipeline || 64;
  const started = performance.now();
  const deadline = o.budgetMs ? started + o.budgetMs : Infinity;
  let next = o.from;
  let written = 0;
  let failed = null;

  if (o.to <= o.from) return Promise.resolve({ written: 0, complete: true, elapsedMs: 0, rate: 0 });

  const requestFor = (i) => {
    const body = o.body(i);
    return (
      `PUT ${o.path(i)} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nConnection: keep-alive\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  };

  return new Promise((resolve, reject) => {
    let open = 0;

    const finishOne = () => {
      open -= 1;
      if (open > 0) return;
      const elapsedMs = performance.now() - started;
      if (failed) {
        reject(failed);
        return;
      }
      resolve({
        written,
        complete: o.from + written >= o.to,
        elapsedMs,
        rate: written / (elapsedMs / 1000),
      });
    };

    const connect = (retryIndexes) => {
      open += 1;
      const socket = net.connect({ host: '127.0.0.1', port: o.port });
      socket.setNoDelay(true);
      // A server that stops answering must not hang the whole benchmark.
      socket.setTimeout(30000, () => {
        if (!failed) failed = new Error('preload: no answer from the server for 30 s');
        socket.destroy();
      });
      /** Key indexes sent and not yet answered, in order (HTTP/1.1 answers in request order). */
      const pending = [];
      let buffer = Buffer.alloc(0);
      let done = false;

      const issue = (indexes) => {
        if (indexes.length === 0) return;
        for (const i of indexes) pending.push(i);
        socket.write(indexes.map(requestFor).join(''));
      };

      const refill = () => {
        // Top up only once half the pipeline has drained: fewer, larger writes, as each write is
        // a system call that costs more than building the requests in it.
        if (pending.length > pipeline / 2) return;
        const batch = [];
        while (
          pending.length + batch.length < pipeline &&
          next < o.to &&
          !failed &&
          performance.now() < deadline
        ) {
          batch.push(next);
          next += 1;
        }
        issue(batch);
        if (pending.length === 0 && !done) {
          done = true;
          socket.end();
        }
      };

      socket.on('connect', () => {
        issue(retryIndexes || []);
        refill();
      });

      socket.on('data', (chunk) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        let offset = 0;
        for (;;) {
          const parsed = parseResponse(buffer, offset);
          if (parsed === null) break;
          offset = parsed.end;
          const index = pending.shift();
          if (parsed.status >= 200 && parsed.status < 300) written += 1;
          else if (!failed) {
            failed = new Error(
              `preload: PUT for key index ${index} answered ${parsed.status}: ${parsed.body.slice(0, 200)}`,
            );
          }
        }
        buffer = offset === buffer.length ? Buffer.alloc(0) : buffer.subarray(offset);
        refill();
      });

      socket.on('error', (error) => {
        if (!failed) failed = new Error(`preload: connection error: ${error.message}`);
      });

      socket.on('close', () => {
        // The server closed a keep-alive connection with requests unanswered: PUT is idempotent,
        // so send them again on a new connection rather than leave holes in the key range.
        if (!failed && pending.length > 0) connect(pending.splice(0));
        finishOne();
      });
    };

    for (let s = 0; s < sockets; s += 1) connect(null);
  });
}

/**
 * One complete HTTP response starting at `offset`, or null if more bytes are needed.
 * Handles Content-Length and chunked bodies, which is all a JSON API server sends.
 */
function parseResponse(buffer, offset) {
  const headerEnd = buffer.indexOf(HEADER_END, offset);
  if (headerEnd === -1) return null;
  const head = buffer.toString('latin1', offset, headerEnd);
  const status = Number(head.slice(9, 12));
  const bodyStart = headerEnd + 4;
  const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (lengthMatch) {
    const end = bodyStart + Number(lengthMatch[1]);
    if (buffer.length < end) return null;
    return { status, end, body: buffer.toString('utf8', bodyStart, end) };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let pos = bodyStart;
    let body = '';
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', pos);
      if (lineEnd === -1) return null;
      const size = parseInt(buffer.toString('latin1', pos, lineEnd), 16);
      if (size === 0) {
        // Last chunk; no trailers expected, just the closing CRLF.
        if (buffer.length < lineEnd + 4) return null;
        return { status, end: lineEnd + 4, body };
      }
      if (buffer.length < lineEnd + 2 + size + 2) return null;
      body += buffer.toString('utf8', lineEnd + 2, lineEnd + 2 + size);
      pos = lineEnd + 2 + size + 2;
    }
  }
  // No body framing (e.g. 204): the response ends with its headers.
  return { status, end: bodyStart, body: '' };
}

module.exports = { preload, parseResponse };
