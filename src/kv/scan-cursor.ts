import { crc32 } from 'node:zlib';
import { ScanPosition } from '../storage/storage.repository';
import { InvalidArgumentError } from './kv.errors';

/**
 * Cursors are opaque to clients: a versioned position plus a checksum, so a truncated,
 * edited or made-up cursor is refused instead of silently starting somewhere else.
 */
const VERSION = 'c1';

export function encodeCursor(position: ScanPosition): string {
  const body = `${VERSION}.${position.snapshotRevision}.${position.afterCreateRevision}`;
  return Buffer.from(`${body}.${crc32(body).toString(36)}`).toString('base64url');
}

/** Decodes a cursor handed out by this store at or before `currentRevision`. */
export function decodeCursor(cursor: string, currentRevision: number): ScanPosition {
  const invalid = new InvalidArgumentError('Invalid cursor: pass back a nextCursor unchanged');
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw invalid;
  const parts = Buffer.from(cursor, 'base64url').toString('latin1').split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw invalid;
  const body = parts.slice(0, 3).join('.');
  if (crc32(body).toString(36) !== parts[3]) throw invalid;
  const snapshotRevision = Number(parts[1]);
  const afterCreateRevision = Number(parts[2]);
  if (
    !Number.isSafeInteger(snapshotRevision) ||
    !Number.isSafeInteger(afterCreateRevision) ||
    afterCreateRevision < 0 ||
    afterCreateRevision > snapshotRevision ||
    snapshotRevision > currentRevision
  ) {
    throw invalid;
  }
  return { snapshotRevision, afterCreateRevision };
}
