import { dirname, join } from 'path';
import { KeyTable } from '../key-table';
import { listDataFiles, logFileName } from './data-files';
import { FileOps } from './file-ops';
import { SnapshotWriter } from './snapshot-file';

/** The fresh store a rescue leaves: a snapshot of everything, and an empty log to append to. */
export interface RescuedStore {
  readonly seq: number;
  readonly logPath: string;
  /** Open for appending. */
  readonly logFd: number;
  readonly snapshotBytes: number;
}

/** Why a rescue will not write into the directory now at DATA_DIR. */
export class RescueRefusedError extends Error {}

/**
 * Writes the whole table into an empty DATA_DIR (the caller has re-created and locked it) as the
 * state a compaction leaves: `log-<seq>` (empty) and `snapshot-<seq>`, both durable, and the
 * directory's own entry in its parent too, since the directory itself is new. Writes are refused
 * meanwhile, so the table does not change under it.
 *
 * It only writes into a directory without log or snapshot files: one that holds some was not
 * written by this process since the removal (a restored backup, another process), and is left
 * as it is. A failed attempt removes what it wrote, so the next attempt finds the directory
 * empty again.
 */
export async function writeRescueSnapshot(
  ops: FileOps,
  dir: string,
  seq: number,
  table: KeyTable,
): Promise<RescuedStore> {
  refuseDataFiles(ops, dir);
  const logPath = join(dir, logFileName(seq));
  const logFd = ops.open(logPath, 'wx');
  const snapshot = new SnapshotWriter(ops, dir, seq, table.currentRevision);
  try {
    for (const entry of table.storedEntries()) {
      if (snapshot.add(entry)) await snapshot.flush();
    }
    await snapshot.seal();
    // The log exists before the snapshot becomes visible: recovery needs both.
    await snapshot.publish();
    await ops.syncDir(dirname(dir));
  } catch (error) {
    await snapshot.abandon();
    ops.close(logFd);
    await ops.unlink(snapshot.path).catch(() => undefined);
    await ops.unlink(logPath).catch(() => undefined);
    throw error;
  }
  return { seq, logPath, logFd, snapshotBytes: snapshot.bytes };
}

/**
 * Throws RescueRefusedError if `dir` holds log or snapshot files. Checked again under the lock by
 * writeRescueSnapshot; checking first spares a lock attempt every second while they stay.
 */
export function refuseDataFiles(ops: FileOps, dir: string): void {
  const found = listDataFiles(ops, dir);
  if (found.logs.length > 0 || found.snapshots.length > 0) {
    throw new RescueRefusedError(
      'DATA_DIR holds log or snapshot files again, which this process cannot tell from ' +
        "another's; they are left as they are. Restart kvstore to go on from them",
    );
  }
}
