import { Change, SnapshotEntry } from '../storage.repository';
import { crc32Range } from './frame-checksum';

/**
 * One framed record, the unit of both the log and the snapshot (docs/STORAGE.md has the layout):
 *
 *   offset 0  u32 LE  CRC-32 of bytes 4 .. end (length, type and payload)
 *   offset 4  u32 LE  payload length
 *   offset 8  u8      record type
 *   offset 9  payload
 *
 * The checksum covers the length: a flipped length bit must fail the check rather than look
 * like a record that runs past the end of the file (a torn write).
 */
export const FRAME_HEADER_BYTES = 9;
/**
 * Larger payloads are refused on write and treated as damage on read. It leaves room for the
 * largest value MAX_VALUE_BYTES allows (512 MiB) plus its key.
 */
export const MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024;

export const RecordType = {
  put: 1,
  delete: 2,
  expire: 3,
  ttl: 4,
  /** The changes of one commit unit (a transaction) in one record, so one checksum covers them. */
  unit: 5,
  snapshotHeader: 16,
  snapshotEnd: 17,
} as const;

const CHANGE_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4]);
const LOG_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5]);
const KNOWN_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 16, 17]);
/** Per change in a unit record: its type (u8) and payload length (u32). */
const UNIT_ENTRY_HEADER_BYTES = 5;

export const SNAPSHOT_FORMAT_VERSION = 1;

const MAX_INT32 = 0x7fffffff;

const HAS_EXPIRY = 1;
/** Strings with a lone surrogate cannot round-trip through UTF-8, so such records use UTF-16LE. */
const UTF16 = 2;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const INITIAL_BUFFER_BYTES = 64 * 1024;
/** A buffer grown for one huge value is given back rather than kept for the process's life. */
const RETAINED_BUFFER_BYTES = 1024 * 1024;

export function isKnownRecordType(type: number): boolean {
  return KNOWN_TYPES.has(type);
}

/** Whether a record of this type belongs in a log: a change, or a unit of changes. */
export function isLogRecordType(type: number): boolean {
  return LOG_TYPES.has(type);
}

/** Thrown by the decoders for a record whose checksum holds but whose content does not parse. */
export class RecordFormatError extends Error {}

/**
 * Encodes records back to back into one reusable buffer, so that appending a change costs no
 * allocation beyond the occasional growth of that buffer.
 */
export class RecordEncoder {
  private buffer = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private used = 0;

  /** The encoded bytes are `bytes[0 .. length)`; valid until the next reset or encode. */
  get bytes(): Buffer {
    return this.buffer;
  }

  get length(): number {
    return this.used;
  }

  reset(): void {
    this.used = 0;
    if (this.buffer.length > RETAINED_BUFFER_BYTES) {
      this.buffer = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
    }
  }

  /** One change, as a record of its own. */
  change(change: Change): void {
    const start = this.begin(maxChangePayload(change));
    this.finish(
      start,
      RecordType[change.op],
      this.changePayload(change, start + FRAME_HEADER_BYTES),
    );
  }

  /**
   * Changes committed together, as one record: recovery replays all of them or, if the record
   * is torn or damaged, none. Layout: u32 count, then per change u8 type, u32 length, payload.
   */
  unit(changes: readonly Change[]): void {
    let maxPayload = 4;
    for (const change of changes) maxPayload += UNIT_ENTRY_HEADER_BYTES + maxChangePayload(change);
    const start = this.begin(maxPayload);
    let at = this.buffer.writeUInt32LE(changes.length, start + FRAME_HEADER_BYTES);
    for (const change of changes) {
      const payloadStart = at + UNIT_ENTRY_HEADER_BYTES;
      const end = this.changePayload(change, payloadStart);
      this.buffer.writeUInt8(RecordType[change.op], at);
      this.buffer.writeUInt32LE(end - payloadStart, at + 1);
      at = end;
    }
    this.finish(start, RecordType.unit, at);
  }

  /** Writes a change's payload at `at` (room was made by begin); returns where it ends. */
  private changePayload(change: Change, at: number): number {
    const value = change.op === 'put' ? change.value : '';
    const encoding = changeEncoding(change);
    const buffer = this.buffer;
    const expiresAt = change.op === 'put' || change.op === 'ttl' ? change.expiresAt : null;
    at = buffer.writeUInt8(
      (expiresAt === null ? 0 : HAS_EXPIRY) | (encoding === 'utf8' ? 0 : UTF16),
      at,
    );
    at = buffer.writeDoubleLE(change.revision, at);
    if (change.op === 'put') {
      at = buffer.writeDoubleLE(change.createRevision, at);
      at = buffer.writeDoubleLE(change.version, at);
    }
    if (change.op === 'put' || change.op === 'ttl') at = buffer.writeDoubleLE(expiresAt ?? 0, at);
    const keyBytes = buffer.write(change.key, at + 4, encoding);
    at = buffer.writeUInt32LE(keyBytes, at) + keyBytes;
    if (change.op === 'put') at += buffer.write(value, at, encoding);
    return at;
  }

