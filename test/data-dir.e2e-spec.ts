import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { http } from './support/http-client';
import { runServerToExit, ServerProcess, startServerProcess } from './support/server-process';

/** Longer than the 10 s after which the mtime lock used before let a second process in. */
const STALLED_MS = 11_000;
const WRITERS = 4;

/** PUTs distinct keys from a few concurrent writers; records those answered 200. */
class Writers {
  readonly acknowledged = new Map<string, unknown>();
  private stopped = false;
  private readonly running: Promise<void>[];

  constructor(private readonly url: string) {
    this.running = Array.from({ length: WRITERS }, (_, w) => this.write(w));
  }

  /** Waits (bounded) until `count` writes were acknowledged: a busy machine starts slowly. */
  async acknowledge(count: number): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (this.acknowledged.size < count) {
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async write(w: number): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const key = `w${w}/k${i}`;
      const value = { w, i };
      try {
        const answer = await http(this.url, 'PUT', `/key/${key}`, JSON.stringify(value));
        if (answer.status === 200) this.acknowledged.set(key, value);
      } catch {
        // A stall longer than HEADERS_TIMEOUT_MS makes the resumed server drop the connections
        // whose requests waited: those writes were never acknowledged.
      }
    }
  }
}

async function expectAllThere(server: ServerProcess, acknowledged: Map<string, unknown>) {
  const entries = [...acknowledged];
  const lanes = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = lane; i < entries.length; i += 8) {
      const [key, value] = entries[i];
      expect((await http(server.url, 'GET', `/key/${key}`)).json).toEqual({ key, value });
    }
  });
  await Promise.all(lanes);
}

describe.each(['express', 'fastify'])('DATA_DIR ownership and removal (%s)', (adapter) => {
  let parent: string;
  let dataDir: string;
  const servers: ServerProcess[] = [];
  const start = async () => {
    const server = await startServerProcess(env());
    servers.push(server);
    return server;
  };
  const env = () => ({
    STORAGE: 'file',
    FSYNC: 'always',
    DATA_DIR: dataDir,
    HTTP_ADAPTER: adapter,
  });

  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'kv-data-dir-'));
    dataDir = join(parent, 'data');
  });

  afterEach(async () => {
    // A failed test must not leave a server behind (stopped, or re-creating DATA_DIR).
    for (const server of servers.splice(0)) {
      server.child.kill('SIGCONT');
      await server.stop('SIGKILL');
    }
    rmSync(parent, { recursive: true, force: true });
  });

  it('stays with a stopped process: a second one refuses, and nothing is lost or corrupted', async () => {
    const first = await start();
    const writers = new Writers(first.url);
    await writers.acknowledge(50);
    first.child.kill('SIGSTOP');
    try {
      await sleep(STALLED_MS);
      const second = await runServerToExit(env());
      expect(second.output).toContain(`DATA_DIR ${dataDir} is locked by another kvstore process`);
      expect(second.code).not.toBe(0);
    } finally {
      first.child.kill('SIGCONT');
    }
    await writers.acknowledge(writers.acknowledged.size + 50);
    await writers.stop();
    expect((await http(first.url, 'PUT', '/key/resumed', '"yes"')).status).toBe(200);
    writers.acknowledged.set('resumed', 'yes');
    expect(await first.stop('SIGTERM')).toBe(0);

    // A StorageCorruptError at start would reject here, with the server's output.
    const restarted = await start();
    await expectAllThere(restarted, writers.acknowledged);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  }, 120_000);

  it('keeps every acknowledged write when DATA_DIR is removed under load', async () => {
    const server = await start();
    const writers = new Writers(server.url);
    await writers.acknowledge(50);
    try {
      rmSync(dataDir, { recursive: true });
    } catch (error) {
      // The server re-created files while rm ran: it noticed the removal, which is the point.
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw error;
    }
    await sleep(1000);
    await writers.stop();
    expect(await server.stop('SIGTERM')).toBe(0);

    const restarted = await start();
    await expectAllThere(restarted, writers.acknowledged);
    expect(await restarted.stop('SIGTERM')).toBe(0);
    // rm -rf unlinks the files in directory order: the check finds the log or the lock gone
    // first (src/storage/file/data-dir-removal.spec.ts pins each case).
    expect(server.output()).toMatch(
      /The log log-\d+ is no longer in DATA_DIR|The lock file DATA_DIR\/LOCK was removed/,
    );
    expect(server.output()).toContain('writes resume');
  }, 120_000);

  it('answers 503 and reports why until DATA_DIR can be re-created, then saves everything', async () => {
    const server = await start();
    const acknowledged = new Map<string, unknown>();
    for (let i = 0; i < 10; i++) {
      expect((await http(server.url, 'PUT', `/key/k${i}`, String(i))).status).toBe(200);
      acknowledged.set(`k${i}`, i);
    }
    // A file where DATA_DIR was keeps the store from re-creating it.
    rmSync(dataDir, { recursive: true });
    writeFileSync(dataDir, 'in the way');

    const detected = await http(server.url, 'PUT', '/key/unknown', '1');
    expect(detected.status).toBe(503);
    expect(detected.json).toEqual({
      error: expect.stringMatching(
        /^Storage unavailable: The log log-\d+ is no longer in DATA_DIR/,
      ),
    });
    const refused = await http(server.url, 'PUT', '/key/refused', '1');
    expect(refused.status).toBe(503);
    expect((await http(server.url, 'GET', '/key/refused')).status).toBe(404);
    const ready = await http(server.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(JSON.stringify(ready.json)).toMatch(/is no longer in DATA_DIR .*writes are refused/);
    expect((await http(server.url, 'GET', '/health')).status).toBe(200);
    expect((await http(server.url, 'GET', '/key/k3')).json).toEqual({ key: 'k3', value: 3 });

    rmSync(dataDir);
    const deadline = Date.now() + 10_000;
    while ((await http(server.url, 'GET', '/health/ready')).status !== 200) {
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(100);
    }
    expect((await http(server.url, 'PUT', '/key/after', '"resumed"')).status).toBe(200);
    acknowledged.set('after', 'resumed');
    expect(await server.stop('SIGTERM')).toBe(0);

    const restarted = await start();
    await expectAllThere(restarted, acknowledged);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  }, 120_000);
});
