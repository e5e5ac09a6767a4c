import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http-client';
import { ServerProcess, startServerProcess } from './support/server-process';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

const ENTRY_OVERHEAD_BYTES = 200;

describe.each(HTTP_ADAPTERS)('the data limit (%s)', (adapter) => {
  const maxDataBytes = 4096;
  let server: TestApp;
  const call = (method: string, path: string, body?: string) =>
    http(server.url, method, path, body);
  const value = JSON.stringify('x'.repeat(998)); // 1000 bytes
  const entryBytes = (key: string) => ENTRY_OVERHEAD_BYTES + key.length + 1000;

  beforeEach(async () => {
    server = await startTestApp({
      HTTP_ADAPTER: adapter,
      MAX_DATA_BYTES: String(maxDataBytes),
      MAX_VALUE_BYTES: '1024',
      MAX_KEY_BYTES: '16',
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('answers 507 with the limit to a write that would exceed it, and changes nothing', async () => {
    for (const key of ['k1', 'k2', 'k3'])
      expect((await call('PUT', `/key/${key}`, value)).status).toBe(200);
    const refused = await call('PUT', '/key/k4', value);
    expect(refused).toMatchObject({
      status: 507,
      json: { error: expect.stringContaining('MAX_DATA_BYTES'), maxBytes: maxDataBytes },
    });
    expect(Object.keys(refused.json as object)).toEqual(['error', 'maxBytes']);
    expect((await call('GET', '/key/k4')).status).toBe(404);
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 3, keys: ['k1', 'k2', 'k3'] });
    const metrics = (await call('GET', '/metrics')).text;
    expect(metrics).toMatch(new RegExp(`^kv_data_bytes ${3 * entryBytes('k1')}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^kv_data_max_bytes ${maxDataBytes}$`, 'm'));
  });

  it('keeps serving reads, deletes and shrinking writes when full, and stays ready saying so', async () => {
    for (const key of ['k1', 'k2', 'k3']) await call('PUT', `/key/${key}`, value);
    const full = await call('GET', '/health/ready');
    expect(full).toMatchObject({
      status: 200,
      json: {
        status: 'ok',
        info: {
          storage: { status: 'up' },
          data: {
            status: 'up',
            usedBytes: 3 * entryBytes('k1'),
            maxBytes: maxDataBytes,
            full: true,
            reason: expect.stringContaining('507'),
          },
        },
      },
    });
    expect((await call('GET', '/key/k1')).json).toEqual({ key: 'k1', value: 'x'.repeat(998) });
    expect((await call('PUT', '/key/k1', '"small"')).status).toBe(200);
    expect((await call('DELETE', '/key/k2')).status).toBe(200);
    expect((await call('PUT', '/key/k4', value)).status).toBe(200);
    expect((await call('GET', '/health/ready')).json).toMatchObject({
      info: { data: { full: false, usedBytes: 2 * entryBytes('k1') + ENTRY_OVERHEAD_BYTES + 9 } },
    });
  });
});

const MIB = 1024 * 1024;
/** A JSON string of exactly 1 MiB (the default MAX_VALUE_BYTES), told apart by its prefix. */
const mebibyteValue = (tag: string) => JSON.stringify(`${tag}:`.padEnd(MIB - 2, 'x'));
/** The child's heap: small enough that the code before issue 11 ran out of it. */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=256' };

/** Runs `task` for 0..count-1, `workers` at a time, in order of index within each worker. */
async function inParallel(count: number, workers: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

/** The limits the server derived from its heap, from its start-up line. */
function startLimits(server: ServerProcess): { maxDataBytes: number; heapBytes: number } {
  const match = /MAX_DATA_BYTES: (\d+) of a (\d+)-byte heap/.exec(server.output());
  expect(match).not.toBeNull();
  return { maxDataBytes: Number(match![1]), heapBytes: Number(match![2]) };
}

/** A request that got no answer, with undici's reason: "fetch failed" alone says nothing. */
function unanswered(error: Error): string {
  return `${error.message}: ${String(error.cause)}`;
}

function alive(server: ServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

describe.each(HTTP_ADAPTERS)('1 MiB values in a 256 MiB heap (%s, real process)', (adapter) => {
  let server: ServerProcess | undefined;
  let dataDir: string | undefined;

  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  it('survives 400 PUTs of 1 MiB to one key, 4 at a time, with the watch history bounded', async () => {
    const PUTS = 400;
    server = await startServerProcess({ HTTP_ADAPTER: adapter, ...SMALL_HEAP });
    const { url } = server;
    const acknowledged: Array<{ revision: number; tag: string }> = [];
    const failures: string[] = [];
    await inParallel(PUTS, 4, async (i) => {
      const tag = `put-${i}`;
      const answer = await http(url, 'PUT', '/key/big', mebibyteValue(tag)).catch(
        (error: Error) => ({ status: unanswered(error), headers: new Headers() }),
      );
      if (answer.status === 200) {
        acknowledged.push({ revision: Number(answer.headers.get('x-kv-revision')), tag });
      } else {
        failures.push(String(answer.status));
      }
    });
    // Before issue 11 the process died of "JavaScript heap out of memory" after about 220.
    expect({ alive: alive(server), failures }).toEqual({ alive: true, failures: [] });
    // The last value is the one acknowledged with the highest revision.
    const last = acknowledged.reduce((a, b) => (b.revision > a.revision ? b : a));
    expect(last.revision).toBe(PUTS);
    const read = await http(url, 'GET', '/key/big');
    expect(read.status).toBe(200);
    expect(read.text.startsWith(`{"key":"big","value":"${last.tag}:x`)).toBe(true);
    expect(read.text.length).toBe(`{"key":"big","value":}`.length + MIB);

    const { heapBytes } = startLimits(server);
    const historyLimit = Math.floor(heapBytes / 16);
    const metrics = (await http(url, 'GET', '/metrics')).text;
    const historyBytes = Number(/^kv_watch_history_bytes (\d+)$/m.exec(metrics)?.[1]);
    expect(historyBytes).toBeGreaterThanOrEqual(MIB);
    expect(historyBytes).toBeLessThanOrEqual(historyLimit);
    // So the history holds the last few changes only: replay from the start is refused.
    const replay = await http(url, 'GET', '/watch?fromRevision=1');
    expect(replay.status).toBe(410);
    const { oldestRevision } = replay.json as { oldestRevision: number };
    expect(oldestRevision).toBeGreaterThan(PUTS - Math.ceil(historyLimit / MIB));
    expect(Number(/^kv_data_bytes (\d+)$/m.exec(metrics)?.[1])).toBe(
      ENTRY_OVERHEAD_BYTES + 3 + MIB,
    );
  }, 180_000);

  it('answers 507 once distinct 1 MiB keys fill MAX_DATA_BYTES, keeps every acknowledged key, and restarts (file)', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kv-memory-limits-'));
    const environment = {
      HTTP_ADAPTER: adapter,
      STORAGE: 'file',
      DATA_DIR: dataDir,
      ...SMALL_HEAP,
    };
    server = await startServerProcess(environment);
    const { maxDataBytes } = startLimits(server);
    const entryBytes = (key: string) => ENTRY_OVERHEAD_BYTES + key.length + MIB;
    // More keys than the limit holds: the last ones must be refused.
    const attempts = Math.ceil(maxDataBytes / MIB) + 20;
    const stored = new Set<string>();
    const refusals: unknown[] = [];
    const other: string[] = [];
    await inParallel(attempts, 4, async (i) => {
      const key = `key-${String(i).padStart(4, '0')}`;
      const answer = await http(server!.url, 'PUT', `/key/${key}`, mebibyteValue(key)).catch(
        (error: Error) => ({ status: unanswered(error), json: undefined }),
      );
      if (answer.status === 200) stored.add(key);
      else if (answer.status === 507) refusals.push(answer.json);
      else other.push(String(answer.status));
    });
    expect(other).toEqual([]);
    expect(alive(server)).toBe(true);
    expect(refusals.length).toBeGreaterThanOrEqual(20);
    expect(refusals[0]).toEqual({
      error: expect.stringContaining('Storage full'),
      maxBytes: maxDataBytes,
    });
    const usedBytes = [...stored].reduce((sum, key) => sum + entryBytes(key), 0);
    expect(usedBytes).toBeLessThanOrEqual(maxDataBytes);
    // Full: not even one more key of this size fits.
    expect(usedBytes + entryBytes('key-9999')).toBeGreaterThan(maxDataBytes);
    const ready = await http(server.url, 'GET', '/health/ready');
    expect(ready).toMatchObject({
      status: 200,
      json: { info: { data: { usedBytes, full: true } } },
    });

    const readAll = async (url: string) => {
      for (const key of stored) {
        const read = await http(url, 'GET', `/key/${key}`);
        expect(read.status).toBe(200);
        expect(read.text.startsWith(`{"key":"${key}","value":"${key}:x`)).toBe(true);
      }
    };
    await readAll(server.url);

    // Deleting makes room again.
    const deleted = [...stored].slice(0, 3);
    for (const key of deleted) {
      expect((await http(server.url, 'DELETE', `/key/${key}`)).status).toBe(200);
      stored.delete(key);
    }
    for (const key of ['after-1', 'after-2']) {
      expect((await http(server.url, 'PUT', `/key/${key}`, mebibyteValue(key))).status).toBe(200);
      stored.add(key);
    }

    expect(await server.stop('SIGTERM')).toBe(0);
    server = await startServerProcess(environment, 60_000);
    await readAll(server.url);
    for (const key of deleted)
      expect((await http(server.url, 'GET', `/key/${key}`)).status).toBe(404);
    expect((await http(server.url, 'GET', '/keys')).json).toMatchObject({ totalKeys: stored.size });
  }, 300_000);
});