  snapshotHeader(revision: number, logSeq: number): void {
    const start = this.begin(4 + 8 + 8);
    let at = start + FRAME_HEADER_BYTES;
    at = this.buffer.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, at);
    at = this.buffer.writeDoubleLE(revision, at);
    at = this.buffer.writeDoubleLE(logSeq, at);
    this.finish(start, RecordType.snapshotHeader, at);
  }

  snapshotEnd(entryCount: number): void {
    const start = this.begin(8);
    this.finish(
      start,
      RecordType.snapshotEnd,
      this.buffer.writeDoubleLE(entryCount, start + FRAME_HEADER_BYTES),
    );
  }

  /** Makes room for a record whose payload takes at most `maxPayload` bytes; returns its offset. */
  private begin(maxPayload: number): number {
    const needed = this.used + FRAME_HEADER_BYTES + maxPayload;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.used);
      this.buffer = grown;
    }
    return this.used;
  }

  private finish(start: number, type: number, end: number): void {
    const payloadBytes = end - start - FRAME_HEADER_BYTES;
    if (payloadBytes > MAX_PAYLOAD_BYTES) {
      throw new RangeError(
        `record of ${payloadBytes} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`,
      );
    }
    const buffer = this.buffer;
    buffer.writeUInt32LE(payloadBytes, start + 4);
    buffer.writeUInt8(type, start + 8);
    buffer.writeUInt32LE(frameChecksum(buffer, start, end), start);
    this.used = end;
  }
}

function changeEncoding(change: Change): 'utf8' | 'utf16le' {
  const value = change.op === 'put' ? change.value : '';
  return LONE_SURROGATE.test(change.key) || LONE_SURROGATE.test(value) ? 'utf16le' : 'utf8';
}

function maxChangePayload(change: Change): number {
  const encoding = changeEncoding(change);
  const value = change.op === 'put' ? change.value : '';
  return 1 + 8 * 4 + 4 + maxBytes(change.key, encoding) + maxBytes(value, encoding);
}

/** An upper bound cheap to compute for short strings, exact for long ones (to avoid 3x buffers). */
function maxBytes(text: string, encoding: 'utf8' | 'utf16le'): number {
  if (encoding === 'utf16le') return text.length * 2;
  return text.length < 4096 ? text.length * 3 : Buffer.byteLength(text, 'utf8');
}

/** The checksum a frame starting at `start` and ending at `end` must carry. */
export function frameChecksum(buffer: Buffer, start: number, end: number): number {
  return crc32Range(buffer, start + 4, end);
}

/**
 * The changes of a log record: one for a change record, all of a unit's for a unit record.
 * A unit's changes must carry consecutive revisions.
 */
export function decodeLogRecord(type: number, payload: Buffer): Change[] {
  if (type !== RecordType.unit) return [decodeChange(type, payload)];
  const reader = new PayloadReader(payload, 0, payload.length);
  const count = reader.u32();
  if (count === 0) throw new RecordFormatError('a unit of no changes');
  const changes: Change[] = [];
  for (let i = 0; i < count; i++) {
    const changeType = reader.u8();
    if (!CHANGE_TYPES.has(changeType)) {
      throw new RecordFormatError(`record type ${changeType} is not a change`);
    }
    const change = decodeChange(changeType, reader.bytes(reader.u32()));
    const previous = changes.at(-1);
    if (previous && change.revision !== previous.revision + 1) {
      throw new RecordFormatError(
        `revision ${change.revision} in a unit does not follow revision ${previous.revision}`,
      );
    }
    changes.push(change);
  }
  reader.end();
  return changes;
}

export function decodeChange(type: number, payload: Buffer): Change {
  if (type === RecordType.put) {
    const put = decodePut(payload, 0, payload.length, new DecodedPut());
    const { modRevision: revision, key, value, expiresAt, createRevision, version } = put;
    return { op: 'put', revision, key, value, expiresAt, createRevision, version };
  }
  const reader = new PayloadReader(payload, 0, payload.length);
  const flags = reader.flags();
  const encoding = flags & UTF16 ? 'utf16le' : 'utf8';
  const revision = reader.count('revision');
  switch (type) {
    case RecordType.delete:
    case RecordType.expire: {
      if (flags & HAS_EXPIRY) throw new RecordFormatError('expiry flag on a removal');
      const key = reader.lastString(encoding);
      return { op: type === RecordType.delete ? 'delete' : 'expire', revision, key };
    }
    case RecordType.ttl: {
      const expiresAt = reader.expiry(flags);
      return { op: 'ttl', revision, key: reader.lastString(encoding), expiresAt };
    }
    default:
      throw new RecordFormatError(`record type ${type} is not a change`);
  }
}

/**
 * A put record's entry, with the UTF-8 bytes of its key and value (what they count against the
 * data limit, see data-size.ts). Loading a snapshot fills one of these per record and reuses it,
 * so that a million entries cost their strings and their stored entries, not a change object
 * each as well, and the sizes the record already states are not measured again.
 */
