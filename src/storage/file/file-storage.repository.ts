import { Logger } from '@nestjs/common';
import { join, resolve } from 'path';
import { performance } from 'perf_hooks';
import { Clock } from '../../clock/clock';
import {
  Change,
  StorageHealth,
  StorageUnavailableError,
  WriteCommand,
  WriteGuard,
  WriteOutcome,
} from '../storage.repository';
import { TableBackedRepository } from '../table-backed.repository';
import { Compactor } from './compactor';
import { DataDirLock, lockDataDir } from './data-dir-lock';
import { logFileName } from './data-files';
import { FileOps, nodeFileOps } from './file-ops';
import { FileStorageOptions, StorageLogger } from './file-storage-options';
import { LogWriter } from './log-writer';
import { recoverStore } from './recover-store';
import { DataDirError } from './storage-errors';

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

  constructor(
    private readonly options: FileStorageOptions,
    private readonly clock: Clock,
    logger?: StorageLogger,
  ) {
    super(clock);
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
    const lock = await lockDataDir(dataDir, logger, (reason) =>
      this.writer?.fail(
        `${reason} Another process may be using the directory, so writes are refused.`,
      ),
    );
    try {
      const recovered = await recoverStore({
        ops,
        dir: dataDir,
        table,
        truncateCorrupt: this.options.truncateCorrupt,
        logger,
        now: this.clock.now(),
      });
      const last = recovered.logs[recovered.logs.length - 1];
      const path = join(dataDir, logFileName(last.seq));
      const fd = ops.open(path, 'r+');
      this.writer = new LogWriter(
        ops,
        { seq: last.seq, path, fd, size: last.size, synced: 0 },
        this.options.fsync,
        logger,
        this.options.onFsync,
      );
      // What the previous process wrote is durable before anything new is acknowledged.
      await this.writer.sync();
      this.compactor = new Compactor(
        {
          ops,
          dir: dataDir,
          table,
          writer: this.writer,
          logger,
          minBytes: this.options.compactMinBytes,
          ratio: this.options.compactRatio,
        },
        recovered,
      );
      if (recovered.snapshotCut) await this.compactor.run();
      const stats = table.stats();
      logger.log(
        `Opened ${dataDir} at revision ${stats.revision}: ${stats.storedKeys} keys, ` +
          `${recovered.replayedRecords} log records replayed, in ${Math.round(performance.now() - started)} ms.`,
      );
    } catch (error) {
      await this.writer?.close().catch(() => undefined);
      this.writer = undefined;
      this.compactor = undefined;
      await lock.release();
      // A plain I/O error (EACCES, EIO...) while reading DATA_DIR is reported against it.
      const errno = typeof (error as NodeJS.ErrnoException).code === 'string';
      throw errno ? new DataDirError(dataDir, error) : error;
    }
    this.lock = lock;
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

  /** Bytes of log written since the last snapshot: what compaction would replace. */
  logBytes(): number {
    return this.compactor?.logBytes() ?? 0;
  }

  /** For the readiness probe: false once writes are refused until restart. */
  health(): StorageHealth {
    const reason = this.refusal();
    return reason === undefined ? { writable: true } : { writable: false, reason };
  }

  /** Compacts the log now (or joins the compaction under way). */
  compact(): Promise<void> {
    if (!this.compactor) return Promise.reject(new StorageUnavailableError(this.refusal()!));
    return this.compactor.run();
  }

  private writableLog(): LogWriter {
    const reason = this.refusal();
    if (reason !== undefined) throw new StorageUnavailableError(reason);
    return this.writer!;
  }

  private refusal(): string | undefined {
    if (this.closed) return 'The store is closed.';
    if (!this.writer) return 'The store is not open.';
    return this.writer.failed;
  }

  private async shutdown(): Promise<void> {
    try {
      await this.compactor?.close();
      await this.writer?.close();
    } finally {
      await this.lock?.release();
    }
  }
}
