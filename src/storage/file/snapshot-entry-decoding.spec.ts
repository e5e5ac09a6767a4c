import fc from 'fast-check';
import { crc32 } from 'zlib';
import { Change } from '../storage.repository';
import { crc32Range } from './frame-checksum';
import {
  DecodedPut,
  FRAME_HEADER_BYTES,
  RecordEncoder,
  RecordFormatError,
  RecordType,
  decodeChange,
  decodePut,
} from './record-codec';

/**
 * Snapshot loading decodes put records with decodePut, straight from the reader's buffer and
 * with the UTF-8 sizes the record gives; the log decodes them with decodeChange. Both must
 * read the same entry, refuse the same payloads, and the sizes must be what measuring the
 * decoded strings gives.
 */

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  // Lone surrogates: such records are stored as UTF-16.
  fc.string({ unit: fc.constantFrom('a', 'é', '\uD800', '\uDC00', '😀'), maxLength: 6 }),
  fc.string({ maxLength: 300 }),
);

const putArb = fc
  .record({
    createRevision: fc.integer({ min: 1, max: 2 ** 40 }),
    ahead: fc.nat({ max: 5 }),
    version: fc.integer({ min: 1, max: 2 ** 33 }),
    key: text,
    value: text,
    expiresAt: fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: null }),
  })
  .map(({ createRevision, ahead, ...rest }): Extract<Change, { op: 'put' }> => ({
    op: 'put',
    revision: createRevision + ahead,
    createRevision,
    ...rest,
  }));

/** The payload of `change`'s record, at `padding` bytes into a larger buffer. */
function encoded(change: Change, padding: number): { buffer: Buffer; start: number; end: number } {
  const encoder = new RecordEncoder();
  encoder.change(change);
  const record = encoder.bytes.subarray(0, encoder.length);
  const buffer = Buffer.concat([Buffer.alloc(padding, 0xaa), record, Buffer.alloc(3, 0xbb)]);
  const start = padding + FRAME_HEADER_BYTES;
  return { buffer, start, end: padding + record.length };
}

function outcome(decode: () => unknown) {
  try {
    return { value: decode() };
  } catch (error) {
    if (!(error instanceof RecordFormatError)) throw error;
    return { error: error.message };
  }
}

const decodedAsChange = (put: DecodedPut) => ({
  op: 'put',
  revision: put.modRevision,
  key: put.key,
  value: put.value,
  expiresAt: put.expiresAt,
  createRevision: put.createRevision,
  version: put.version,
});

describe('decodePut (snapshot loading)', () => {
  it('reads what decodeChange reads, with the UTF-8 byte lengths of key and value', () => {
    const reused = new DecodedPut();
    fc.assert(
      fc.property(putArb, fc.nat({ max: 40 }), (change, padding) => {
        const { buffer, start, end } = encoded(change, padding);
        const put = decodePut(buffer, start, end, reused);
        expect(decodedAsChange(put)).toEqual(
          decodeChange(RecordType.put, buffer.subarray(start, end)),
        );
        expect(decodedAsChange(put)).toEqual(change);
        expect(put.keyBytes).toBe(Buffer.byteLength(put.key));
        expect(put.valueBytes).toBe(Buffer.byteLength(put.value));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with decodeChange on damaged payloads: invalid UTF-8, bad counts, short payloads', () => {
    fc.assert(
      fc.property(
        putArb,
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat({ max: 8 }),
        (change, edits, cut) => {
          const { buffer, start, end } = encoded(change, 5);
          const length = end - start;
          for (const { at, byte } of edits) buffer[start + (at % length)] = byte;
          const shortEnd = Math.max(start, end - cut);
          const general = outcome(() =>
            decodeChange(RecordType.put, buffer.subarray(start, shortEnd)),
          );
          const fast = outcome(() => decodePut(buffer, start, shortEnd, new DecodedPut()));
          if ('error' in general) {
            expect(fast).toEqual(general);
            return;
          }
          const put = fast.value as DecodedPut;
          expect(decodedAsChange(put)).toEqual(general.value);
          expect(put.keyBytes).toBe(Buffer.byteLength(put.key));
          expect(put.valueBytes).toBe(Buffer.byteLength(put.value));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('measures a string read from invalid UTF-8 rather than trusting the stored length', () => {
    const { buffer, start, end } = encoded(
      {
        op: 'put',
        revision: 2,
        key: 'ab',
        value: '"xy"',
        expiresAt: null,
        createRevision: 1,
        version: 1,
      },
      0,
    );
    // The key's second byte becomes a lone continuation byte, read as U+FFFD (3 bytes).
    buffer[start + 1 + 32 + 4 + 1] = 0x80;
    const put = decodePut(buffer, start, end, new DecodedPut());
    expect(put.key).toBe('a\uFFFD');
    expect(put.keyBytes).toBe(4);
  });

  it.each([2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER])(
    'decodes count %d exactly (small counts are made small integers, larger ones are not)',
    (count) => {
      const { buffer, start, end } = encoded(
        {
          op: 'put',
          revision: count,
          key: 'k',
          value: '1',
          expiresAt: null,
          createRevision: count,
          version: count,
        },
        0,
      );
      const put = decodePut(buffer, start, end, new DecodedPut());
      expect([put.createRevision, put.version, put.modRevision]).toEqual([count, count, count]);
    },
  );
});

describe('crc32Range', () => {
  it('equals zlib.crc32 of the range, short and long', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 700 }),
        fc.nat({ max: 20 }),
        fc.nat({ max: 20 }),
        (bytes, head, tail) => {
          const buffer = Buffer.from(bytes);
          const start = Math.min(head, buffer.length);
          const end = Math.max(start, buffer.length - tail);
          expect(crc32Range(buffer, start, end)).toBe(crc32(buffer.subarray(start, end)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
