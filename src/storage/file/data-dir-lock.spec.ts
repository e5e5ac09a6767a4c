import { spawn } from 'child_process';
import { existsSync, rmSync, utimesSync } from 'fs';
import { join } from 'path';
import { FakeClock } from '../../clock/fake-clock';
import { LOCK_STALE_MS, lockDataDir } from './data-dir-lock';
import { FileStorageRepository } from './file-storage.repository';
import { DataDirLockedError } from './storage-errors';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';

describe('one process per data directory', () => {
  let dir: string;
  const opened: FileStorageRepository[] = [];
  const open = async (logger = new RecordingLogger()) => {
    const repo = await openStore(testOptions(dir), new FakeClock(), logger);
    opened.push(repo);
    return repo;
  };
  const put = (key: string) => ({ op: 'put' as const, key, value: '1', expiresAt: null });

  beforeEach(() => {
    dir = makeTempDir();
  });

  afterEach(async () => {
    for (const repo of opened.splice(0)) await repo.close();
    removeDir(dir);
  });

  it('refuses a second opener, naming the directory and the lock, while the first works', async () => {
    const first = await open();
    const refused = await open().catch((error) => error);
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect(refused.message).toBe(
      `DATA_DIR ${dir} is locked by another kvstore process (lock directory ${join(dir, 'LOCK')}). ` +
        'Stop the other process, or point DATA_DIR elsewhere. A lock left by a killed process on ' +
        'this machine is taken over at once; one from another machine once it has not been ' +
        'refreshed for 10 s.',
    );
    expect((await first.write(put('a'))).ok).toBe(true);

    await first.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    const second = await open();
    expect(await second.listKeys()).toEqual(['a']);
  });

  it('keeps the lock through its periodic refreshes', async () => {
    const lost: string[] = [];
    const lock = await lockDataDir(dir, new RecordingLogger(), (reason) => lost.push(reason), 2000);
    // proper-lockfile refreshes every stale / 2: wait past one refresh (a bounded, short wait).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(lost).toEqual([]);
    await lock.release();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    expect(existsSync(join(dir, 'LOCK.owner'))).toBe(false);
  });

  it('closes idempotently', async () => {
    const repo = await open();
    await Promise.all([repo.close(), repo.close()]);
    await repo.close();
    await expect(repo.write(put('a'))).rejects.toThrow('The store is closed.');
    expect(repo.health()).toEqual({ writable: false, reason: 'The store is closed.' });
  });

  it('takes over the lock of a killed process once it is stale', async () => {
    const child = spawn(process.execPath, [
      '-e',
      `require(${JSON.stringify(require.resolve('proper-lockfile'))})
        .lock(${JSON.stringify(dir)}, { lockfilePath: ${JSON.stringify(join(dir, 'LOCK'))}, stale: ${LOCK_STALE_MS} })
        .then(() => process.stdout.write('locked'));
       setInterval(() => {}, 1000);`,
    ]);
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data) => String(data).includes('locked') && resolve());
      child.on('exit', () => reject(new Error('the child exited before locking')));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));

    // Killed: no cleanup ran, and the lock is still fresh.
    await expect(open()).rejects.toThrow(DataDirLockedError);
    // As if the stale period had passed without the owner refreshing the lock.
    const past = (Date.now() - LOCK_STALE_MS - 1000) / 1000;
    utimesSync(join(dir, 'LOCK'), past, past);
    const repo = await open();
    expect((await repo.write(put('a'))).ok).toBe(true);
  });

  it('refuses writes once the lock is lost', async () => {
    jest.useFakeTimers({
      doNotFake: ['setImmediate', 'queueMicrotask', 'nextTick', 'performance'],
    });
    try {
      const logger = new RecordingLogger();
      const repo = await open(logger);
      rmSync(join(dir, 'LOCK'), { recursive: true });
      jest.advanceTimersByTime(LOCK_STALE_MS / 2);
      // The refresh that finds the lock gone is real file-system I/O: wait for it in real time
      // (bounded), not for a number of event-loop turns, which a busy machine runs through first.
      const deadline = performance.now() + 5000;
      while (repo.health().writable && performance.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(repo.health()).toMatchObject({
        writable: false,
        reason: expect.stringContaining(
          `The lock ${join(dir, 'LOCK')} on DATA_DIR ${dir} was lost`,
        ),
      });
      await expect(repo.write(put('a'))).rejects.toThrow(/was lost .*writes are refused/);
      expect(await repo.listKeys()).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });
});
