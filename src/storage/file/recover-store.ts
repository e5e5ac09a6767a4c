import { basename, join } from 'path';
import { KeyTable } from '../key-table';
import { Change } from '../storage.repository';
import { FileOps } from './file-ops';
import { corruptCopyPath, listDataFiles, logFileName, snapshotFileName } from './data-files';
import { StorageLogger } from './file-storage-options';
import { RecordFormatError, decodeLogRecord, isLogRecordType } from './record-codec';
import { RecordReader } from './record-reader';
import { readSnapshot } from './snapshot-file';
import { StorageCorruptError } from './storage-errors';

export interface RecoveryContext {
  readonly ops: FileOps;
  readonly dir: string;
  readonly table: KeyTable;
  readonly truncateCorrupt: boolean;
  readonly logger: StorageLogger;
  /** Epoch ms, for naming the copies of cut data. */
  readonly now: number;
}

export interface RecoveredStore {
  readonly snapshot: { readonly seq: number; readonly bytes: number } | undefined;
  /** The live log segments in order; the next record is appended to the last. */
  readonly logs: readonly { readonly seq: number; readonly size: number }[];
  /** The snapshot was cut by truncateCorrupt: a fresh one must replace it. */
  readonly snapshotCut: boolean;
  readonly replayedRecords: number;
}

const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Rebuilds the table from DATA_DIR: the newest snapshot, then every log segment from the
 * snapshot's sequence on, then forgets keys that expired while the store was closed.
 *
 * A bad record with nothing valid after it (in its file or any later one) is a write torn by a
 * crash: the file is cut there, with a warning, as Redis's aof-load-truncated does. Anything
 * else is damage, and the start is refused unless the operator asked for `truncateCorrupt`.
 *
 * Compaction snapshots the table while writes continue, so an entry may already include changes
 * logged after the snapshot's revision. Replay skips a key's changes up to the modRevision its
 * snapshot entry carries: applying a TTL change twice would count its version twice.
 */
export async function recoverStore(context: RecoveryContext): Promise<RecoveredStore> {
  const { ops, dir, table } = context;
  const files = listDataFiles(ops, dir);
  for (const name of files.temporary) await ops.unlink(join(dir, name));

  const snapshotSeq = files.snapshots.at(-1);
  const aheadOfSnapshot = new Map<string, number>();
  let snapshot: RecoveredStore['snapshot'];
  let snapshotCut = false;
  /** The revision the snapshot was started at: the log continues from there. */
  let snapshotRevision = 0;
  /** The highest revision the snapshot shows, which may be later (see above). */
  let revision = 0;
  if (snapshotSeq !== undefined) {
    const loaded = readSnapshot(ops, dir, snapshotSeq, (entry, startedAt) => {
      table.loadSized(entry, entry.keyBytes, entry.valueBytes);
      const { key, modRevision } = entry;
      if (modRevision > startedAt) aheadOfSnapshot.set(key, modRevision);
      if (modRevision > revision) revision = modRevision;
    });
    if (loaded.damage) {
      await cutSnapshot(context, snapshotSeq, loaded.entries, loaded.damage);
      snapshotCut = true;
    }
    snapshotRevision = loaded.revision;
    snapshot = { seq: snapshotSeq, bytes: loaded.bytes };
  }

  const firstSeq = snapshotSeq ?? 1;
  const seqs = files.logs.filter((seq) => seq >= firstSeq);
  seqs.forEach((seq, i) => {
    if (seq !== firstSeq + i) throw missingLog(dir, firstSeq + i);
  });
  if (seqs.length === 0 && snapshotSeq !== undefined) throw missingLog(dir, snapshotSeq);

  const replay = new LogReplay(context, aheadOfSnapshot, snapshotRevision);
  const logs: { seq: number; size: number }[] = [];
  for (let i = 0; i < seqs.length; i++) {
    const size = await replay.run(seqs[i], seqs.slice(i + 1));
    logs.push({ seq: seqs[i], size });
    if (replay.stopped) break;
  }
  table.advanceRevision(Math.max(snapshotRevision, revision, replay.lastRevision));
  table.finishRecovery();

  if (logs.length === 0) logs.push({ seq: firstSeq, size: createLog(ops, dir, firstSeq) });
  for (const seq of files.logs) {
    if (seq < firstSeq) await ops.unlink(join(dir, logFileName(seq)));
  }
  for (const seq of files.snapshots) {
    if (seq < firstSeq) await ops.unlink(join(dir, snapshotFileName(seq)));
  }
  await ops.syncDir(dir);
  return { snapshot, logs, snapshotCut, replayedRecords: replay.records };
}

