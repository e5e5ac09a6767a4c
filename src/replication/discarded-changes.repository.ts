import { join } from 'node:path';
import { FileOps, nodeFileOps } from '../storage/file/file-ops';

/**
 * Where a deposed leader keeps the changes it discards before it follows the new leader: one
 * file per fencing in DATA_DIR, `discarded-revisions-<from>-to-<to>-<UTC time>.jsonl`, one
 * change per line (docs/REPLICATION.md, "Fencing"), for the operator to inspect or re-apply.
 */
export class DiscardedChangesRepository {
  constructor(
    private readonly dir: string,
    private readonly ops: FileOps = nodeFileOps,
  ) {}

  /**
   * Writes the lines durably (temporary file, fsync, rename, directory fsync, as every new
   * file in DATA_DIR) before resolving with the file's path: the data they came from is
   * replaced only afterwards.
   */
  async save(from: number, to: number, lines: readonly string[], now: number): Promise<string> {
    this.ops.mkdirp(this.dir);
    const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const path = join(this.dir, `discarded-revisions-${from}-to-${to}-${stamp}.jsonl`);
    const temporary = `${path}.tmp`;
    const fd = this.ops.open(temporary, 'wx');
    try {
      const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');
      for (let done = 0; done < bytes.length;) {
        done += await this.ops.writeAsync(fd, bytes, done, bytes.length - done, done);
      }
      await this.ops.datasync(fd);
    } finally {
      this.ops.close(fd);
    }
    this.ops.rename(temporary, path);
    await this.ops.syncDir(this.dir);
    return path;
  }
}
