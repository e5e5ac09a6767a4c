import { copyFileSync, readdirSync, statSync } from 'fs';
import { join } from 'path';
import { setImmediate as nextTurn } from 'timers/promises';
import { FakeClock } from '../../clock/fake-clock';
import { WriteCommand } from '../storage.repository';
import { nodeFileOps } from './file-ops';
import { FileStorageOptions } from './file-storage-options';
import { FaultyFileOps } from './testing/faulty-file-ops';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';
import { dumpStore, dumpsAtRevisions, expectSameDump, expectedDump } from './testing/store-dump';

describe('compaction', () => {
  let dir: string;
  let clock: FakeClock;
  let logger: RecordingLogger;
  const cleanup: (() => Promise<void> | void)[] = [];

  const open = async (overrides: Partial<FileStorageOptions> = {}, at = dir) => {
    const repo = await openStore(testOptions(at, overrides), clock, logger);
    cleanup.push(() => repo.close());
    return repo;
  };
  const put = (key: string, value: string, expiresAt: number | null = null): WriteCommand => ({
    op: 'put',
    key,
    value,
    expiresAt,
  });

  const snapshots = () => readdirSync(dir).filter((name) => name.startsWith('snapshot-'));

  beforeEach(() => {
    dir = makeTempDir();
    clock = new FakeClock();
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    removeDir(dir);
  });

  it('starts on its own once the log outgrows the threshold, and shrinks the log', async () => {
    const repo = await open({ compactMinBytes: 4096, compactRatio: 2 });
    const writeUntil = async (logBytes: number) => {
      for (let i = 0; repo.logBytes() < logBytes; i++) {
        await repo.write(put(`k${i % 20}`, JSON.stringify({ i, pad: 'x'.repeat(40) })));
      }
    };
    await writeUntil(4000);
    await nextTurn();
    expect(snapshots()).toEqual([]);
    await writeUntil(4096);
    const compacted = () => logger.at('log').filter((message) => message.startsWith('Compacted'));
    await waitFor(() => compacted().length === 1);
    expect(compacted()).toEqual([
      expect.stringMatching(
        /^Compacted .*: snapshot-0000000002 \(\d+ bytes\) replaces \d+ bytes of log/,
      ),
    ]);
    expect(repo.logBytes()).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['LOCK', 'log-0000000002', 'snapshot-0000000002']);

    // The next threshold is the larger of the minimum and twice the snapshot.
    const threshold = Math.max(4096, 2 * statSync(join(dir, 'snapshot-0000000002')).size);
    await writeUntil(threshold - 100);
    await nextTurn();
    expect(compacted()).toHaveLength(1);
    await writeUntil(threshold);
    await waitFor(() => compacted().length === 2);
    expect(snapshots()).toEqual(['snapshot-0000000003']);
    const before = await dumpStore(repo);
    await repo.close();
    expect(await dumpStore(await open())).toEqual(before);
  });

  it('recovers the data total from a snapshot and the log after it', async () => {
    const repo = await open();
    for (let i = 0; i < 20; i++) await repo.write(put(`k${i}`, JSON.stringify('x'.repeat(i * 10))));
    await repo.compact();
    await repo.write(put('k3', '"overwritten after the snapshot"'));
    await repo.write({ op: 'delete', key: 'k4' });
    const usage = repo.dataUsage();
    await repo.close();
    const reopened = await open({ maxDataBytes: usage.usedBytes - 1 });
    expect(reopened.dataUsage()).toEqual({ ...usage, maxBytes: usage.usedBytes - 1 });
    expect(logger.at('warn')).toEqual([
      `The data (${usage.usedBytes} bytes) is over MAX_DATA_BYTES (${usage.usedBytes - 1}): ` +
        'reads and deletes work, and writes that would add data are refused until keys are deleted.',
    ]);
  });

  it('keeps the revision of a store whose keys were all deleted', async () => {
    const repo = await open();
    await repo.write(put('a', '1'));
    await repo.write({ op: 'delete', key: 'a' });
    await repo.compact();
    await repo.close();
    const reopened = await open();
    expect(reopened.currentRevision()).toBe(2);
    expect(await reopened.listKeys()).toEqual([]);
  });

  it('loses nothing written while it runs, whatever the writes touch', async () => {
    const repo = await open();
    const commands = seedCommands(clock.now(), 3000);
    for (const command of commands) await repo.write(command);

    const compaction = repo.compact();
    let done = false;
    void compaction.then(() => (done = true));
    let step = 0;
    while (!done) {
      for (const command of churn(clock.now(), step++)) {
        commands.push(command);
        await repo.write(command);
      }
      await nextTurn();
    }
    await compaction;
    expect(step).toBeGreaterThan(3);
    const before = await dumpStore(repo);
    expect(before).toEqual(await expectedDump(clock, commands));
    await repo.close();
    expect(await dumpStore(await open())).toEqual(before);
  });

  it('loses nothing when the process dies at any step of it', async () => {
    const ops = new FaultyFileOps();
    const repo = await open({ fileOps: ops });
    const commands = seedCommands(clock.now(), 1500);
    for (const command of commands) await repo.write(command);

    // Before each file operation of the compaction, copy DATA_DIR: that is what a kill -9 at
    // that point would leave (the OS keeps what was written; LOCK goes stale on its own).
    const crashes: { dir: string; revision: number }[] = [];
    let logWrites = 0;
    ops.watch = (call) => {
      if (call.op === 'read' || call.op === 'size') return;
      // Appends of the concurrent writes: a sample is enough.
      if (call.op === 'write' && logWrites++ % 10 !== 0) return;
      const copy = makeTempDir('kvstore-crash-');
      copyDataFiles(dir, copy);
      cleanup.push(() => removeDir(copy));
      crashes.push({ dir: copy, revision: repo.currentRevision() });
    };
    const compaction = repo.compact();
    let done = false;
    void compaction.then(() => (done = true));
    for (let step = 0; !done; step++) {
      // Writes during the first turns, enough to meet every step; then wait.
      for (const command of step < 40 ? churn(clock.now(), step) : []) {
        commands.push(command);
        await repo.write(command);
      }
      await nextTurn();
    }
    await compaction;
    ops.watch = undefined;

    expect(crashes.length).toBeGreaterThan(10);
    const expected = await dumpsAtRevisions(
      clock,
      commands,
      crashes.map((crash) => crash.revision),
    );
    // Syncing changes nothing for a process crash; skipping it keeps the test fast.
    const unsynced = {
      ...nodeFileOps,
      datasync: async () => undefined,
      syncDir: async () => undefined,
    };
    for (const crash of crashes) {
      const survivor = await open({ fileOps: unsynced }, crash.dir);
      expectSameDump(await dumpStore(survivor), expected.get(crash.revision)!);
      await survivor.close();
    }
  }, 30_000);

  it('survives a failed compaction and succeeds on the next attempt', async () => {
    const ops = new FaultyFileOps();
    const repo = await open({ fileOps: ops });
    for (const command of seedCommands(clock.now(), 500)) await repo.write(command);
    ops.failWhen((call) =>
      call.op === 'writeAsync' && call.path?.endsWith('.tmp') ? 'ENOSPC' : undefined,
    );
    await expect(repo.compact()).rejects.toThrow(
      /^Compaction of .* failed: no space left on device \(ENOSPC\)\.$/,
    );
    expect(logger.at('error')).toEqual([
      expect.stringMatching(/failed: no space left on device \(ENOSPC\)\. The log is intact/),
    ]);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect((await repo.write(put('after', '1'))).ok).toBe(true);

    ops.clearFaults();
    await repo.compact();
    const before = await dumpStore(repo);
    await repo.close();
    expect(await dumpStore(await open())).toEqual(before);
  });

  it('loses nothing when any one file operation of it fails', async () => {
    const run = async (failAt: number | undefined) => {
      const runDir = makeTempDir();
      cleanup.push(() => removeDir(runDir));
      const ops = new FaultyFileOps();
      const repo = await openStore(
        testOptions(runDir, { fileOps: ops }),
        clock,
        new RecordingLogger(),
      );
      for (const command of seedCommands(clock.now(), 300)) await repo.write(command);
      ops.reset();
      if (failAt !== undefined)
        ops.failNth(failAt, (op) => (op === 'writeAsync' ? 'partial' : 'EIO'));
      await repo.compact().catch(() => undefined);
      // The failure may have put the store in the failed state (a failed fsync): that is allowed.
      await repo.write(put('after', '1')).catch(() => undefined);
      const before = await dumpStore(repo);
      const calls = ops.total;
      await repo.close().catch(() => undefined);
      const reopened = await openStore(testOptions(runDir), clock, new RecordingLogger());
      expectSameDump(await dumpStore(reopened), before);
      await reopened.close();
      return calls;
    };
    const calls = await run(undefined);
    expect(calls).toBeGreaterThan(8);
    for (let n = 1; n <= calls; n++) await run(n);
  }, 30_000);

  it('lets requests run between slices', async () => {
    const repo = await open();
    const value = JSON.stringify('v'.repeat(100));
    for (let i = 0; i < 20_000; i++) await repo.write(put(`key:${i}`, value));
    let done = false;
    const compaction = repo.compact().then(() => (done = true));
    let turns = 0;
    for (; !done; turns++) await nextTurn();
    await compaction;
    // 20,000 entries of ~130 bytes make about 20 slices of 128 KiB, each written off the event loop.
    expect(turns).toBeGreaterThan(20);
  });
});

