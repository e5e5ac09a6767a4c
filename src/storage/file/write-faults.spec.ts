import { FakeClock } from '../../clock/fake-clock';
import { WriteCommand } from '../storage.repository';
import { FileStorageRepository } from './file-storage.repository';
import { nodeFileOps } from './file-ops';
import { FsyncPolicy } from './file-storage-options';
import { StorageUnavailableError } from '../storage.repository';
import { FaultyFileOps } from './testing/faulty-file-ops';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';
import { dumpStore, expectedDump, sampleCommands } from './testing/store-dump';

describe('FileStorageRepository under write faults', () => {
  let dir: string;
  let clock: FakeClock;
  let ops: FaultyFileOps;
  let logger: RecordingLogger;
  let repo: FileStorageRepository | undefined;

  const open = async (fsync: FsyncPolicy = 'everysec') => {
    repo = await openStore(testOptions(dir, { fsync, fileOps: ops }), clock, logger);
    ops.reset();
    return repo;
  };
  const reopenClean = async () => {
    await repo!.close().catch(() => undefined);
    repo = await openStore(testOptions(dir), clock, logger);
    return repo;
  };
  const put = (key: string, value: string): WriteCommand => ({
    op: 'put',
    key,
    value,
    expiresAt: null,
  });

  beforeEach(() => {
    dir = makeTempDir();
    clock = new FakeClock();
    ops = new FaultyFileOps();
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    await repo?.close().catch(() => undefined);
    repo = undefined;
    removeDir(dir);
  });

  it.each(['ENOSPC', 'EIO', 'EACCES', 'partial'] as const)(
    'rejects a write whose append fails with %s, changes nothing, and accepts the next',
    async (fault) => {
      const store = await open();
      await store.write(put('a', '1'));
      const before = await dumpStore(store);
      const logBytes = store.logBytes();

      ops.failNext('write', fault);
      const failed = store.write(put('b', '2'));
      await expect(failed).rejects.toThrow(StorageUnavailableError);
      await expect(failed).rejects.toThrow(
        fault === 'EIO'
          ? /input\/output error \(EIO\)/
          : fault === 'EACCES'
            ? /permission denied/
            : /no space left on device \(ENOSPC\)/,
      );
      expect(await dumpStore(store)).toEqual(before);
      expect(store.logBytes()).toBe(logBytes);
      expect(store.health()).toEqual({ writable: true });

      expect((await store.write(put('c', '3'))).ok).toBe(true);
      const after = await dumpStore(store);
      await reopenClean();
      expect(await dumpStore(repo!)).toEqual(after);
      expect(logger.at('warn')).toEqual([]);
    },
  );

  it('completes a short write with a second call', async () => {
    const store = await open();
    ops.failNext('write', 'short');
    expect((await store.write(put('a', '"a value long enough to split"'))).ok).toBe(true);
    expect(ops.count('write')).toBe(2);
    await reopenClean();
    expect((await repo!.get('a'))?.value).toBe('"a value long enough to split"');
  });

  it('refuses writes until restart when a partial record cannot be cut off', async () => {
    const store = await open();
    await store.write(put('a', '1'));
    ops.failWhen((call) =>
      call.op === 'write' ? 'partial' : call.op === 'truncate' ? 'EIO' : undefined,
    );
    await expect(store.write(put('b', '2'))).rejects.toThrow(StorageUnavailableError);
    ops.clearFaults();

    await expect(store.write(put('c', '3'))).rejects.toThrow(/refused until kvstore is restarted/);
    expect(store.health()).toMatchObject({
      writable: false,
      reason: expect.stringMatching(/Could not cut/),
    });
    expect((await store.get('a'))?.value).toBe('1');

    await reopenClean();
    expect(await repo!.listKeys()).toEqual(['a']);
    expect(logger.at('warn')).toEqual([expect.stringMatching(/incomplete record at byte offset/)]);
    expect((await repo!.write(put('c', '3'))).ok).toBe(true);
  });

  it('fails the waiting writes and refuses later ones when fsync fails', async () => {
    const store = await open('always');
    await store.write(put('a', '1'));
    ops.failNext('datasync', 'EIO');
    const waiting = [store.write(put('b', '2')), store.write(put('c', '3'))];
    for (const write of waiting)
      await expect(write).rejects.toThrow(/fsync of the log .* failed: input\/output error/);

    await expect(store.write(put('d', '4'))).rejects.toThrow(
      /writes are refused until kvstore is restarted/,
    );
    expect(await store.expireDue(10).catch((error) => error)).toBeInstanceOf(
      StorageUnavailableError,
    );
    expect(store.health()).toMatchObject({
      writable: false,
      reason: expect.stringMatching(/fsync/),
    });
    expect(ops.count('datasync')).toBe(2);
    expect((await store.get('a'))?.value).toBe('1');

    // The records reached the OS before the sync failed; a restart replays whatever survived.
    await reopenClean();
    expect((await repo!.write(put('d', '4'))).ok).toBe(true);
  });

  it('shares one fsync among concurrent writes (group commit)', async () => {
    const store = await open('always');
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.write(put(`k${i}`, String(i)))),
    );
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(ops.count('datasync')).toBe(1);
  });

  it('makes a write that arrives during an fsync wait for the next one', async () => {
    const gate = new SyncGate();
    ops = new FaultyFileOps({ ...nodeFileOps, datasync: gate.datasync });
    const store = await open('always');
    const first = store.write(put('a', '1'));
    await waitFor(() => gate.held.length === 1);
    let secondDone = false;
    const second = store.write(put('b', '2')).then(() => (secondDone = true));
    gate.held[0]();
    await first;
    expect(secondDone).toBe(false);
    await waitFor(() => gate.held.length === 2);
    gate.held[1]();
    await second;
    expect(gate.held).toHaveLength(2);
  });

  it('syncs at least once a second with everysec, and not at all for reads', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask', 'nextTick'] });
    try {
      const store = await open('everysec');
      await store.write(put('a', '1'));
      await store.get('a');
      expect(ops.count('datasync')).toBe(0);
      jest.advanceTimersByTime(1000);
      await waitFor(() => ops.count('datasync') === 1);
      jest.advanceTimersByTime(1000);
      expect(ops.count('datasync')).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reports fsync latency to onFsync', async () => {
    const seconds: number[] = [];
    repo = await openStore(
      testOptions(dir, { fsync: 'always', onFsync: (s) => seconds.push(s) }),
      clock,
      logger,
    );
    seconds.length = 0;
    await repo.write(put('a', '1'));
    expect(seconds).toHaveLength(1);
    expect(seconds[0]).toBeGreaterThanOrEqual(0);
  });

  describe('failing the N-th file operation of a write sequence', () => {
    const commands = sampleCommands(Date.UTC(2026, 0, 1));

    const runWith = async (fsync: FsyncPolicy, n: number | undefined) => {
      const runDir = makeTempDir();
      const runOps = new FaultyFileOps();
      const runClock = new FakeClock();
      const store = await openStore(
        testOptions(runDir, { fsync, fileOps: runOps }),
        runClock,
        new RecordingLogger(),
      );
      runOps.reset();
      if (n !== undefined) runOps.failNth(n, (op) => (op === 'write' ? 'partial' : 'EIO'));
      const applied: WriteCommand[] = [];
      for (const command of commands) {
        const before = await dumpStore(store);
        try {
          await store.write(command);
          applied.push(command);
        } catch (error) {
          expect(error).toBeInstanceOf(StorageUnavailableError);
          // A failed append changes nothing; only a failed fsync comes after the change was applied.
          const after = await dumpStore(store);
          if (after.revision !== before.revision) {
            expect((error as Error).message).toMatch(/^fsync of the log .* failed/);
            applied.push(command);
          } else {
            expect(after).toEqual(before);
          }
        }
      }
      const final = await dumpStore(store);
      expect(final).toEqual(await expectedDump(runClock, applied));
      await store.close().catch(() => undefined);
      const reopened = await openStore(testOptions(runDir), runClock, new RecordingLogger());
      expect(await dumpStore(reopened)).toEqual(final);
      await reopened.close();
      removeDir(runDir);
      return runOps.total;
    };

    it.each(['always', 'everysec'] as const)(
      'keeps memory and log consistent (fsync %s)',
      async (fsync) => {
        const total = await runWith(fsync, undefined);
        expect(total).toBeGreaterThan(10);
        for (let n = 1; n <= total; n++) await runWith(fsync, n);
      },
      // Two opens per run, each taking the lock with a flock(1) process.
      60_000,
    );
  });
});

/** A datasync that waits until the test releases it, to observe writes during a sync. */
class SyncGate {
  /** One release function per call, in call order. */
  readonly held: (() => void)[] = [];

  readonly datasync = async (fd: number): Promise<void> => {
    await new Promise<void>((resolve) => this.held.push(resolve));
    await nodeFileOps.datasync(fd);
  };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(condition()).toBe(true);
}
