import { spawn } from 'child_process';
import { closeSync, constants, openSync } from 'fs';
import { join } from 'path';
import { LOCK_NAME } from './data-files';
import { namesOpenFile } from './file-ops';
import { DataDirError, DataDirLockedError, describeIoError } from './storage-errors';

export interface DataDirLock {
  readonly path: string;
  /** False once `DATA_DIR/LOCK` is no longer the file this lock is on (removed or replaced). */
  isInPlace(): boolean;
  /** Closes the lock file, which ends the kernel lock. */
  release(): void;
}

/** flock(1)'s exit code when the lock is held elsewhere (its default, 1, also means other failures). */
const HELD_ELSEWHERE = 75;

class LockHeldElsewhere extends Error {}

/**
 * Takes an exclusive kernel lock, flock(2), on `DATA_DIR/LOCK`, as LevelDB, RocksDB and etcd lock
 * their directories. The kernel keeps the lock for as long as the open file exists and drops it
 * when the process ends, however it ends (SIGKILL, OOM kill): a process that is stopped
 * (SIGSTOP) or stuck in a long synchronous task keeps the directory for its whole life, and a
 * restart after a crash never waits. The lock is on the inode, so it also holds between
 * containers that share a volume on one host. (The mtime heartbeat of proper-lockfile, used
 * before, handed a live but stalled process's directory to a second process after 10 s.)
 *
 * Node has no flock API. Rather than a native addon (a compiled binary per platform and Node
 * ABI to ship and trust), the file is opened here and util-linux's flock(1), part of Debian's
 * essential set and so of every image kvstore builds from, locks that same open file
 * description, received as its fd 3. A flock belongs to the open file description, not to the
 * process that asked for it, so it stays with this process's descriptor after flock(1) exits.
 * Node opens files with O_CLOEXEC, so no other child process inherits it.
 *
 * The lock file is never deleted: a process could lock a file another is about to unlink.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_NAME);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new DataDirError(
        dataDir,
        `${path} is a lock directory left by an older kvstore version. If no older kvstore ` +
          `process uses DATA_DIR, remove it (rm -r ${path} ${path}.owner) and start again`,
      );
    }
    throw new DataDirError(dataDir, error);
  }
  try {
    await flockExclusive(fd);
  } catch (error) {
    closeSync(fd);
    if (error instanceof LockHeldElsewhere) throw new DataDirLockedError(dataDir, path);
    throw new DataDirError(dataDir, error);
  }
  let open = true;
  return {
    path,
    isInPlace: () => open && namesOpenFile(fd, path),
    release: () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/** Runs `flock --exclusive --nonblock 3` on `fd`; rejects with LockHeldElsewhere if it is taken. */
function flockExclusive(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'flock',
      ['--exclusive', '--nonblock', '--conflict-exit-code', String(HELD_ELSEWHERE), '3'],
      { stdio: ['ignore', 'ignore', 'pipe', fd] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) =>
      reject(
        new Error(
          `kvstore locks DATA_DIR with flock(1) from util-linux, which could not be run ` +
            `(${describeIoError(error)}); install util-linux`,
        ),
      ),
    );
    child.once('close', (code) => {
      if (code === 0) resolve();
      else if (code === HELD_ELSEWHERE) reject(new LockHeldElsewhere());
      else reject(new Error(`flock(1) failed with exit code ${code}: ${stderr.trim()}`));
    });
  });
}
