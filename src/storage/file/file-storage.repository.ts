import { Logger } from '@nestjs/common';
import { basename, dirname, join, resolve } from 'path';
import { performance } from 'perf_hooks';
import { Clock } from '../../clock/clock';
import {
  Change,
  StorageHealth,
  StorageUnavailableError,
  StoreReplacement,
  Transaction,
  TxnOutcome,
  WriteCommand,
  WriteGuard,
  WriteOutcome,
} from '../storage.repository';
import { TableBackedRepository } from '../table-backed.repository';
import { Compactor } from './compactor';
import { DataDirLock, lockDataDir } from './data-dir-lock';
import { RescueRefusedError, refuseDataFiles, writeRescueSnapshot } from './data-dir-rescue';
import { listDataFiles, logFileName, snapshotFileName } from './data-files';
import { FileOps, nodeFileOps } from './file-ops';
import { FileStorageOptions, StorageLogger } from './file-storage-options';
import { LogSegment, LogWriter } from './log-writer';
import { RecoveredStore, recoverStore } from './recover-store';
import { readReplicationState, writeReplicationState } from './replication-state-file';
import { SnapshotWriter } from './snapshot-file';
import { DataDirError, DataDirLockedError, describeIoError } from './storage-errors';

/**
 * How often the store checks, when no sync does it first, that its log and lock are still in
 * DATA_DIR, and retries saving its data after they were not.
 */
const DATA_DIR_CHECK_MS = 1000;

/** The log or the lock is gone from DATA_DIR: writes are refused until the data is saved again. */
interface Detachment {
  readonly reason: string;
  /** Why the last attempt to save the data into a re-created DATA_DIR failed. */
  rescueFailure?: string;
}

/**
 * Keys in memory, made durable by a write-ahead log in DATA_DIR (docs/STORAGE.md).
 *
 * A write is planned against the table, appended to the log, and only then applied to memory,
 * all synchronously, so the guard check, the revision, the append and the apply are atomic with
 * respect to other writes, and a failed append leaves memory as it was.
 */
export class FileStorageRepository extends TableBackedRepository {
  private readonly ops: FileOps;
  private readonly logger: StorageLogger;
  private readonly dataDir: string;
  private lock: DataDirLock | undefined;
  private writer: LogWriter | undefined;
  private compactor: Compactor | undefined;
  private closed: Promise<void> | undefined;
  private detached: Detachment | undefined;
  private rescuing: Promise<void> | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  /** What replicationState() answers, as read from DATA_DIR at open or last saved. */
  private state: string | undefined;
  /** The sequence number of the last log segment this process wrote. */
  private lastSeq = 0;

  constructor(
    private readonly options: FileStorageOptions,
    private readonly clock: Clock,
    logger?: StorageLogger,
  ) {
    super(clock, options.maxDataBytes);
    this.ops = options.fileOps ?? nodeFileOps;
    this.logger = logger ?? new Logger(FileStorageRepository.name);
    this.dataDir = resolve(options.dataDir);
  }