/** Replays log segments in order, remembering where the revisions stand. */
class LogReplay {
  records = 0;
  /** Set once a defect was cut: later segments were removed or moved aside. */
  stopped = false;

  constructor(
    private readonly context: RecoveryContext,
    private readonly aheadOfSnapshot: Map<string, number>,
    public lastRevision: number,
  ) {}

  /** Replays one segment; returns its size once any defect has been dealt with. */
  async run(seq: number, laterSeqs: readonly number[]): Promise<number> {
    const { ops, dir } = this.context;
    const path = join(dir, logFileName(seq));
    const fd = ops.open(path, 'r+');
    try {
      const reader = new RecordReader(ops, fd, ops.size(fd));
      for (let offset = 0; offset < reader.size;) {
        const frame = reader.frameAt(offset);
        if (!frame.ok) {
          const torn =
            !reader.hasRecordAfter(offset) && !laterSeqs.some((later) => this.hasRecords(later));
          return await this.cut(fd, path, offset, frame.reason, torn, laterSeqs);
        }
        let changes: Change[];
        try {
          if (!isLogRecordType(frame.type)) {
            throw new RecordFormatError(`record type ${frame.type} does not belong in a log`);
          }
          changes = decodeLogRecord(frame.type, frame.payload);
          if (changes[0].revision <= this.lastRevision) {
            throw new RecordFormatError(
              `revision ${changes[0].revision} does not follow revision ${this.lastRevision}`,
            );
          }
        } catch (error) {
          if (!(error instanceof RecordFormatError)) throw error;
          return await this.cut(fd, path, offset, error.message, false, laterSeqs);
        }
        // A unit is decoded whole before any of it is applied: all of it or none.
        this.records++;
        for (const change of changes) this.apply(change);
        offset = frame.end;
      }
      return reader.size;
    } finally {
      ops.close(fd);
    }
  }

  private apply(change: Change): void {
    this.lastRevision = change.revision;
    const ahead = this.aheadOfSnapshot.get(change.key);
    if (ahead !== undefined) {
      if (change.revision <= ahead) return;
      this.aheadOfSnapshot.delete(change.key);
    }
    this.context.table.apply(change);
  }

  private hasRecords(seq: number): boolean {
    const { ops, dir } = this.context;
    const fd = ops.open(join(dir, logFileName(seq)), 'r');
    try {
      const reader = new RecordReader(ops, fd, ops.size(fd));
      return reader.size > 0 && (reader.frameAt(0).ok || reader.hasRecordAfter(0));
    } finally {
      ops.close(fd);
    }
  }

