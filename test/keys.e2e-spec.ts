import { connect } from 'node:net';
import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/** The core contract, byte for byte where the classic store defines it, on both platforms. */
describe.each(HTTP_ADAPTERS)('keys over HTTP (%s)', (adapter) => {
  let server: TestApp;
  const call = (
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ) => http(server.url, method, path, body, headers);

  beforeEach(async () => {
    server = await startTestApp({
      HTTP_ADAPTER: adapter,
      MAX_KEY_BYTES: '64',
      MAX_VALUE_BYTES: '4096',
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('runs the classic walkthrough with the exact bodies', async () => {
    const steps: Array<[string, string, string | undefined, number, string]> = [
      ['PUT', '/key/name', '"Alice"', 200, '{"success":true,"key":"name","value":"Alice"}'],
      ['PUT', '/key/age', '30', 200, '{"success":true,"key":"age","value":30}'],
      [
        'PUT',
        '/key/user',
        '{"name": "Bob", "roles": ["admin", "dev"]}',
        200,
        '{"success":true,"key":"user","value":{"name":"Bob","roles":["admin","dev"]}}',
      ],
      ['PUT', '/key/list', '[1, 2, 3]', 200, '{"success":true,"key":"list","value":[1,2,3]}'],
      ['GET', '/key/name', undefined, 200, '{"key":"name","value":"Alice"}'],
      ['GET', '/key/age', undefined, 200, '{"key":"age","value":30}'],
      [
        'GET',
        '/key/user',
        undefined,
        200,
        '{"key":"user","value":{"name":"Bob","roles":["admin","dev"]}}',
      ],
      ['GET', '/keys', undefined, 200, '{"totalKeys":4,"keys":["name","age","user","list"]}'],
      ['DELETE', '/key/age', undefined, 200, '{"success":true,"key":"age"}'],
      ['GET', '/key/age', undefined, 404, '{"error":"Key not found","key":"age"}'],
      ['DELETE', '/key/age', undefined, 404, '{"error":"Key not found","key":"age"}'],
      ['GET', '/keys', undefined, 200, '{"totalKeys":3,"keys":["name","user","list"]}'],
    ];
    for (const [method, path, body, status, text] of steps) {
      const answer = await call(method, path, body);
      expect({ step: `${method} ${path}`, status: answer.status, text: answer.text }).toEqual({
        step: `${method} ${path}`,
        status,
        text,
      });
      expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
  });

  it('parses the body as JSON whatever the Content-Type says', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, '1'],
      [{ 'Content-Type': 'application/x-www-form-urlencoded' }, '{"a":1}'],
      [{ 'Content-Type': 'text/plain' }, '"text"'],
      [{ 'Content-Type': 'application/json' }, 'true'],
    ];
    for (const [headers, body] of cases) {
      const answer = await call('PUT', '/key/k', Buffer.from(body), headers);
      expect(answer.status).toBe(200);
      expect((await call('GET', '/key/k')).json).toEqual({ key: 'k', value: JSON.parse(body) });
    }
  });

  it('stores null as a value, not as a missing key', async () => {
    expect((await call('PUT', '/key/nothing', 'null')).text).toBe(
      '{"success":true,"key":"nothing","value":null}',
    );
    expect((await call('GET', '/key/nothing')).text).toBe('{"key":"nothing","value":null}');
  });

  it('keeps insertion order: an update keeps its place, delete then set moves it last', async () => {
    for (const key of ['a', 'b', 'c']) await call('PUT', `/key/${key}`, '1');
    await call('PUT', '/key/a', '2');
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 3, keys: ['a', 'b', 'c'] });
    await call('DELETE', '/key/a');
    await call('PUT', '/key/a', '3');
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 3, keys: ['b', 'c', 'a'] });
  });

  it('takes everything after /key/ as the key, percent-decoded once', async () => {
    const cases: Array<[string, string]> = [
      ['/key/config/db/host', 'config/db/host'],
      ['/key/a%2Fb', 'a/b'],
      ['/key/with%20space', 'with space'],
      ['/key/urn:isbn:0451450523', 'urn:isbn:0451450523'],
      ['/key/caf%C3%A9%20%F0%9F%8E%89', 'café 🎉'],
      ['/key/100%2525', '100%25'],
      ['/key/a+b', 'a+b'],
    ];
    for (const [path, key] of cases) {
      expect((await call('PUT', path, `"${key}"`)).json).toEqual({
        success: true,
        key,
        value: key,
      });
      expect((await call('GET', path)).json).toEqual({ key, value: key });
    }
    const keys = (await call('GET', '/keys')).json as { keys: string[] };
    expect(keys.keys).toEqual(cases.map(([, key]) => key));
  });

  it('treats __proto__, constructor and hasOwnProperty as ordinary keys and values', async () => {
    const value = '{"__proto__":{"polluted":true},"constructor":1,"hasOwnProperty":2}';
    for (const key of ['__proto__', 'constructor', 'hasOwnProperty']) {
      expect((await call('PUT', `/key/${key}`, value)).status).toBe(200);
      expect((await call('GET', `/key/${key}`)).text).toBe(`{"key":"${key}","value":${value}}`);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  describe('rejects bad input with a clear error and changes nothing', () => {
    const OUT_OF_RANGE = {
      error: 'Invalid JSON',
      reason: 'Number is out of the range of a 64-bit float',
    };
    const rejected: Array<[string, string, string | Buffer | undefined, number, object]> = [
      ['PUT', '/key/k', '{bad', 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/k', '', 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/k', undefined, 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/k', "{'single': 1}", 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/k', '1e400', 400, { ...OUT_OF_RANGE, pointer: '' }],
      ['PUT', '/key/k', '[1e999]', 400, { ...OUT_OF_RANGE, pointer: '/0' }],
      [
        'PUT',
        '/key/k',
        '{"id":12345678901234567890,"n":9007199254740993,"d":{"a":1,"a":2}}',
        400,
        {
          error: 'Invalid JSON',
          reason:
            'Number cannot be stored exactly as a 64-bit float: it would become 12345678901234567000',
          pointer: '/id',
        },
      ],
      [
        'PUT',
        '/key/k',
        '{"d":{"a":1,"a":2}}',
        400,
        { error: 'Invalid JSON', reason: 'Duplicate member name', pointer: '/d/a' },
      ],
      ['PUT', '/key/k', Buffer.from([0x22, 0xff, 0x22]), 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/k', '['.repeat(4000), 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/k', '['.repeat(65) + ']'.repeat(65), 400, { error: 'Invalid JSON' }],
      ['PUT', '/key/', '1', 400, { error: 'Key must not be empty' }],
      ['GET', '/key/', undefined, 400, { error: 'Key must not be empty' }],
      ['DELETE', '/key', undefined, 400, { error: 'Key must not be empty' }],
      ['PUT', '/key/a%00b', '1', 400, { error: 'Key must not contain U+0000 (NUL)' }],
      [
        'PUT',
        '/key/%ZZ',
        '1',
        400,
        { error: 'Key has malformed percent-encoding or is not UTF-8' },
      ],
      [
        'PUT',
        '/key/%FF',
        '1',
        400,
        { error: 'Key has malformed percent-encoding or is not UTF-8' },
      ],
      [
        'PUT',
        `/key/${'k'.repeat(65)}`,
        '1',
        414,
        { error: 'Key is longer than 64 bytes', maxBytes: 64 },
      ],
      [
        'PUT',
        `/key/${'%C3%A9'.repeat(33)}`,
        '1',
        414,
        { error: 'Key is longer than 64 bytes', maxBytes: 64 },
      ],
      [
        'PUT',
        '/key/k',
        `"${'x'.repeat(5000)}"`,
        413,
        { error: 'Value is larger than 4096 bytes', maxBytes: 4096 },
      ],
      ['GET', '/nope', undefined, 404, { error: 'Not found' }],
      ['POST', '/key/k', '1', 404, { error: 'Not found' }],
      ['PATCH', '/keys', undefined, 404, { error: 'Not found' }],
    ];

    it.each(rejected)('%s %s', async (method, path, body, status, error) => {
      await call('PUT', '/key/k', '"original"');
      const answer = await call(method, path, body);
      expect(answer.status).toBe(status);
      expect(answer.json).toEqual(error);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 1, keys: ['k'] });
      expect((await call('GET', '/key/k')).json).toEqual({ key: 'k', value: 'original' });
    });
  });

  it('accepts JSON nested to the depth limit', async () => {
    const deep = '['.repeat(64) + ']'.repeat(64);
    expect((await call('PUT', '/key/deep', deep)).status).toBe(200);
  });

  it('reads the key from the raw request target, without normalising dot segments', async () => {
    const raw = await rawRequest(server.url, 'PUT /key/a/../b HTTP/1.1', '"dots"');
    expect(raw).toContain('"key":"a/../b"');
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 1, keys: ['a/../b'] });
  });

  it('answers CORS preflights and sends Access-Control-Allow-Origin', async () => {
    const preflight = await call('OPTIONS', '/key/x', undefined, {
      Origin: 'http://example.test',
      'Access-Control-Request-Method': 'PUT',
      'Access-Control-Request-Headers': 'content-type',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/GET.*PUT.*DELETE/);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain(
      'content-type',
    );
    const get = await call('GET', '/keys', undefined, { Origin: 'http://example.test' });
    expect(get.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('sends no X-Powered-By and no ETag of its own making', async () => {
    await call('PUT', '/key/k', '1');
    const answer = await call('GET', '/keys');
    expect(answer.headers.get('x-powered-by')).toBeNull();
    expect(answer.headers.get('etag')).toBeNull();
  });
});

/** Sends one request exactly as written, bypassing fetch's URL normalisation. */
function rawRequest(baseUrl: string, requestLine: string, body: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.end(
        `${requestLine}\r\nHost: ${hostname}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    });
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}
