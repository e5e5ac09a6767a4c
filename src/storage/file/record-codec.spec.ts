import { Change } from '../storage.repository';
import {
  FRAME_HEADER_BYTES,
  RecordEncoder,
  RecordFormatError,
  RecordType,
  decodeChange,
  decodeLogRecord,
  decodeSnapshotEnd,
  decodeSnapshotHeader,
  frameChecksum,
} from './record-codec';

/** Splits encoded bytes back into frames, checking each checksum. */
function frames(encoder: RecordEncoder): { type: number; payload: Buffer }[] {
  const bytes = encoder.bytes.subarray(0, encoder.length);
  const out = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUInt32LE(at + 4);
    const end = at + FRAME_HEADER_BYTES + length;
    expect(frameChecksum(bytes, at, end)).toBe(bytes.readUInt32LE(at));
    out.push({ type: bytes[at + 8], payload: bytes.subarray(at + FRAME_HEADER_BYTES, end) });
    at = end;
  }
  return out;
}

const roundTrip = (change: Change) => {
  const encoder = new RecordEncoder();
  encoder.change(change);
  const [frame] = frames(encoder);
  return decodeChange(frame.type, frame.payload);
};

describe('record codec', () => {
  it.each<Change>([
    {
      op: 'put',
      revision: 7,
      key: 'k',
      value: '{"a":[1,2]}',
      expiresAt: null,
      createRevision: 3,
      version: 2,
    },
    {
      op: 'put',
      revision: 8,
      key: 'k',
      value: '"x"',
      expiresAt: 1767225600123,
      createRevision: 8,
      version: 1,
    },
    { op: 'put', revision: 9, key: '', value: '""', expiresAt: 0.5, createRevision: 1, version: 9 },
    { op: 'delete', revision: 2 ** 53 - 1, key: 'user:1' },
    { op: 'expire', revision: 4, key: '__proto__' },
    { op: 'ttl', revision: 5, key: 'k', expiresAt: 1767225600000 },
    { op: 'ttl', revision: 6, key: 'k', expiresAt: null },
  ])('round-trips $op at revision $revision', (change) => {
    expect(roundTrip(change)).toEqual(change);
  });

  it.each([
    'emoji 😀 key',
    'lone \ud800 surrogate',
    'trailing \udc00',
    'nul \u0000 byte',
    'ümlaut ✓',
  ])('keeps the key %j exactly', (key) => {
    const change: Change = {
      op: 'put',
      revision: 1,
      key,
      value: JSON.stringify(key),
      expiresAt: null,
      createRevision: 1,
      version: 1,
    };
    expect(roundTrip(change)).toEqual(change);
  });

  it('encodes several records back to back into one buffer, and reuses it', () => {
    const encoder = new RecordEncoder();
    encoder.change({ op: 'expire', revision: 1, key: 'a' });
    encoder.change({
      op: 'put',
      revision: 2,
      key: 'a',
      value: '1',
      expiresAt: null,
      createRevision: 2,
      version: 1,
    });
    expect(frames(encoder).map((frame) => frame.type)).toEqual([RecordType.expire, RecordType.put]);
    const buffer = encoder.bytes;
    encoder.reset();
    encoder.change({ op: 'delete', revision: 3, key: 'a' });
    expect(encoder.bytes).toBe(buffer);
    expect(frames(encoder)).toHaveLength(1);
  });

  it('grows for a large value and gives the memory back afterwards', () => {
    const encoder = new RecordEncoder();
    const value = JSON.stringify('v'.repeat(3 * 1024 * 1024));
    encoder.change({
      op: 'put',
      revision: 1,
      key: 'big',
      value,
      expiresAt: null,
      createRevision: 1,
      version: 1,
    });
    expect(decodeChange(RecordType.put, frames(encoder)[0].payload)).toMatchObject({ value });
    encoder.reset();
    expect(encoder.bytes.length).toBeLessThan(1024 * 1024);
  });

  it('covers the length with the checksum', () => {
    const encoder = new RecordEncoder();
    encoder.change({ op: 'delete', revision: 1, key: 'a' });
    const bytes = Buffer.from(encoder.bytes.subarray(0, encoder.length));
    const stored = bytes.readUInt32LE(0);
    bytes[4] ^= 1;
    expect(frameChecksum(bytes, 0, bytes.length)).not.toBe(stored);
  });

  it('encodes the snapshot header and end records', () => {
    const encoder = new RecordEncoder();
    encoder.snapshotHeader(42, 7);
    encoder.snapshotEnd(1000);
    const [header, end] = frames(encoder);
    expect(header.type).toBe(RecordType.snapshotHeader);
    expect(decodeSnapshotHeader(header.payload)).toEqual({ revision: 42, logSeq: 7 });
    expect(decodeSnapshotEnd(end.payload)).toBe(1000);
  });

  it.each([
    ['a truncated payload', RecordType.put, Buffer.alloc(5)],
    [
      'unknown flags',
      RecordType.delete,
      Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0]),
    ],
    [
      'a non-integer revision',
      RecordType.delete,
      (() => {
        const payload = Buffer.alloc(13);
        payload.writeDoubleLE(1.5, 1);
        return payload;
      })(),
    ],
    ['a snapshot type in a change', RecordType.snapshotEnd, Buffer.alloc(9)],
  ])('rejects %s', (_, type, payload) => {
    expect(() => decodeChange(type, payload)).toThrow(RecordFormatError);
  });

  describe('unit records', () => {
    const unit: Change[] = [
      { op: 'expire', revision: 10, key: 'a' },
      {
        op: 'put',
        revision: 11,
        key: 'a',
        value: '{"n":1}',
        expiresAt: 5,
        createRevision: 11,
        version: 1,
      },
      { op: 'delete', revision: 12, key: 'lone \ud800' },
      {
        op: 'put',
        revision: 13,
        key: 'b',
        value: '"ü"',
        expiresAt: null,
        createRevision: 2,
        version: 4,
      },
    ];
    const encodeUnit = (changes: readonly Change[]) => {
      const encoder = new RecordEncoder();
      encoder.unit(changes);
      return frames(encoder);
    };

    it('holds every change of a commit under one frame and one checksum', () => {
      const encoded = encodeUnit(unit);
      expect(encoded).toHaveLength(1);
      expect(encoded[0].type).toBe(RecordType.unit);
      expect(decodeLogRecord(encoded[0].type, encoded[0].payload)).toEqual(unit);
    });

    it('decodes a change record as a unit of one', () => {
      const encoder = new RecordEncoder();
      encoder.change(unit[0]);
      const [frame] = frames(encoder);
      expect(decodeLogRecord(frame.type, frame.payload)).toEqual([unit[0]]);
    });

    it.each([
      ['revisions that are not consecutive', [unit[0], { ...unit[2], revision: 14 }]],
      ['no changes', []],
    ])('rejects a unit of %s', (_, changes) => {
      const [frame] = encodeUnit(changes as Change[]);
      expect(() => decodeLogRecord(frame.type, frame.payload)).toThrow(RecordFormatError);
    });

    it('rejects a unit whose payload is cut or holds a non-change record', () => {
      const [frame] = encodeUnit(unit);
      expect(() => decodeLogRecord(RecordType.unit, frame.payload.subarray(0, -1))).toThrow(
        RecordFormatError,
      );
      const nested = Buffer.from(frame.payload);
      nested[4] = RecordType.unit;
      expect(() => decodeLogRecord(RecordType.unit, nested)).toThrow(RecordFormatError);
    });
  });
});