/** Keys of every kind: with and without expiry, some already expired by the time of a restart. */
function seedCommands(now: number, count: number): WriteCommand[] {
  return Array.from({ length: count }, (_, i) => ({
    op: 'put',
    key: `key:${i}`,
    value: JSON.stringify({ i, text: 'x'.repeat(150) }),
    expiresAt: i % 3 === 0 ? now + 1_000_000 + i : null,
  }));
}

/** Writes that touch keys the snapshot has and has not reached yet, in every way. */
function churn(now: number, step: number): WriteCommand[] {
  const early = `key:${(step * 37) % 100}`;
  const late = `key:${2900 - ((step * 41) % 100)}`;
  const any = `key:${(step * 613) % 3000}`;
  return [
    { op: 'put', key: early, value: JSON.stringify({ step }), expiresAt: 'keep' },
    { op: 'ttl', key: late, expiresAt: now + 5_000_000 + step },
    { op: 'ttl', key: any, expiresAt: null },
    { op: 'delete', key: `key:${(step * 7 + 50) % 3000}` },
    { op: 'put', key: `key:${(step * 7 + 50) % 3000}`, value: '"re-created"', expiresAt: null },
    { op: 'put', key: `new:${step}`, value: '"new"', expiresAt: null },
  ];
}

/** Copies the files of DATA_DIR as they are now; one being unlinked meanwhile is simply gone. */
function copyDataFiles(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    if (name === 'LOCK') continue;
    try {
      copyFileSync(join(from, name), join(to, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}
