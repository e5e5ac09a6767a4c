import { readFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { http } from './support/http-client';
import { rawConversation, rawExchange, rawRequest } from './support/raw-http';
import { startServerProcess, ServerProcess } from './support/server-process';
import { HTTP_ADAPTERS } from './support/test-app';

/**
 * One request must not hold everyone else up, and clients that do not read (or do not finish
 * sending) must not make the server hold unbounded memory (issue 11 finding 6, issue 13
 * section 2). Real server processes on 127.0.0.1, both platforms.
 *
 * The latency bounds are not speed measurements: they are far above what the server needs and
 * far below what the old failures cost. A pattern built to make the matcher retry took 12 s
 * over 5,000 long keys, and 100 clients that never read a 6 MB listing made a normal GET wait
 * 12 s (Express) and 20 s (Fastify) in this very test on the old code. The bound is the 1 s the
 * issues ask for, or ten times what an idle control server on the same machine took to answer
 * meanwhile when that is more, because these tests run on two cores shared with other test runs
 * (load averages of 10 and more were seen). A listing the budget cannot hold is refused before
 * any key is gathered: refusing one used to cost the CPU of gathering every key (5-10 ms here),
 * which made the first normal GET after 100 such clients wait 1.7 s on an idle machine; at a
 * load average of 10 it now waits 7-360 ms.
 */
const BOUND_MS = 1000;
const SHORT_KEYS = 4_000;
const LONG_KEYS = 6_000;
const LONG_KEY_CHARS = 1000;
/** Small enough that the scenarios below reach it. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of a process in bytes. */
function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

/** A GET on a connection of its own: its status and how long it took. */
async function timedGet(url: string, path: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const exchange = await rawExchange(url, rawRequest(`GET ${path} HTTP/1.1`), {
    waitMs: 60_000,
    responses: 1,
  });
  return { status: exchange.responses[0]?.status ?? 0, ms: performance.now() - started };
}

/** Sends `request` and never reads a byte of the answer. */
function nonReadingClient(url: string, request: Buffer): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    socket.pause();
    socket.once('connect', () => socket.write(request, () => resolve(socket)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') reject(error);
    });
  });
}

/**
 * PUTs every key, pipelined in batches of 20 over 16 connections at a time (the cheapest load a
 * test process can make; deeper pipelines make Node stop reading a connection while its
 * answers queue, and a loaded machine then runs into the headers timeout).
 */
async function fill(url: string, keys: readonly string[]): Promise<void> {
  const batches: string[][] = [];
  for (let at = 0; at < keys.length; at += 20) batches.push(keys.slice(at, at + 20));
  const statuses: number[] = [];
  for (let at = 0; at < batches.length; at += 16) {
    const fills = await Promise.all(
      batches
        .slice(at, at + 16)
        .map((batch) =>
          rawExchange(
            url,
            Buffer.concat(batch.map((key) => rawRequest(`PUT /key/${key} HTTP/1.1`, {}, '1'))),
            { waitMs: 30_000, responses: batch.length },
          ),
        ),
    );
    statuses.push(...fills.flatMap((f) => f.responses.map((answer) => answer.status)));
  }
  expect(statuses).toEqual(keys.map(() => 200));
}

