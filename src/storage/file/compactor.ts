import { join } from 'path';
import { performance } from 'perf_hooks';
import { setImmediate as yieldToEventLoop } from 'timers/promises';
import { KeyTable } from '../key-table';
import { logFileName, snapshotFileName } from './data-files';
import { FileOps } from './file-ops';
import { StorageLogger } from './file-storage-options';
import { LogWriter } from './log-writer';
import { RecoveredStore } from './recover-store';
import { SnapshotWriter } from './snapshot-file';
import { describeIoError } from './storage-errors';

export interface CompactorContext {
  readonly ops: FileOps;
  readonly dir: string;
  readonly table: KeyTable;
  readonly writer: LogWriter;
  readonly logger: StorageLogger;
  readonly minBytes: number;
  readonly ratio: number;
}

class CompactionAborted extends Error {}

/**
 * Replaces the log with a snapshot of the live data, in the background (docs/STORAGE.md,
 * "Compaction", explains why a crash at any step loses nothing):
 *
 * 1. create log N+1 and sync the directory;
 * 2. in one synchronous step, note the store revision R and switch appends to log N+1;
 * 3. write every key created by R to `snapshot-(N+1).tmp` in slices, each written off the
 *    event loop so that requests run in between; a key changed meanwhile is written as it is now, and recovery skips the
 *    logged changes its entry already includes;
 * 4. sync the snapshot, then sync the log, so every change an entry shows is durable too;
 * 5. rename the snapshot into place and sync the directory;
 * 6. delete the logs before N+1 and the previous snapshot.
 */
export class Compactor {
  private running: Promise<void> | undefined;
  private closing = false;
  private snapshot: { seq: number; bytes: number } | undefined;
  /** Segments before the writer's current one that no snapshot replaces yet. */
  private older: { seq: number; size: number }[];
  private olderBytes: number;
  private threshold: number;

  constructor(
    private readonly context: CompactorContext,
    recovered: RecoveredStore,
  ) {
    this.snapshot = recovered.snapshot;
    this.older = recovered.logs.slice(0, -1);
    this.olderBytes = this.older.reduce((sum, log) => sum + log.size, 0);
    this.threshold = this.nextThreshold();
  }

  /** Bytes of log that the next compaction would replace. */
  logBytes(): number {
    return this.olderBytes + this.context.writer.current.size;
  }

  /** Starts a compaction in the background once the log outgrows the threshold; O(1). */
  maybeStart(): void {
    if (this.running || this.closing || this.logBytes() < this.threshold) return;
    this.run().catch(() => undefined);
  }

  /** Compacts now, or joins the compaction under way. Rejects (after logging) if it fails. */
  run(): Promise<void> {
    this.running ??= this.compact().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops a compaction under way at its next slice and waits for it. */
  async close(): Promise<void> {
    this.closing = true;
    await this.running?.catch(() => undefined);
  }

  /** Lets compaction start again after `close` (a full copy that was not loaded after all). */
  resume(): void {
    this.closing = false;
  }

  private async compact(): Promise<void> {
    const { ops, dir, table, writer, logger } = this.context;
    // Let the write that triggered compaction resolve first.
    await yieldToEventLoop();
    if (this.closing) return;
    const started = performance.now();
    const replacedBytes = this.logBytes();
    let snapshot: SnapshotWriter | undefined;
    try {
      const seq = writer.current.seq + 1;
      const path = join(dir, logFileName(seq));
      const fd = ops.open(path, 'wx');
      try {
        await ops.syncDir(dir);
        if (writer.failed) throw new Error(writer.failed);
      } catch (error) {
        ops.close(fd);
        await ops.unlink(path);
        throw error;
      }
      // No await between reading the revision and rotating: every change up to `revision` is
      // in the old segments, every later one in the new.
      const revision = table.currentRevision;
      const previous = writer.current;
      writer.rotate({ seq, path, fd, size: 0, synced: 0 });
      this.older.push({ seq: previous.seq, size: previous.size });
      this.olderBytes += previous.size;

      snapshot = new SnapshotWriter(ops, dir, seq, revision);
      for (const entry of table.storedEntries()) {
        // Keys are visited in creation order: the rest were created after the rotation.
        if (entry.createRevision > revision) break;
        if (snapshot.add(entry)) {
          await snapshot.flush();
          if (this.closing) throw new CompactionAborted();
        }
      }
      await snapshot.seal();
      await writer.sync();
      await snapshot.publish();
      await this.retire(seq, snapshot.bytes);
      logger.log(
        `Compacted ${dir}: ${snapshotFileName(seq)} (${snapshot.bytes} bytes) replaces ` +
          `${replacedBytes} bytes of log, in ${Math.round(performance.now() - started)} ms.`,
      );
    } catch (error) {
      await snapshot?.abandon();
      // Retry once the log has grown by another threshold, not on the very next write.
      this.threshold = this.logBytes() + this.nextThreshold();
      if (error instanceof CompactionAborted) return;
      const failure = new Error(`Compaction of ${dir} failed: ${describeIoError(error)}.`, {
        cause: error,
      });
      logger.error(`${failure.message} The log is intact; will retry once it has grown further.`);
      throw failure;
    }
  }

  /** Deletes what the new snapshot replaces; anything left behind is deleted at the next start. */
  private async retire(seq: number, bytes: number): Promise<void> {
    const { ops, dir, logger } = this.context;
    const obsolete = this.older.map((log) => logFileName(log.seq));
    if (this.snapshot) obsolete.push(snapshotFileName(this.snapshot.seq));
    this.snapshot = { seq, bytes };
    this.older = [];
    this.olderBytes = 0;
    this.threshold = this.nextThreshold();
    for (const name of obsolete) {
      try {
        await ops.unlink(join(dir, name));
      } catch (error) {
        logger.warn(`Could not delete ${join(dir, name)}: ${describeIoError(error)}`);
      }
    }
  }

  private nextThreshold(): number {
    return Math.max(this.context.minBytes, this.context.ratio * (this.snapshot?.bytes ?? 0));
  }
}
