import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http-client';
import { runServerToExit, ServerProcess, startServerProcess } from './support/server-process';
import { SseStream } from './support/sse-client';

/** What a key may hold after a crash: the last acknowledged state, or the one in flight. */
interface KeyHistory {
  acknowledged: unknown; // undefined: absent
  inFlight?: { value: unknown };
}

const WORKERS = 4;
const KEYS_PER_WORKER = 6;

/**
 * The real server process, killed with SIGKILL in the middle of concurrent writes and deletes,
 * must come back with every acknowledged change and nothing that was never written.
 */
describe('durable storage across SIGKILL', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kv-durability-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = (fsync: string) =>
    startServerProcess({ STORAGE: 'file', DATA_DIR: dataDir, FSYNC: fsync });

  async function writeUntilKilled(server: ServerProcess, histories: Map<string, KeyHistory>) {
    let killed = false;
    const killAfterMs = 150 + Math.floor(Math.random() * 500);
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        const key = `w${w}/k${i % KEYS_PER_WORKER}`;
        const history = histories.get(key) ?? { acknowledged: undefined };
        histories.set(key, history);
        const remove = i % 5 === 4;
        const value = remove ? undefined : { w, i, pad: 'x'.repeat(i % 50) };
        history.inFlight = { value };
        try {
          const answer = remove
            ? await http(server.url, 'DELETE', `/key/${key}`)
            : await http(server.url, 'PUT', `/key/${key}`, JSON.stringify(value));
          if (answer.status === 200 || (remove && answer.status === 404)) {
            history.acknowledged = value;
            history.inFlight = undefined;
          }
        } catch {
          return; // the connection died with the process: this operation stays in flight
        }
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    await new Promise((resolve) => setTimeout(resolve, killAfterMs));
    killed = true;
    expect(await server.stop('SIGKILL')).toBe('SIGKILL');
    await Promise.all(workers);
  }

  async function expectRecovered(server: ServerProcess, histories: Map<string, KeyHistory>) {
    const listed = ((await http(server.url, 'GET', '/keys')).json as { keys: string[] }).keys;
    for (const key of listed) expect(histories.has(key)).toBe(true);
    for (const [key, history] of histories) {
      const answer = await http(server.url, 'GET', `/key/${key}`);
      const found = answer.status === 200 ? (answer.json as { value: unknown }).value : undefined;
      const allowed = [history.acknowledged];
      if (history.inFlight) allowed.push(history.inFlight.value);
      expect(allowed).toContainEqual(found);
      history.acknowledged = found;
      history.inFlight = undefined;
    }
  }

  it.each(['always', 'everysec', 'no'])(
    'loses no acknowledged write with FSYNC=%s over three random kill points',
    async (fsync) => {
      const histories = new Map<string, KeyHistory>();
      let server = await start(fsync);
      for (let round = 0; round < 3; round++) {
        await writeUntilKilled(server, histories);
        server = await start(fsync);
        await expectRecovered(server, histories);
      }
      expect([...histories.values()].some((history) => history.acknowledged !== undefined)).toBe(
        true,
      );
      expect(await server.stop('SIGTERM')).toBe(0);
    },
    60_000,
  );

  it('keeps values, order, expiry and revisions across a clean restart', async () => {
    let server = await start('everysec');
    const call = (method: string, path: string, body?: string) =>
      http(server.url, method, path, body);
    await call('PUT', '/key/b', '"text"');
    await call('PUT', '/key/a', '{"nested":[1,{"x":null}]}');
    await call('PUT', '/key/ttl?ttl=600', 'true');
    await call('DELETE', '/key/b');
    await call('PUT', '/key/b', '42');
    const before = await Promise.all(
      ['a', 'ttl', 'b'].map(async (key) => (await call('GET', `/key/${key}?meta=true`)).json),
    );
    expect(await server.stop('SIGTERM')).toBe(0);
    server = await start('everysec');
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 3, keys: ['a', 'ttl', 'b'] });
    const after = await Promise.all(
      ['a', 'ttl', 'b'].map(async (key) => (await call('GET', `/key/${key}?meta=true`)).json),
    );
    expect(after.map((entry) => ({ ...(entry as object), ttl: undefined }))).toEqual(
      before.map((entry) => ({ ...(entry as object), ttl: undefined })),
    );
    expect(await server.stop('SIGTERM')).toBe(0);
  }, 60_000);

  it('answers a Last-Event-ID from before a restart with a clear 410, and resumes after it', async () => {
    let server = await start('always');
    const watcher = await SseStream.open(server.url, '/watch');
    await http(server.url, 'PUT', '/key/a', '1');
    await http(server.url, 'PUT', '/key/b', '2');
    const [, last] = await watcher.events(2);
    watcher.close();
    expect(last.id).toBe('2');
    expect(await server.stop('SIGTERM')).toBe(0);

    server = await start('always');
    const stale = await http(server.url, 'GET', '/watch', undefined, { 'Last-Event-ID': '1' });
    expect(stale.status).toBe(410);
    expect(stale.json).toEqual({ error: 'Revision compacted', oldestRevision: 3 });
    // Revisions continue where they were: a client resuming after revision 2 misses nothing.
    const resumed = await SseStream.open(server.url, '/watch', { 'Last-Event-ID': last.id! });
    expect(resumed.status).toBe(200);
    await http(server.url, 'PUT', '/key/c', '3');
    const [next] = await resumed.events(1);
    expect({ id: next.id, event: next.event }).toEqual({ id: '3', event: 'put' });
    resumed.close();
    expect(await server.stop('SIGTERM')).toBe(0);
  }, 60_000);

  it('refuses a second process on the same data directory while the first keeps serving', async () => {
    const first = await start('everysec');
    const second = await runServerToExit({ STORAGE: 'file', DATA_DIR: dataDir });
    expect(second.code).not.toBe(0);
    expect(second.output).toContain('is locked by another kvstore process');
    expect((await http(first.url, 'PUT', '/key/still', '"serving"')).status).toBe(200);
    expect(await first.stop('SIGTERM')).toBe(0);
  }, 60_000);

  it('refuses to start on a data directory it cannot create, naming it', async () => {
    // A path below a regular file: no permission bits to bypass, even for root.
    const blocker = join(dataDir, 'a-file');
    writeFileSync(blocker, '');
    const { code, output } = await runServerToExit({
      STORAGE: 'file',
      DATA_DIR: `${blocker}/data`,
    });
    expect(code).not.toBe(0);
    expect(output).toContain(`DATA_DIR ${blocker}/data cannot be used`);
  }, 30_000);
});
