import { FileOps } from './file-ops';
import {
  FRAME_HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  frameChecksum,
  isKnownRecordType,
} from './record-codec';

export interface Frame {
  readonly ok: true;
  readonly type: number;
  /** A view into the reader's buffer: valid until the next call. */
  readonly payload: Buffer;
  /** The payload is `buffer[payloadStart .. payloadEnd)`, valid until the next call. */
  readonly buffer: Buffer;
  readonly payloadStart: number;
  readonly payloadEnd: number;
  /** File offset just past this record. */
  readonly end: number;
}

/**
 * A frame whose payload view is only made when asked for: a snapshot's million put records are
 * decoded straight from the reader's buffer, and a Buffer view each would cost more than the
 * decoding (profiled at 1M keys).
 */
class BufferedFrame implements Frame {
  readonly ok = true;

  constructor(
    readonly type: number,
    readonly buffer: Buffer,
    readonly payloadStart: number,
    readonly payloadEnd: number,
    readonly end: number,
  ) {}

  get payload(): Buffer {
    return this.buffer.subarray(this.payloadStart, this.payloadEnd);
  }
}

export interface Defect {
  readonly ok: false;
  /** Why the bytes at this offset are not a record, for the operator. */
  readonly reason: string;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * Reads framed records from a file in chunks, so that start-up memory does not grow with the
 * size of the log. Offsets only move forward, as recovery reads front to back.
 */
export class RecordReader {
  private buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  /** File offset of buffer[0], and how many bytes from there the buffer holds. */
  private bufferStart = 0;
  private buffered = 0;

  constructor(
    private readonly ops: FileOps,
    private readonly fd: number,
    readonly size: number,
  ) {}

  frameAt(offset: number): Frame | Defect {
    if (this.size - offset < FRAME_HEADER_BYTES) {
      return {
        ok: false,
        reason: `only ${this.size - offset} bytes left, a record header needs ${FRAME_HEADER_BYTES}`,
      };
    }
    const header = this.load(offset, FRAME_HEADER_BYTES);
    const length = this.buffer.readUInt32LE(header + 4);
    const type = this.buffer.readUInt8(header + 8);
    if (length > MAX_PAYLOAD_BYTES) {
      return { ok: false, reason: `implausible record length ${length}` };
    }
    const end = offset + FRAME_HEADER_BYTES + length;
    if (end > this.size) {
      return { ok: false, reason: `record of ${length} bytes runs past the end of the file` };
    }
    const start = this.load(offset, FRAME_HEADER_BYTES + length);
    const stored = this.buffer.readUInt32LE(start);
    if (frameChecksum(this.buffer, start, start + FRAME_HEADER_BYTES + length) !== stored) {
      return { ok: false, reason: 'checksum mismatch' };
    }
    if (!isKnownRecordType(type)) return { ok: false, reason: `unknown record type ${type}` };
    const payloadStart = start + FRAME_HEADER_BYTES;
    return new BufferedFrame(type, this.buffer, payloadStart, payloadStart + length, end);
  }

  /**
   * Whether a well-formed record starts anywhere after `offset`. This is what tells a torn final
   * write (nothing valid follows) from damage in the middle of the file (valid records follow),
   * even when the damage is in a length field.
   */
  hasRecordAfter(offset: number): boolean {
    for (let at = offset + 1; at + FRAME_HEADER_BYTES <= this.size; at++) {
      if (this.frameAt(at).ok) return true;
    }
    return false;
  }

  /** Copies `[from, to)` of the file into the buffer if needed; returns where `from` sits in it. */
  private load(from: number, length: number): number {
    if (from >= this.bufferStart && from + length <= this.bufferStart + this.buffered) {
      return from - this.bufferStart;
    }
    if (length > this.buffer.length) this.buffer = Buffer.allocUnsafe(length);
    const wanted = Math.min(this.buffer.length, this.size - from);
    let filled = 0;
    while (filled < wanted) {
      const read = this.ops.read(this.fd, this.buffer, filled, wanted - filled, from + filled);
      if (read === 0) break;
      filled += read;
    }
    if (filled < length) throw new Error(`file shrank while being read at offset ${from}`);
    this.bufferStart = from;
    this.buffered = filled;
    return 0;
  }
}
