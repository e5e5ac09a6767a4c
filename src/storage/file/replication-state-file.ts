import { join } from 'path';
import { FileOps } from './file-ops';

/** What the replication module records with the data in DATA_DIR (see docs/REPLICATION.md). */
export const REPLICATION_STATE_NAME = 'REPLICATION';
const TEMPORARY_NAME = `${REPLICATION_STATE_NAME}.tmp`;

/** The recorded state, or undefined when none was recorded (or a crash left only a temporary). */
export function readReplicationState(ops: FileOps, dir: string): string | undefined {
  if (!ops.readdir(dir).includes(REPLICATION_STATE_NAME)) return undefined;
  const fd = ops.open(join(dir, REPLICATION_STATE_NAME), 'r');
  try {
    const buffer = Buffer.alloc(ops.size(fd));
    for (let at = 0; at < buffer.length;) {
      const read = ops.read(fd, buffer, at, buffer.length - at, at);
      if (read === 0) break;
      at += read;
    }
    return buffer.toString('utf8');
  } finally {
    ops.close(fd);
  }
}

/** Replaces the state as new files are: write a temporary, sync it, rename, sync the directory. */
export async function writeReplicationState(
  ops: FileOps,
  dir: string,
  state: string,
): Promise<void> {
  const temporary = join(dir, TEMPORARY_NAME);
  if (ops.readdir(dir).includes(TEMPORARY_NAME)) await ops.unlink(temporary);
  const fd = ops.open(temporary, 'wx');
  try {
    const bytes = Buffer.from(state, 'utf8');
    for (let done = 0; done < bytes.length;) {
      done += ops.write(fd, bytes, done, bytes.length - done, done);
    }
    await ops.datasync(fd);
  } finally {
    ops.close(fd);
  }
  ops.rename(temporary, join(dir, REPLICATION_STATE_NAME));
  await ops.syncDir(dir);
}