  async open(): Promise<void> {
    const started = performance.now();
    const { ops, dataDir, table, logger } = this;
    try {
      ops.mkdirp(dataDir);
    } catch (error) {
      throw new DataDirError(dataDir, error);
    }
    const lock = await lockDataDir(dataDir);
    this.lock = lock;
    try {
      const recovered = await recoverStore({
        ops,
        dir: dataDir,
        table,
        truncateCorrupt: this.options.truncateCorrupt,
        logger,
        now: this.clock.now(),
      });
      this.state = readReplicationState(ops, dataDir);
      const last = recovered.logs[recovered.logs.length - 1];
      const path = join(dataDir, logFileName(last.seq));
      const writer = this.startWriting(
        { seq: last.seq, path, fd: ops.open(path, 'r+'), size: last.size, synced: 0 },
        recovered,
      );
      // What the previous process wrote is durable before anything new is acknowledged.
      await writer.sync();
      if (recovered.snapshotCut) await this.compactor!.run();
      const stats = table.stats();
      const { usedBytes, maxBytes } = table.dataUsage();
      logger.log(
        `Opened ${dataDir} at revision ${stats.revision}: ${stats.storedKeys} keys ` +
          `(${usedBytes} bytes of data), ${recovered.replayedRecords} log records replayed, ` +
          `in ${Math.round(performance.now() - started)} ms.`,
      );
      if (usedBytes > maxBytes) {
        logger.warn(
          `The data (${usedBytes} bytes) is over MAX_DATA_BYTES (${maxBytes}): reads and ` +
            'deletes work, and writes that would add data are refused until keys are deleted.',
        );
      }
    } catch (error) {
      await this.writer?.close().catch(() => undefined);
      this.writer = undefined;
      this.compactor = undefined;
      this.lock = undefined;
      lock.release();
      // A plain I/O error (EACCES, EIO...) while reading DATA_DIR is reported against it.
      const errno = typeof (error as NodeJS.ErrnoException).code === 'string';
      throw errno ? new DataDirError(dataDir, error) : error;
    }
    this.checkTimer = setInterval(() => this.checkDataDir(), DATA_DIR_CHECK_MS);
    this.checkTimer.unref();
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  async write(command: WriteCommand, guard?: WriteGuard): Promise<WriteOutcome> {
    const writer = this.writableLog();
    const plan = this.table.planWrite(command, guard);
    if (!plan.ok) return plan;
    writer.append(plan.changes);
    for (const change of plan.changes) this.table.apply(change);
    const outcome: WriteOutcome = {
      ok: true,
      changes: plan.changes,
      entry: this.table.live(command.key) ?? null,
      revision: this.table.currentRevision,
    };
    this.compactor!.maybeStart();
    if (this.options.fsync === 'always') await writer.sync();
    return outcome;
  }

  async transact(transaction: Transaction): Promise<TxnOutcome> {
    const outcome = this.table.planTransaction(transaction);
    // A transaction that only reads is answered even while writes are refused, as get() is.
    if (outcome.changes.length === 0) return outcome;
    await this.commitUnit(this.writableLog(), outcome.changes);
    return outcome;
  }

  async applyChanges(changes: readonly Change[]): Promise<void> {
    const writer = this.writableLog();
    this.table.checkContinues(changes);
    if (changes.length > 0) await this.commitUnit(writer, changes);
  }

  async expireDue(limit: number): Promise<Change[]> {
    const writer = this.writableLog();
    const changes = this.table.takeDueExpiries(limit);
    if (changes.length === 0) return changes;
    try {
      writer.append(changes);
    } catch (error) {
      this.table.requeueExpiries(changes);
      throw error;
    }
    for (const change of changes) this.table.apply(change);
    this.compactor!.maybeStart();
    if (this.options.fsync === 'always') await writer.sync();
    return changes;
  }

  /**
   * Writes the copy as `snapshot-N.tmp` (N the next log sequence) while reads use the old data;
   * `commit` creates the empty `log-N`, renames the snapshot into place (from then on a restart
   * finds the copy), switches the table and the log, records `state`, and deletes the old files.
   * A crash before the rename leaves the old data as it was (recovery removes the temporary).
   * Compaction is paused meanwhile, since it would take the sequence number N.
   */
  async replaceAll(revision: number): Promise<StoreReplacement> {
    const writer = this.writableLog();
    const compactor = this.compactor!;
    await compactor.close();
    const { ops, dataDir } = this;
    const seq = writer.current.seq + 1;
    let snapshot: SnapshotWriter;
    try {
      snapshot = new SnapshotWriter(ops, dataDir, seq, revision);
    } catch (error) {
      compactor.resume();
      throw error;
    }
    const table = this.newTable();
    let finished = false;
    const finish = () => {
      if (finished) throw new Error('The replacement was already committed or aborted');
      finished = true;
    };
    return {
      add: async (entry) => {
        table.load(entry);
        if (snapshot.add(entry)) await snapshot.flush();
      },
      commit: async (state) => {
        finish();
        const path = join(dataDir, logFileName(seq));
        let fd: number | undefined;
        try {
          await snapshot.seal();
          fd = ops.open(path, 'wx');
          // The log exists before the snapshot becomes visible: recovery needs both.
          await ops.syncDir(dataDir);
          await snapshot.publish();
        } catch (error) {
          await snapshot.abandon();
          if (fd !== undefined) {
            ops.close(fd);
            await ops.unlink(path).catch(() => undefined);
          }
          compactor.resume();
          throw error;
        }
        table.advanceRevision(revision);
        this.table = table;
        const previous = this.writer!;
        this.startWriting(
          { seq, path, fd, size: 0, synced: 0 },
          {
            snapshot: { seq, bytes: snapshot.bytes },
            logs: [{ seq, size: 0 }],
            snapshotCut: false,
            replayedRecords: 0,
          },
        );
        await previous.close().catch(() => undefined);
        await this.saveReplicationState(state);
        await this.removeFilesBefore(seq);
      },
      abort: async () => {
        if (finished) return;
        finished = true;
        await snapshot.abandon();
        compactor.resume();
      },
    };
  }

  replicationState(): string | undefined {
    return this.state;
  }

  async saveReplicationState(state: string): Promise<void> {
    await writeReplicationState(this.ops, this.dataDir, state);
    this.state = state;
  }

  /** Bytes of log written since the last snapshot: what compaction would replace. */
  logBytes(): number {
    return this.compactor?.logBytes() ?? 0;
  }

  /** For the readiness probe: false while writes are refused, with the reason. */
  health(): StorageHealth {
    const reason = this.refusal();
    return reason === undefined ? { writable: true } : { writable: false, reason };
  }

  /** Compacts the log now (or joins the compaction under way). */
  compact(): Promise<void> {
    if (!this.compactor) return Promise.reject(new StorageUnavailableError(this.refusal()!));
    return this.compactor.run();
  }

  /** Logs the changes as one record (one checksum: all or none after a crash), then applies them. */
  private async commitUnit(writer: LogWriter, changes: readonly Change[]): Promise<void> {
    writer.appendUnit(changes);
    for (const change of changes) this.table.apply(change);
    this.compactor!.maybeStart();
    if (this.options.fsync === 'always') await writer.sync();
  }

  private writableLog(): LogWriter {
    const reason = this.refusal();
    if (reason !== undefined) throw new StorageUnavailableError(reason);
    return this.writer!;
  }

  private refusal(): string | undefined {
    if (this.closed) return 'The store is closed.';
    if (this.detached) {
      const { reason, rescueFailure } = this.detached;
      return rescueFailure === undefined
        ? `${reason} Writes are refused while the data held in memory is saved into a ` +
            're-created DATA_DIR; they resume once it is durable there.'
        : `${reason} Saving the data held in memory into a re-created DATA_DIR failed ` +
            `(${rescueFailure}); retrying every ${DATA_DIR_CHECK_MS / 1000} s, writes are ` +
            'refused until it succeeds.';
    }
    if (!this.writer) return 'The store is not open.';
    return this.writer.failed;
  }

  private startWriting(segment: LogSegment, recovered: RecoveredStore): LogWriter {
    const { ops, dataDir, table, logger, options } = this;
    this.lastSeq = segment.seq;
    this.writer = new LogWriter(ops, segment, options.fsync, logger, options.onFsync, (synced) =>
      this.misplaced(synced),
    );
    this.compactor = new Compactor(
      {
        ops,
        dir: dataDir,
        table,
        writer: this.writer,
        logger,
        minBytes: options.compactMinBytes,
        ratio: options.compactRatio,
      },
      recovered,
    );
    return this.writer;
  }

  /**
   * Why the log segment or the lock is no longer where a restart will find it, or undefined.
   * Checked before every group commit is acknowledged and once a second; finding either gone
   * starts the rescue.
   */
  private misplaced(segment: LogSegment): string | undefined {
    if (this.detached) return this.detached.reason;
    let reason: string | undefined;
    if (!this.ops.sameFile(segment.fd, segment.path)) {
      reason =
        `The log ${basename(segment.path)} is no longer in DATA_DIR (the directory or the file ` +
        'was removed or replaced), so a restart would not find the writes made to it.';
    } else if (!this.lock?.isInPlace()) {
      reason =
        'The lock file DATA_DIR/LOCK was removed or replaced, so another process could take ' +
        'the directory.';
    }
    if (reason === undefined) return undefined;
    this.detached = { reason };
    this.writer?.fail(reason);
    void this.rescue();
    return reason;
  }

  private checkDataDir(): void {
    if (this.detached) void this.rescue();
    else if (this.writer && !this.writer.failed) this.misplaced(this.writer.current);
  }

  /** Saves the table into a re-created DATA_DIR (or joins the attempt under way). */
  private rescue(): Promise<void> {
    this.rescuing ??= this.saveIntoNewDataDir().finally(() => {
      this.rescuing = undefined;
    });
    return this.rescuing;
  }

  /**
   * Rather than keep acknowledging writes nobody will find, or lose at the next start what memory
   * holds, the store writes everything it holds as a snapshot into a re-created, re-locked
   * DATA_DIR as soon as it notices, and takes writes again: a restart then finds every write
   * ever acknowledged. Waiting for SIGTERM would leave the data in memory only until then, lost
   * to any crash.
   */
  private async saveIntoNewDataDir(): Promise<void> {
    const detached = this.detached;
    if (!detached) return;
    const { ops, dataDir, logger, table } = this;
    await this.compactor?.close();
    this.compactor = undefined;
    await this.writer?.close().catch(() => undefined);
    this.writer = undefined;
    if (this.lock && !this.lock.isInPlace()) {
      this.lock.release();
      this.lock = undefined;
    }
    let lock = this.lock;
    try {
      // DATA_DIR itself, not its parents: a missing parent means more went away (a volume) than
      // a mistaken rm, and a directory made in its place would not be where the data belongs.
      ops.readdir(dirname(dataDir));
      ops.mkdirp(dataDir);
      refuseDataFiles(ops, dataDir);
      lock ??= await lockDataDir(dataDir);
      const rescued = await writeRescueSnapshot(ops, dataDir, this.lastSeq + 1, table);
      this.lock = lock;
      this.startWriting(
        { seq: rescued.seq, path: rescued.logPath, fd: rescued.logFd, size: 0, synced: 0 },
        {
          snapshot: { seq: rescued.seq, bytes: rescued.snapshotBytes },
          logs: [{ seq: rescued.seq, size: 0 }],
          snapshotCut: false,
          replayedRecords: 0,
        },
      );
      this.detached = undefined;
      logger.warn(
        `${detached.reason} Saved the ${table.stats().storedKeys} keys held in memory, at ` +
          `revision ${table.currentRevision}, into the re-created DATA_DIR ${dataDir}; writes resume.`,
      );
    } catch (error) {
      if (lock && lock !== this.lock) lock.release();
      const failure = describeRescueFailure(error);
      if (failure !== detached.rescueFailure) {
        logger.error(
          `Could not save the data held in memory into DATA_DIR ${dataDir}: ` +
            `${describeIoError(error)}. Retrying every ${DATA_DIR_CHECK_MS / 1000} s.`,
        );
      }
      detached.rescueFailure = failure;
    }
  }

  /** Deletes what a loaded copy replaced; anything left behind is deleted at the next start. */
  private async removeFilesBefore(seq: number): Promise<void> {
    const files = listDataFiles(this.ops, this.dataDir);
    const names = [
      ...files.logs.filter((at) => at < seq).map(logFileName),
      ...files.snapshots.filter((at) => at < seq).map(snapshotFileName),
    ];
    for (const name of names) {
      await this.ops.unlink(join(this.dataDir, name)).catch((error: unknown) => {
        this.logger.warn(`Could not delete ${name}: ${describeIoError(error)}`);
      });
    }
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.checkTimer);
    try {
      // A removal since the last check must not be acknowledged by the final sync either.
      if (this.writer && !this.writer.failed) this.misplaced(this.writer.current);
      await this.rescuing;
      if (this.detached) await this.rescue();
      if (this.detached) {
        this.logger.error(
          `Closing with the data held in memory not saved: ${this.detached.rescueFailure}.`,
        );
      }
      await this.compactor?.close();
      await this.writer?.close();
    } finally {
      this.lock?.release();
    }
  }
}

/** Short enough for a 503 body and the readiness probe, which must not name DATA_DIR's path. */
function describeRescueFailure(error: unknown): string {
  if (error instanceof RescueRefusedError) return error.message;
  if (error instanceof DataDirLockedError) return 'another kvstore process holds DATA_DIR now';
  if (error instanceof DataDirError && error.cause !== undefined) {
    return describeRescueFailure(error.cause);
  }
  const code = (error as NodeJS.ErrnoException).code;
  // Node's errno messages end with the path ("..., mkdir '/data'"); a foreign realm's error
  // (a test runner's) stringifies with an "Error: " prefix.
  if (typeof code === 'string') {
    return describeIoError(error)
      .replace(/^Error: /, '')
      .replace(/,? '.*'$/, '');
  }
  return error instanceof Error ? error.message : String(error);
}