describe.each(HTTP_ADAPTERS)('back-pressure and bounded work (%s)', (adapter) => {
  let server: ServerProcess;
  let allKeys: string[];
  /** An idle server on the same machine: how long it takes to answer tells the machine's load. */
  let control: ServerProcess;
  /**
   * GETs `path` on the server under test while an idle control server is asked GET /health
   * again and again; the bound is `floorMs`, or ten times the slowest control answer in that
   * time when that is more (see BOUND_MS).
   */
  const loadAwareGet = async (path: string, floorMs: number) => {
    let done = false;
    const measured = timedGet(server.url, path).finally(() => (done = true));
    let slowestControl = 0;
    while (!done) {
      slowestControl = Math.max(slowestControl, (await timedGet(control.url, '/health')).ms);
    }
    return { ...(await measured), limitMs: Math.max(floorMs, 10 * slowestControl) };
  };
  const longKey = (i: number) => 'a'.repeat(LONG_KEY_CHARS - 5) + String(i).padStart(5, '0');

  beforeAll(async () => {
    server = await startServerProcess({
      HTTP_ADAPTER: adapter,
      MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
    });
    const short = Array.from({ length: SHORT_KEYS }, (_, i) => `k${i}`);
    const long = Array.from({ length: LONG_KEYS }, (_, i) => longKey(i));
    allKeys = [...short, ...long];
    control = await startServerProcess({ HTTP_ADAPTER: adapter });
    await fill(server.url, allKeys);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([server?.stop('SIGKILL'), control?.stop('SIGKILL')]);
  });

  describe('bounded work per request (13.2)', () => {
    it('ends a page of a pattern that matches nothing early, with a cursor', async () => {
      const first = (await http(server.url, 'GET', '/keys?limit=1&pattern=nomatch*x')).json as {
        keys: string[];
        nextCursor: string | null;
      };
      expect(first.keys).toEqual([]);
      expect(typeof first.nextCursor).toBe('string');
      // Following the cursors visits everything, a bounded slice per page.
      let cursor: string | null = first.nextCursor;
      let pages = 1;
      while (cursor !== null && pages < 100) {
        const page = (
          await http(server.url, 'GET', `/keys?limit=1&pattern=nomatch*x&cursor=${cursor}`)
        ).json as { keys: string[]; nextCursor: string | null };
        expect(page.keys).toEqual([]);
        cursor = page.nextCursor;
        pages++;
      }
      // 1,000 keys examined per page of 1 (SCAN_MIN_KEYS): 10,000 keys take 10 or 11 pages.
      expect({ cursor, pages: pages >= 10 && pages <= 11 }).toEqual({ cursor: null, pages: true });
    }, 60_000);

    it('answers patterns built for the matcher to retry, while /health is served', async () => {
      const cases: Array<[string, number]> = [
        ['*' + 'a'.repeat(300) + 'b', 200],
        ['*' + 'a'.repeat(512) + 'b', 200],
        ['*' + 'a'.repeat(300) + 'b&limit=1', 200],
        ['*' + '?'.repeat(300) + 'b', 400],
        ['*a' + '[a]'.repeat(300) + 'b&limit=1', 400],
      ];
      for (const [pattern, status] of cases) {
        const [path, extra = ''] = pattern.split('&');
        const heavy = http(
          server.url,
          'GET',
          `/keys?pattern=${encodeURIComponent(path)}${extra && `&${extra}`}`,
        );
        await sleep(5);
        const health = await loadAwareGet('/health', BOUND_MS);
        const answer = await heavy;
        expect({
          pattern: pattern.slice(0, 20),
          status: answer.status,
          health: health.status,
        }).toEqual({
          pattern: pattern.slice(0, 20),
          status,
          health: 200,
        });
        expect(health.ms).toBeLessThan(health.limitMs);
        if (status === 400) {
          expect((answer.json as { error: string }).error).toMatch(/^Pattern too costly to match/);
        } else {
          expect((answer.json as { keys: string[] }).keys).toEqual([]);
        }
      }
    }, 60_000);

    it('refuses costly watch patterns at subscribe time and serves cheap ones', async () => {
      const costly = encodeURIComponent('*' + '?'.repeat(300) + 'b');
      const refused = await Promise.all(
        Array.from({ length: 50 }, () => http(server.url, 'GET', `/watch?pattern=${costly}`)),
      );
      expect(refused.map((answer) => answer.status)).toEqual(refused.map(() => 400));
      const watcher = await fetch(
        `${server.url}/watch?pattern=${encodeURIComponent('*' + 'a'.repeat(512) + 'b')}`,
        { signal: AbortSignal.timeout(20_000) },
      );
      expect(watcher.status).toBe(200);
      const key = 'a'.repeat(LONG_KEY_CHARS - 1) + 'b';
      expect((await http(server.url, 'PUT', `/key/${key}`, '1')).status).toBe(200);
      const reader = watcher.body!.getReader();
      let text = '';
      while (!text.includes(key)) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect((await http(server.url, 'DELETE', `/key/${key}`)).status).toBe(200);
    }, 30_000);

    it('streams unpaged listings byte for byte, while /health is served', async () => {
      const listings = Array.from({ length: 2 }, () => http(server.url, 'GET', '/keys'));
      await sleep(5);
      const health = await loadAwareGet('/health', BOUND_MS);
      const answers = await Promise.all(listings);
      // The keys went in over parallel connections: their order is the server's.
      const { keys } = answers[0].json as { keys: string[] };
      expect([...keys].sort()).toEqual([...allKeys].sort());
      const expected = JSON.stringify({ totalKeys: allKeys.length, keys });
      expect(answers.map((answer) => [answer.status, answer.text === expected])).toEqual([
        [200, true],
        [200, true],
      ]);
      expect(answers[0].headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(answers[0].headers.get('x-content-type-options')).toBe('nosniff');
      expect(answers[0].headers.get('access-control-allow-origin')).toBe('*');
      expect(health.status).toBe(200);
      expect(health.ms).toBeLessThan(health.limitMs);
    }, 60_000);
  });

  describe('memory for clients that do not read or do not finish (11.6)', () => {
    it('bounds what 100 clients that never read a 6 MB listing cost, and serves others', async () => {
      const before = residentBytes(server.child.pid!);
      const stallers = await Promise.all(
        Array.from({ length: 100 }, () =>
          nonReadingClient(server.url, rawRequest('GET /keys HTTP/1.1')),
        ),
      );
      try {
        await sleep(300);
        const conversation = rawConversation(server.url, [
          rawRequest('PUT /key/meanwhile HTTP/1.1', {}, '"kept"'),
          rawRequest('GET /key/meanwhile HTTP/1.1'),
          rawRequest('GET /health HTTP/1.1'),
        ]);
        const normal = await loadAwareGet('/key/k1', BOUND_MS);
        expect(normal.status).toBe(200);
        expect(normal.ms).toBeLessThan(normal.limitMs);
        expect((await conversation).map((answer) => answer.status)).toEqual([200, 200, 200]);
        // A reader's listing while the budget is held: refused with a clear 503, or served
        // by cutting connections that have not moved for a second.
        const meanwhile = await http(server.url, 'GET', '/keys?pattern=k*');
        expect([200, 503]).toContain(meanwhile.status);
        if (meanwhile.status === 503) {
          expect(meanwhile.json).toEqual({ error: expect.stringMatching(/^Server busy: /) });
          expect(meanwhile.headers.get('retry-after')).toBe('1');
        }
        await sleep(1500);
        // By now the stalled connections may be cut to make room for a client that reads.
        const later = await http(server.url, 'GET', '/keys');
        expect(later.status).toBe(200);
        expect((later.json as { totalKeys: number }).totalKeys).toBe(allKeys.length + 1);
        const grown = residentBytes(server.child.pid!) - before;
        expect({ grownMB: Math.round(grown / 2 ** 20), bounded: grown < 200 * 2 ** 20 }).toEqual({
          grownMB: expect.any(Number),
          bounded: true,
        });
      } finally {
        for (const socket of stallers) socket.destroy();
        await http(server.url, 'DELETE', '/key/meanwhile');
      }
    }, 60_000);

    it('bounds what 200 stalled, nearly complete 1 MiB bodies hold, and serves others', async () => {
      const before = residentBytes(server.child.pid!);
      const size = 1024 * 1024 - 16;
      const body = Buffer.alloc(size - 1, 'x');
      const stallers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          nonReadingClient(
            server.url,
            rawRequest(`PUT /key/big${i} HTTP/1.1`, { 'Content-Length': String(size) }, body),
          ),
        ),
      );
      try {
        await sleep(500);
        const normal = await loadAwareGet('/key/k1', BOUND_MS);
        expect(normal.status).toBe(200);
        expect(normal.ms).toBeLessThan(normal.limitMs);
        // Large bodies may fill only seven eighths of the budget: a small one still fits.
        expect((await http(server.url, 'PUT', '/key/small', '"ok"')).status).toBe(200);
        const grown = residentBytes(server.child.pid!) - before;
        expect({ grownMB: Math.round(grown / 2 ** 20), bounded: grown < 100 * 2 ** 20 }).toEqual({
          grownMB: expect.any(Number),
          bounded: true,
        });
      } finally {
        for (const socket of stallers) socket.destroy();
      }
      // Nothing of the stalled bodies was stored.
      expect((await http(server.url, 'GET', '/keys?pattern=big*')).json).toEqual({
        totalKeys: 0,
        keys: [],
      });
      await http(server.url, 'DELETE', '/key/small');
    }, 60_000);
  });
});