  /** Ends the log at `offset`: a torn tail is cut, damage is refused or cut on request. */
  private async cut(
    fd: number,
    path: string,
    offset: number,
    reason: string,
    torn: boolean,
    laterSeqs: readonly number[],
  ): Promise<number> {
    const { ops, dir, logger, truncateCorrupt, now } = this.context;
    this.stopped = true;
    if (torn) {
      logger.warn(
        `The log ${path} ends with an incomplete record at byte offset ${offset} (${reason}): ` +
          `a crash interrupted the last append. Cutting the file to ${offset} bytes.`,
      );
      ops.truncate(fd, offset);
      await ops.datasync(fd);
      // Later files hold no valid record (that is what makes this a torn write): drop them.
      for (const later of laterSeqs) await ops.unlink(join(dir, logFileName(later)));
      return offset;
    }
    if (!truncateCorrupt) {
      throw new StorageCorruptError(
        `The log ${path} is damaged at byte offset ${offset} (${reason}), and this is not a ` +
          'torn final write. kvstore will not start rather than drop the records after it. To ' +
          'recover, restore DATA_DIR from a backup, or start once with RECOVER_TRUNCATE=true ' +
          `to cut the log at byte ${offset}: the changes after it are lost, and the bytes cut ` +
          `are kept in ${basename(path)}.corrupt-<timestamp> (with any later log files).`,
        path,
        offset,
      );
    }
    const copy = corruptCopyPath(ops, dir, basename(path), now);
    await copyRange(ops, fd, offset, ops.size(fd), copy);
    ops.truncate(fd, offset);
    await ops.datasync(fd);
    for (const later of laterSeqs) {
      const name = logFileName(later);
      ops.rename(join(dir, name), corruptCopyPath(ops, dir, name, now));
    }
    logger.warn(
      `RECOVER_TRUNCATE: cut the damaged log ${path} at byte offset ${offset} (${reason}); ` +
        `the bytes cut are in ${copy}` +
        (laterSeqs.length > 0
          ? `, and ${laterSeqs.length} later log file(s) were moved aside.`
          : '.'),
    );
    return offset;
  }
}

/** A damaged snapshot is refused, or with truncateCorrupt kept as a copy and used up to the damage. */
async function cutSnapshot(
  context: RecoveryContext,
  seq: number,
  entries: number,
  damage: { readonly offset: number; readonly reason: string },
): Promise<void> {
  const { ops, dir, logger, truncateCorrupt, now } = context;
  const name = snapshotFileName(seq);
  const path = join(dir, name);
  if (!truncateCorrupt) {
    throw new StorageCorruptError(
      `The snapshot ${path} is damaged at byte offset ${damage.offset} (${damage.reason}). ` +
        'Snapshots are synced before they are renamed into place, so this is damage on disk, ' +
        'not an interrupted write; kvstore will not start. To recover, restore DATA_DIR from a ' +
        `backup, or start once with RECOVER_TRUNCATE=true to keep the ${entries} entries ` +
        `before the damage (the rest are lost; the file is kept as ${name}.corrupt-<timestamp>).`,
      path,
      damage.offset,
    );
  }
  const copy = corruptCopyPath(ops, dir, name, now);
  const fd = ops.open(path, 'r');
  try {
    await copyRange(ops, fd, 0, ops.size(fd), copy);
  } finally {
    ops.close(fd);
  }
  logger.warn(
    `RECOVER_TRUNCATE: the snapshot ${path} is damaged at byte offset ${damage.offset} ` +
      `(${damage.reason}); kept the ${entries} entries before it, copied the file to ${copy}, ` +
      'and will write a fresh snapshot.',
  );
}

function missingLog(dir: string, seq: number): StorageCorruptError {
  const path = join(dir, logFileName(seq));
  return new StorageCorruptError(
    `The log ${path} is missing: the files in DATA_DIR ${dir} do not form an unbroken ` +
      'sequence, so changes would be lost. Restore DATA_DIR from a backup.',
    path,
    0,
  );
}

function createLog(ops: FileOps, dir: string, seq: number): number {
  ops.close(ops.open(join(dir, logFileName(seq)), 'wx'));
  return 0;
}

/** Copies bytes `[start, end)` of an open file to a new, synced file. */
async function copyRange(
  ops: FileOps,
  fd: number,
  start: number,
  end: number,
  to: string,
): Promise<void> {
  const out = ops.open(to, 'wx');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK_BYTES, Math.max(end - start, 1)));
    for (let at = start; at < end;) {
      const read = ops.read(fd, buffer, 0, Math.min(buffer.length, end - at), at);
      if (read === 0) break;
      for (let done = 0; done < read;) {
        done += ops.write(out, buffer, done, read - done, at - start + done);
      }
      at += read;
    }
    await ops.datasync(out);
  } finally {
    ops.close(out);
  }
}
