import { rmSync } from 'fs';
import { join } from 'path';
import * as lockfile from 'proper-lockfile';
import { LOCK_NAME } from './data-files';
import { currentOwner, ownerIsGone, readOwner, removeOwner, writeOwner } from './lock-owner';
import { StorageLogger } from './file-storage-options';
import { DataDirError, DataDirLockedError, describeIoError } from './storage-errors';

/**
 * How long a lock may go unrefreshed before another process may take it over. The holder
 * refreshes the lock directory's mtime every STALE_MS / 2. On the same machine a restart does
 * not wait for it: a lock whose recorded owner no longer runs is taken over at once
 * (lock-owner.ts); staleness only frees locks of owners that cannot be checked (another
 * machine sharing the directory, or a reboot).
 */
export const LOCK_STALE_MS = 10_000;

export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock on a data directory: proper-lockfile creates the directory
 * `<dataDir>/LOCK` with mkdir (atomic) and keeps its mtime fresh; the owner is recorded inside
 * it, so a lock left by a killed process is recognised and taken over at once.
 *
 * `onLost` runs if the lock is taken away (its directory removed, or refreshed by someone else):
 * another process may now be writing, so the caller must stop writing.
 */
export async function lockDataDir(
  dataDir: string,
  logger: StorageLogger,
  onLost: (reason: string) => void,
  staleMs = LOCK_STALE_MS,
): Promise<DataDirLock> {
  const lockPath = join(dataDir, LOCK_NAME);
  const self = currentOwner();
  const take = () =>
    lockfile.lock(dataDir, {
      lockfilePath: lockPath,
      stale: staleMs,
      onCompromised: (error) =>
        onLost(`The lock ${lockPath} on DATA_DIR ${dataDir} was lost (${error.message}).`),
    });
  let release: () => Promise<void>;
  try {
    try {
      release = await take();
    } catch (error) {
      const owner = (error as NodeJS.ErrnoException).code === 'ELOCKED' && readOwner(lockPath);
      if (!self || !owner || !ownerIsGone(owner, self)) throw error;
      logger.warn(`Taking over ${lockPath}: its owner (pid ${owner.pid}) no longer runs.`);
      rmSync(lockPath, { recursive: true, force: true });
      release = await take();
    }
    if (self) writeOwner(lockPath, self);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new DataDirLockedError(dataDir, lockPath, staleMs);
    }
    throw new DataDirError(dataDir, error);
  }
  return {
    release: async () => {
      try {
        await release();
        removeOwner(lockPath);
      } catch (error) {
        logger.warn(`Could not release the lock ${lockPath}: ${describeIoError(error)}`);
      }
    },
  };
}
