import { join } from 'path';
import { SnapshotEntry } from '../storage.repository';
import { FileOps } from './file-ops';
import { snapshotFileName, temporarySnapshotName } from './data-files';
import {
  DecodedPut,
  RecordEncoder,
  RecordFormatError,
  RecordType,
  decodeChange,
  decodePut,
  decodeSnapshotEnd,
  decodeSnapshotHeader,
} from './record-codec';
import { RecordReader } from './record-reader';

/** Entries are written out whenever this much is buffered: about 1 ms of encoding. */
const FLUSH_BYTES = 128 * 1024;

/**
 * A snapshot is a header record (format version, store revision, log sequence), one put record
 * per stored key in insertion order, and an end record with the count. A snapshot is written to
 * a temporary name, synced, and only then renamed into place (see `seal` and `publish`), so one
 * that lacks its end record was damaged after the fact, never torn by a crash.
 */
export class SnapshotWriter {
  private readonly encoder = new RecordEncoder();
  private readonly temporaryPath: string;
  private readonly fd: number;
  private written = 0;
  private entries = 0;
  private open = true;

  constructor(
    private readonly ops: FileOps,
    private readonly dir: string,
    readonly seq: number,
    revision: number,
  ) {
    this.temporaryPath = join(dir, temporarySnapshotName(seq));
    this.fd = ops.open(this.temporaryPath, 'wx');
    this.encoder.snapshotHeader(revision, seq);
  }

  get path(): string {
    return join(this.dir, snapshotFileName(this.seq));
  }

  get bytes(): number {
    return this.written + this.encoder.length;
  }

  /** Buffers one entry; returns true when the caller should `flush`, which lets requests run. */
  add(entry: SnapshotEntry): boolean {
    this.encoder.change({
      op: 'put',
      revision: entry.modRevision,
      key: entry.key,
      value: entry.value,
      expiresAt: entry.expiresAt,
      createRevision: entry.createRevision,
      version: entry.version,
    });
    this.entries++;
    return this.encoder.length >= FLUSH_BYTES;
  }

  /** Writes what is buffered, off the event loop. */
  async flush(): Promise<void> {
    const { bytes, length } = this.encoder;
    for (let done = 0; done < length;) {
      const wrote = await this.ops.writeAsync(
        this.fd,
        bytes,
        done,
        length - done,
        this.written + done,
      );
      if (wrote <= 0) throw new Error(`short write to ${this.temporaryPath}`);
      done += wrote;
    }
    this.written += length;
    this.encoder.reset();
  }

  /** Writes the end record and makes the temporary file durable. */
  async seal(): Promise<void> {
    this.encoder.snapshotEnd(this.entries);
    await this.flush();
    await this.ops.datasync(this.fd);
    this.closeFile();
  }

  /** Renames the sealed file into place and makes the rename durable. */
  async publish(): Promise<void> {
    this.ops.rename(this.temporaryPath, this.path);
    await this.ops.syncDir(this.dir);
  }

  /** Removes the temporary file after a failure; best effort, the next start removes leftovers. */
  async abandon(): Promise<void> {
    try {
      this.closeFile();
      await this.ops.unlink(this.temporaryPath);
    } catch {
      // Nothing more to do: recovery deletes *.tmp files.
    }
  }

  private closeFile(): void {
    if (!this.open) return;
    this.open = false;
    this.ops.close(this.fd);
  }
}

export interface LoadedSnapshot {
  /** Store revision the snapshot was started at; 0 if its header is damaged. */
  readonly revision: number;
  readonly entries: number;
  readonly bytes: number;
  /** Set when the file is damaged: where, and why. Entries before it were loaded. */
  readonly damage?: { readonly offset: number; readonly reason: string };
}

/**
 * Reads snapshot `seq` front to back, handing each entry to `onEntry` along with the revision
 * the snapshot was started at. The entry is one object refilled for every record: `onEntry`
 * copies what it keeps.
 */
export function readSnapshot(
  ops: FileOps,
  dir: string,
  seq: number,
  onEntry: (entry: DecodedPut, snapshotRevision: number) => void,
): LoadedSnapshot {
  const fd = ops.open(join(dir, snapshotFileName(seq)), 'r');
  try {
    const reader = new RecordReader(ops, fd, ops.size(fd));
    const entry = new DecodedPut();
    let revision = 0;
    let entries = 0;
    const damaged = (offset: number, reason: string): LoadedSnapshot => ({
      revision,
      entries,
      bytes: reader.size,
      damage: { offset, reason },
    });

    for (let offset = 0; ;) {
      if (offset === reader.size) {
        return damaged(offset, offset === 0 ? 'the file is empty' : 'the end record is missing');
      }
      const frame = reader.frameAt(offset);
      if (!frame.ok) return damaged(offset, frame.reason);
      try {
        if (offset === 0) {
          if (frame.type !== RecordType.snapshotHeader) return damaged(0, 'no snapshot header');
          const header = decodeSnapshotHeader(frame.payload);
          if (header.logSeq !== seq) return damaged(0, `the header names log ${header.logSeq}`);
          revision = header.revision;
        } else if (frame.type === RecordType.snapshotEnd) {
          const count = decodeSnapshotEnd(frame.payload);
          if (count !== entries) {
            return damaged(
              offset,
              `the end record counts ${count} entries, the file has ${entries}`,
            );
          }
          if (frame.end !== reader.size) return damaged(frame.end, 'bytes follow the end record');
          return { revision, entries, bytes: reader.size };
        } else if (frame.type === RecordType.put) {
          onEntry(decodePut(frame.buffer, frame.payloadStart, frame.payloadEnd, entry), revision);
          entries++;
        } else {
          // Decoded for the reason a record that does not decode gives.
          const change = decodeChange(frame.type, frame.payload);
          return damaged(offset, `unexpected ${change.op} record`);
        }
      } catch (error) {
        if (error instanceof RecordFormatError) return damaged(offset, error.message);
        throw error;
      }
      offset = frame.end;
    }
  } finally {
    ops.close(fd);
  }
}
