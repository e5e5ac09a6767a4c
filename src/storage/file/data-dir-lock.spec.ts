import { spawn } from 'child_process';
import { existsSync, mkdirSync, rmSync } from 'fs';
import { join } from 'path';
import { FakeClock } from '../../clock/fake-clock';
import { lockDataDir } from './data-dir-lock';
import { FileStorageRepository } from './file-storage.repository';
import { DataDirError, DataDirLockedError } from './storage-errors';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';

/**
 * A process that holds `<dir>/LOCK` the way lockDataDir does (open, then flock(1) on the
 * inherited descriptor), then idles; resolves once it holds it.
 */
async function lockInChild(dir: string, signal = 'locked') {
  const child = spawn(process.execPath, [
    '-e',
    `const fd = require('fs').openSync(${JSON.stringify(join(dir, 'LOCK'))}, 'a');
     const r = require('child_process').spawnSync('flock', ['-xn', '3'], { stdio: ['ignore', 'ignore', 'inherit', fd] });
     if (r.status !== 0) process.exit(3);
     process.stdout.write(${JSON.stringify(signal)});
     setInterval(() => {}, 1000);`,
  ]);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data) => String(data).includes(signal) && resolve());
    child.on('exit', (code) => reject(new Error(`the child exited (${code}) before locking`)));
  });
  return child;
}

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
      `DATA_DIR ${dir} is locked by another kvstore process (lock file ${join(dir, 'LOCK')}). ` +
        'Stop the other process, or point DATA_DIR elsewhere. The lock is held by the kernel ' +
        'for as long as that process lives, and ends with it however it ends.',
    );
    expect((await first.write(put('a'))).ok).toBe(true);

    await first.close();
    // The file stays (deleting a lock file races with a process about to lock it); the lock does not.
    expect(existsSync(join(dir, 'LOCK'))).toBe(true);
    const second = await open();
    expect(await second.listKeys()).toEqual(['a']);
  });

  it('is held by a stopped process, and freed at once when it is killed', async () => {
    const child = await lockInChild(dir);
    try {
      child.kill('SIGSTOP');
      await expect(open()).rejects.toThrow(DataDirLockedError);
      child.kill('SIGCONT');
      await expect(open()).rejects.toThrow(DataDirLockedError);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
    }
    // No cleanup ran: the kernel dropped the lock with the process.
    const repo = await open();
    expect((await repo.write(put('a'))).ok).toBe(true);
  });

  it('keeps the lock after the flock(1) helper has exited, until released', async () => {
    const lock = await lockDataDir(dir);
    expect(lock.isInPlace()).toBe(true);
    await expect(lockInChild(dir)).rejects.toThrow('the child exited (3) before locking');
    lock.release();
    expect(lock.isInPlace()).toBe(false);
    const child = await lockInChild(dir);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
  });

  it('refuses a lock directory left by an older version, saying what to do', async () => {
    mkdirSync(join(dir, 'LOCK'));
    const refused = await open().catch((error) => error);
    expect(refused).toBeInstanceOf(DataDirError);
    expect(refused.message).toContain('is a lock directory left by an older kvstore version');
    expect(refused.message).toContain(`rm -r ${join(dir, 'LOCK')} ${join(dir, 'LOCK')}.owner`);
  });

  it('closes idempotently', async () => {
    const repo = await open();
    await Promise.all([repo.close(), repo.close()]);
    await repo.close();
    await expect(repo.write(put('a'))).rejects.toThrow('The store is closed.');
    expect(repo.health()).toEqual({ writable: false, reason: 'The store is closed.' });
  });

  it('refuses writes once the lock file is removed, and leaves the files alone', async () => {
    const logger = new RecordingLogger();
    const repo = await open(logger);
    expect((await repo.write(put('a'))).ok).toBe(true);
    rmSync(join(dir, 'LOCK'));
    // Found by the once-a-second check (no sync runs under everysec without writes), then the
    // rescue declines the directory, which still holds the log: a bounded wait for both.
    const deadline = performance.now() + 5000;
    while (!/failed/.test(repo.health().reason ?? '') && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(repo.health()).toEqual({
      writable: false,
      reason: expect.stringMatching(
        /^The lock file DATA_DIR\/LOCK was removed or replaced.*DATA_DIR holds log or snapshot files/,
      ),
    });
    await expect(repo.write(put('b'))).rejects.toThrow(/DATA_DIR holds log or snapshot files/);
    expect(await repo.listKeys()).toEqual(['a']);
  });
});