export class DecodedPut implements SnapshotEntry {
  key = '';
  value = '';
  expiresAt: number | null = null;
  createRevision = 0;
  /** The put's revision. */
  modRevision = 0;
  version = 0;
  keyBytes = 0;
  valueBytes = 0;
}

/** Decodes the put record payload `buffer[start .. end)` into `into`, and returns it. */
export function decodePut(buffer: Buffer, start: number, end: number, into: DecodedPut): DecodedPut {
  const reader = new PayloadReader(buffer, start, end);
  const flags = reader.flags();
  const encoding = flags & UTF16 ? 'utf16le' : 'utf8';
  const revision = reader.count('revision');
  const createRevision = reader.count('createRevision');
  const version = reader.count('version');
  const expiresAt = reader.expiry(flags);
  const keyBytes = reader.u32();
  const key = reader.string(keyBytes, encoding);
  const valueBytes = reader.remaining;
  const value = reader.string(valueBytes, encoding);
  if (createRevision > revision) {
    throw new RecordFormatError(`createRevision ${createRevision} after revision ${revision}`);
  }
  into.key = key;
  into.value = value;
  into.expiresAt = expiresAt;
  into.createRevision = createRevision;
  into.modRevision = revision;
  into.version = version;
  into.keyBytes = encoding === 'utf8' ? utf8BytesRead(key, keyBytes) : Buffer.byteLength(key);
  into.valueBytes =
    encoding === 'utf8' ? utf8BytesRead(value, valueBytes) : Buffer.byteLength(value);
  return into;
}

/**
 * The UTF-8 bytes of `text`, decoded from `bytes` bytes of UTF-8. They are the same unless the
 * bytes were not valid UTF-8 (a record the encoder never writes, but whose checksum could
 * hold): the decoder then put U+FFFD in place of what it could not read, whose three bytes
 * differ. Looking for U+FFFD is much cheaper than measuring the string, and free for the
 * one-byte strings most keys and values are.
 */
function utf8BytesRead(text: string, bytes: number): number {
  return text.includes('\uFFFD') ? Buffer.byteLength(text) : bytes;
}

export interface SnapshotHeader {
  readonly revision: number;
  readonly logSeq: number;
}

export function decodeSnapshotHeader(payload: Buffer): SnapshotHeader {
  const reader = new PayloadReader(payload, 0, payload.length);
  const version = reader.u32();
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new RecordFormatError(`snapshot format ${version} is not supported`);
  }
  const header = { revision: reader.count('revision', 0), logSeq: reader.count('log sequence') };
  reader.end();
  return header;
}

export function decodeSnapshotEnd(payload: Buffer): number {
  const reader = new PayloadReader(payload, 0, payload.length);
  const count = reader.count('entry count', 0);
  reader.end();
  return count;
}

/** Bounds-checked reads of `buffer[start .. end)`; any shortfall or leftover is a RecordFormatError. */
class PayloadReader {
  private at: number;

  constructor(
    private readonly buffer: Buffer,
    start: number,
    private readonly limit: number,
  ) {
    this.at = start;
  }

  get remaining(): number {
    return this.limit - this.at;
  }

  u8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.at++);
  }

  /** A change's flags byte. */
  flags(): number {
    const flags = this.u8();
    if (flags & ~(HAS_EXPIRY | UTF16)) throw new RecordFormatError(`unknown flags ${flags}`);
    return flags;
  }

  u32(): number {
    this.need(4);
    const value = this.buffer.readUInt32LE(this.at);
    this.at += 4;
    return value;
  }

  /** A revision, version or count: a safe integer of at least `min`. */
  count(what: string, min = 1): number {
    const value = this.f64();
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RecordFormatError(`${what} ${value} is not a valid count`);
    }
    // Read as a double, a small count would be kept as a heap number: 16 bytes and one more
    // object per field of every loaded entry, which the GC then copies. `| 0` makes it a small
    // integer, as a count the store computed itself is.
    return value <= MAX_INT32 ? value | 0 : value;
  }

  expiry(flags: number): number | null {
    const value = this.f64();
    if (!(flags & HAS_EXPIRY)) return null;
    if (!Number.isFinite(value)) throw new RecordFormatError(`expiry ${value} is not finite`);
    return value;
  }

  string(bytes: number, encoding: 'utf8' | 'utf16le'): string {
    this.need(bytes);
    const text = this.buffer.toString(encoding, this.at, this.at + bytes);
    this.at += bytes;
    return text;
  }

  bytes(length: number): Buffer {
    this.need(length);
    const bytes = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }

  /** A length-prefixed string that must end the payload. */
  lastString(encoding: 'utf8' | 'utf16le'): string {
    const text = this.string(this.u32(), encoding);
    this.end();
    return text;
  }

  end(): void {
    if (this.remaining !== 0) throw new RecordFormatError(`${this.remaining} unexpected bytes`);
  }

  private f64(): number {
    this.need(8);
    const value = this.buffer.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }

  private need(bytes: number): void {
    if (this.at + bytes > this.limit) {
      throw new RecordFormatError('payload ends early');
    }
  }
}
