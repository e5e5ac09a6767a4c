import { connect, Socket } from 'node:net';

/** One HTTP/1.1 response read off a raw socket. */
export interface RawResponse {
  readonly status: number;
  /** Header names lower-cased; a repeated header keeps its last value. */
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** What a raw exchange saw: every byte the server sent, and whether it closed the connection. */
export interface RawExchange {
  readonly bytes: Buffer;
  readonly responses: RawResponse[];
  /** True when the server ended or reset the connection before the wait was over. */
  readonly closed: boolean;
  /** Milliseconds from the connection attempt to the close (or to the end of the wait). */
  readonly elapsedMs: number;
}

export interface RawOptions {
  /** Longest wait for the server to close the connection; default 5000 ms. */
  readonly waitMs?: number;
  /** Stop waiting as soon as this many complete responses have arrived. */
  readonly responses?: number;
  /** Half-close the socket once everything is written (the server sees EOF). */
  readonly endAfterWrite?: boolean;
  /** Written one after the other, with `pauseMs` between them. */
  readonly pauseMs?: number;
}

/**
 * Sends bytes exactly as given (no URL normalisation, no framing of our own: request lines,
 * headers, lying Content-Lengths and pipelined requests are the caller's), then reads until the
 * server closes, enough responses have arrived, or the wait is over. Never rejects on a reset:
 * a server that cuts a hostile client off is a legitimate outcome.
 */
export function rawExchange(
  baseUrl: string,
  data: string | Buffer | ReadonlyArray<string | Buffer>,
  options: RawOptions = {},
): Promise<RawExchange> {
  const { waitMs = 5000, responses: wanted, endAfterWrite = false, pauseMs = 0 } = options;
  const chunks = typeof data === 'string' || Buffer.isBuffer(data) ? [data] : [...data];
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    const started = Date.now();
    let settled = false;
    const socket: Socket = connect(Number(port), hostname);
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const bytes = Buffer.concat(received);
      socket.destroy();
      resolve({ bytes, responses: parseResponses(bytes), closed, elapsedMs: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('connect', async () => {
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0 && pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        if (settled || socket.destroyed) return;
        socket.write(chunk);
      }
      if (endAfterWrite && !socket.destroyed) socket.end();
    });
    // Counted incrementally (a fill of thousands of pipelined answers must not be re-parsed
    // from the start on every chunk); parsed in full once at the end.
    let pending: Buffer = Buffer.alloc(0);
    let counted = 0;
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (wanted === undefined) return;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const { count, consumed } = scanResponses(pending, false);
      counted += count;
      pending = pending.subarray(consumed);
      if (counted >= wanted) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') {
        settled = true;
        clearTimeout(timer);
        reject(error);
      }
      // ECONNRESET, EPIPE: the server cut us off; 'close' follows and resolves.
    });
  });
}

/** Parses the complete responses at the start of `bytes` (Content-Length or chunked bodies). */
export function parseResponses(bytes: Buffer): RawResponse[] {
  return scanResponses(bytes, true).responses;
}

/**
 * Reads complete responses from the start of `bytes`; `consumed` is where the first incomplete
 * one starts. A response without framing runs to the end of the connection, so it only counts
 * once the connection is over (`atEnd`).
 */
function scanResponses(
  bytes: Buffer,
  atEnd: boolean,
): { responses: RawResponse[]; count: number; consumed: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  const done = () => ({ responses, count: responses.length, consumed: at });
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd === -1) return done();
    const head = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
    if (!statusMatch) return done();
    const status = Number(statusMatch[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) {
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', bodyStart);
        if (lineEnd === -1) return done();
        const size = parseInt(bytes.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) return done();
        const dataStart = lineEnd + 2;
        if (bytes.length < dataStart + size + 2) return done();
        parts.push(bytes.subarray(dataStart, dataStart + size));
        bodyStart = dataStart + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bytes.length < bodyStart + length) return done();
      body = bytes.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      // No framing: the body runs to the end of the connection.
      if (!atEnd) return done();
      body = bytes.subarray(bodyStart);
      bodyStart = bytes.length;
    }
    const text = body.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    responses.push({ status, headers, body: text, json });
    at = bodyStart;
  }
}

/** A request written out by hand: CRLF line ends, Host header, Content-Length unless given. */
export function rawRequest(
  requestLine: string,
  headers: Record<string, string> = {},
  body: string | Buffer = '',
): Buffer {
  const bodyBytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const all: Record<string, string> = { Host: '127.0.0.1', ...headers };
  const names = Object.keys(all).map((name) => name.toLowerCase());
  if (!names.includes('content-length') && !names.includes('transfer-encoding')) {
    all['Content-Length'] = String(bodyBytes.length);
  }
  const head = [requestLine, ...Object.entries(all).map(([n, v]) => `${n}: ${v}`)].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), bodyBytes]);
}

/**
 * Sends requests one at a time on one connection, each only once the answer to the previous one
 * has arrived (keep-alive, no pipelining). Resolves with the answers; rejects on a timeout.
 */
export function rawConversation(
  baseUrl: string,
  requests: ReadonlyArray<string | Buffer>,
  waitMs = 10_000,
): Promise<RawResponse[]> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    let next = 0;
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to request ${next} within ${waitMs} ms`));
    }, waitMs);
    const sendNext = () => {
      const answers = parseResponses(Buffer.concat(received));
      if (answers.length < next) return;
      if (next === requests.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answers);
        return;
      }
      socket.write(requests[next++]);
    };
    socket.on('connect', sendNext);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      sendNext();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const answers = parseResponses(Buffer.concat(received));
      if (answers.length === requests.length) resolve(answers);
      else reject(new Error(`connection closed after ${answers.length} answers`));
    });
    socket.on('error', () => undefined);
  });
}
