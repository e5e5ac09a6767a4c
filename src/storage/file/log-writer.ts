import { basename } from 'path';
import { performance } from 'perf_hooks';
import { Change, StorageUnavailableError } from '../storage.repository';
import { FileOps } from './file-ops';
import { FsyncPolicy, StorageLogger } from './file-storage-options';
import { RecordEncoder } from './record-codec';
import { describeIoError } from './storage-errors';

/** One log file being appended to. */
export interface LogSegment {
  readonly seq: number;
  readonly path: string;
  readonly fd: number;
  /** Bytes of whole records: where the next record goes. */
  size: number;
  /** Bytes known to be durable. */
  synced: number;
}

const EVERYSEC_INTERVAL_MS = 1000;

/**
 * Appends changes to the current log segment and makes them durable under the fsync policy.
 *
 * An append is one positional write(2) of the encoded records, done synchronously so that the
 * record is with the OS before the write resolves. A failed or short append is cut back off
 * with ftruncate before anything else is written, so the log never holds half a record in
 * the middle. A failed fsync is never retried: the kernel may have dropped the dirty pages,
 * so the writer refuses every later append until the process restarts and replays the log.
 *
 * Error messages name the log file but not DATA_DIR: they reach HTTP clients in 503 bodies.
 */
export class LogWriter {
  private readonly encoder = new RecordEncoder();
  private segment: LogSegment;
  private failure: string | undefined;
  /** Writers waiting for the next fsync (group commit: one sync covers all of them). */
  private pending: Batch | undefined;
  private syncing: Promise<void> | undefined;
  /** The final sync and close of segments that were rotated away; later syncs wait for it. */
  private retiring: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ops: FileOps,
    segment: LogSegment,
    policy: FsyncPolicy,
    private readonly logger: StorageLogger,
    private readonly onFsync?: (seconds: number) => void,
    /**
     * Asked before a sync is acknowledged: why the segment's file may no longer be where a
     * restart will look for it, or undefined. A reason fails the writer.
     */
    private readonly misplaced?: (segment: LogSegment) => string | undefined,
  ) {
    this.segment = segment;
    if (policy === 'everysec') {
      this.timer = setInterval(() => {
        const { size, synced } = this.segment;
        if (size > synced && !this.syncing && !this.failure) void this.sync();
      }, EVERYSEC_INTERVAL_MS);
      this.timer.unref();
    }
  }

  get current(): LogSegment {
    return this.segment;
  }

  /** Why appends are refused, or undefined while the writer works. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** Writes the changes as one append; throws StorageUnavailableError if they did not all get written. */
  append(changes: readonly Change[]): void {
    this.encodeAndWrite((encoder) => {
      for (const change of changes) encoder.change(change);
    });
  }

  /** Writes the changes as one unit record (a transaction), in one append. */
  appendUnit(changes: readonly Change[]): void {
    this.encodeAndWrite((encoder) => encoder.unit(changes));
  }

  private encodeAndWrite(encode: (encoder: RecordEncoder) => void): void {
    if (this.failure) throw new StorageUnavailableError(this.failure);
    const encoder = this.encoder;
    encoder.reset();
    try {
      encode(encoder);
    } catch (error) {
      throw new StorageUnavailableError(`The write was refused: ${(error as Error).message}.`);
    }
    const segment = this.segment;
    const length = encoder.length;
    let done = 0;
    try {
      while (done < length) {
        const wrote = this.ops.write(
          segment.fd,
          encoder.bytes,
          done,
          length - done,
          segment.size + done,
        );
        if (wrote <= 0) throw new Error(`the OS accepted ${wrote} bytes`);
        done += wrote;
      }
    } catch (error) {
      this.cutBack(segment, error);
      throw new StorageUnavailableError(
        `Could not append to the log ${basename(segment.path)}: ${describeIoError(error)}. The write was ` +
          'not applied; writes succeed again once the cause is fixed (for a full disk, free space).',
        { cause: error },
      );
    }
    segment.size += length;
  }

  /** Resolves once everything appended so far is durable. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(new StorageUnavailableError(this.failure));
    if (!this.pending) {
      this.pending = new Batch();
      // Started on a microtask so that writes made in the same tick share the sync.
      if (!this.syncing) queueMicrotask(() => this.startSync());
    }
    return this.pending.promise;
  }

  /** Continues in `next`; the current segment is synced and closed in the background. */
  rotate(next: LogSegment): void {
    const previous = this.segment;
    this.segment = next;
    this.retiring = Promise.all([this.retiring, this.syncing])
      .then(() => this.syncSegment(previous, previous.size))
      .catch(() => {
        // syncSegment has put the writer in the failed state and logged why.
      })
      .then(() => this.ops.close(previous.fd))
      .catch((error) =>
        this.logger.error(`Could not close ${previous.path}: ${describeIoError(error)}`),
      );
  }

  /** Refuses every later append with `reason` (first reason wins). */
  fail(reason: string): void {
    if (this.failure) return;
    this.failure = reason;
    this.logger.error(reason);
  }

  /** Syncs what was written (unless the writer failed) and closes the files. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      if (!this.failure) await this.sync();
    } finally {
      await this.syncing;
      await this.retiring;
      this.ops.close(this.segment.fd);
    }
  }

  private startSync(): void {
    const batch = this.pending;
    if (!batch || this.syncing) return;
    this.pending = undefined;
    const segment = this.segment;
    const end = segment.size;
    this.syncing = this.retiring
      .then(() => this.syncSegment(segment, end))
      .then(() => this.confirmInPlace(segment))
      .then(batch.resolve, batch.reject)
      .then(() => {
        this.syncing = undefined;
        this.startSync();
      });
  }

  private async syncSegment(segment: LogSegment, end: number): Promise<void> {
    if (this.failure) throw new StorageUnavailableError(this.failure);
    if (segment.synced >= end) return;
    const started = performance.now();
    try {
      await this.ops.datasync(segment.fd);
    } catch (error) {
      this.fail(
        `fsync of the log ${basename(segment.path)} failed: ${describeIoError(error)}. The OS may have ` +
          'dropped the data, so writes are refused until kvstore is restarted and replays the log.',
      );
      throw new StorageUnavailableError(this.failure!, { cause: error });
    }
    try {
      this.onFsync?.((performance.now() - started) / 1000);
    } catch (error) {
      // A broken metrics hook must not fail writes that are durable.
      this.logger.warn(`onFsync failed: ${(error as Error).message}`);
    }
    if (end > segment.synced) segment.synced = end;
  }

  /** A sync of a file nobody can reach any more (DATA_DIR removed) must not acknowledge writes. */
  private confirmInPlace(segment: LogSegment): void {
    const reason = this.misplaced?.(segment);
    if (reason === undefined) return;
    this.fail(reason);
    throw new StorageUnavailableError(this.failure!);
  }

  /** Removes a partial record so that the next append starts on a record boundary. */
  private cutBack(segment: LogSegment, cause: unknown): void {
    try {
      this.ops.truncate(segment.fd, segment.size);
    } catch (error) {
      this.fail(
        `Could not cut the log ${basename(segment.path)} back to ${segment.size} bytes after a failed ` +
          `append (${describeIoError(cause)}, then ${describeIoError(error)}). Writes are refused ` +
          'until kvstore is restarted; recovery will cut the partial record.',
      );
    }
  }
}

class Batch {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A sync nobody waits for (the everysec timer's) must not become an unhandled rejection.
    this.promise.catch(() => undefined);
  }
}
