import { http, HttpAnswer } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/** Revisions in headers and conditional requests (RFC 9110), on both platforms. */
describe.each(HTTP_ADAPTERS)('revisions and conditional requests (%s)', (adapter) => {
  let server: TestApp;
  const call = (method: string, path: string, body?: string, headers?: Record<string, string>) =>
    http(server.url, method, path, body, headers);
  const revisions = (answer: HttpAnswer) => ({
    status: answer.status,
    etag: answer.headers.get('etag'),
    revision: answer.headers.get('x-kv-revision'),
  });

  beforeEach(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter });
  });

  afterEach(async () => {
    await server.close();
  });

  it('sends the revisions in headers and keeps the bodies of the core contract', async () => {
    const putA = await call('PUT', '/key/a', '"one"');
    expect(putA.text).toBe('{"success":true,"key":"a","value":"one"}');
    expect(revisions(putA)).toEqual({ status: 200, etag: '"1"', revision: '1' });
    expect(revisions(await call('PUT', '/key/b', '2'))).toEqual({
      status: 200,
      etag: '"2"',
      revision: '2',
    });
    const getA = await call('GET', '/key/a');
    expect(getA.text).toBe('{"key":"a","value":"one"}');
    expect(revisions(getA)).toEqual({ status: 200, etag: '"1"', revision: '2' });
    expect((await call('GET', '/key/b?meta=true')).json).toEqual({
      key: 'b',
      value: 2,
      createRevision: 2,
      modRevision: 2,
      version: 1,
    });
    const deleteA = await call('DELETE', '/key/a');
    expect(deleteA.text).toBe('{"success":true,"key":"a"}');
    expect(revisions(deleteA)).toEqual({ status: 200, etag: null, revision: '3' });
    expect(revisions(await call('PUT', '/ttl/b', '{"ttl":60}'))).toEqual({
      status: 200,
      etag: '"4"',
      revision: '4',
    });
    // A write that changes nothing (a missing key) takes no revision.
    expect((await call('DELETE', '/key/a')).status).toBe(404);
    expect(revisions(await call('PUT', '/key/b', '3'))).toEqual({
      status: 200,
      etag: '"5"',
      revision: '5',
    });
  });

  describe('If-Match and If-None-Match on writes', () => {
    const accepted: Array<[string, string, string | undefined, Record<string, string>]> = [
      ['PUT', '/key/k', '"new"', { 'If-Match': '"1"' }],
      ['PUT', '/key/k', '"new"', { 'If-Match': '*' }],
      ['PUT', '/key/fresh', '"new"', { 'If-None-Match': '*' }],
      ['DELETE', '/key/k', undefined, { 'If-Match': '"1"' }],
      ['DELETE', '/key/k', undefined, { 'If-Match': '*' }],
      ['PUT', '/ttl/k', '{"ttl":10}', { 'If-Match': '"1"' }],
    ];

    it.each(accepted)('%s %s %s %j succeeds', async (method, path, body, headers) => {
      await call('PUT', '/key/k', '"original"');
      const answer = await call(method, path, body, headers);
      expect(revisions(answer)).toMatchObject({ status: 200, revision: '2' });
    });

    const precondition = (modRevision: number | null, key = 'k') => ({
      error: 'Precondition failed',
      key,
      modRevision,
    });
    const badRequest = (error: string) => ({ error });
    const rejected: Array<
      [string, string, string | undefined, Record<string, string>, number, object]
    > = [
      ['PUT', '/key/k', '"x"', { 'If-Match': '"2"' }, 412, precondition(1)],
      ['PUT', '/key/k', '"x"', { 'If-Match': 'W/"1"' }, 412, precondition(1)],
      ['PUT', '/key/k', '"x"', { 'If-Match': '"abc"' }, 412, precondition(1)],
      ['PUT', '/key/k', '"x"', { 'If-None-Match': '*' }, 412, precondition(1)],
      ['PUT', '/key/none', '"x"', { 'If-Match': '*' }, 412, precondition(null, 'none')],
      ['PUT', '/key/none', '"x"', { 'If-Match': '"1"' }, 412, precondition(null, 'none')],
      ['DELETE', '/key/k', undefined, { 'If-Match': '"2"' }, 412, precondition(1)],
      ['DELETE', '/key/none', undefined, { 'If-Match': '"1"' }, 412, precondition(null, 'none')],
      ['PUT', '/ttl/k', '{"ttl":10}', { 'If-Match': '"2"' }, 412, precondition(1)],
      [
        'PUT',
        '/key/k',
        '"x"',
        { 'If-Match': '1' },
        400,
        badRequest('If-Match must be * or entity-tags in quotes, such as "3"'),
      ],
      [
        'PUT',
        '/key/k',
        '"x"',
        { 'If-Match': '"1", "2"' },
        400,
        badRequest('If-Match takes one entity-tag, such as "3": a key has one revision'),
      ],
      [
        'PUT',
        '/key/k',
        '"x"',
        { 'If-None-Match': '"1"' },
        400,
        badRequest('If-None-Match on PUT must be * (create only)'),
      ],
      [
        'PUT',
        '/key/k',
        '"x"',
        { 'If-Match': '"1"', 'If-None-Match': '*' },
        400,
        badRequest('Send If-Match or If-None-Match, not both'),
      ],
      [
        'DELETE',
        '/key/k',
        undefined,
        { 'If-None-Match': '*' },
        400,
        badRequest('If-None-Match is only supported on GET, and on PUT as *'),
      ],
      [
        'GET',
        '/key/k',
        undefined,
        { 'If-Match': '"1"' },
        400,
        badRequest('If-Match is only supported on PUT and DELETE'),
      ],
      [
        'GET',
        '/key/k',
        undefined,
        { 'If-None-Match': '1' },
        400,
        badRequest('If-None-Match must be * or entity-tags in quotes, such as "3"'),
      ],
    ];

    it.each(rejected)(
      '%s %s %s %j answers %d and changes nothing',
      async (method, path, body, headers, status, error) => {
        await call('PUT', '/key/k', '"original"');
        const answer = await call(method, path, body, headers);
        expect(answer.status).toBe(status);
        expect(answer.json).toEqual(error);
        expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 1, keys: ['k'] });
        const after = await call('GET', '/key/k');
        expect(after.text).toBe('{"key":"k","value":"original"}');
        expect(revisions(after)).toEqual({ status: 200, etag: '"1"', revision: '1' });
      },
    );
  });

  it('answers a GET whose If-None-Match names the current tag with 304 and no body', async () => {
    await call('PUT', '/key/k', '1');
    for (const tag of ['"1"', 'W/"1"', '"7", "1"', '*']) {
      const answer = await call('GET', '/key/k', undefined, { 'If-None-Match': tag });
      expect({ tag, ...revisions(answer), text: answer.text }).toEqual({
        tag,
        status: 304,
        etag: '"1"',
        revision: '1',
        text: '',
      });
    }
    await call('PUT', '/key/k', '2');
    const changed = await call('GET', '/key/k', undefined, { 'If-None-Match': '"1"' });
    expect(changed.text).toBe('{"key":"k","value":2}');
    expect(revisions(changed)).toEqual({ status: 200, etag: '"2"', revision: '2' });
    const missing = await call('GET', '/key/none', undefined, { 'If-None-Match': '*' });
    expect(missing.status).toBe(404);
  });

  it('loses no update when clients increment one counter with If-Match and retry on 412', async () => {
    const CLIENTS = 8;
    const INCREMENTS = 10;
    await call('PUT', '/key/counter', '0');
    const client = async () => {
      let done = 0;
      while (done < INCREMENTS) {
        const read = await call('GET', '/key/counter');
        const { value } = read.json as { value: number };
        const write = await call('PUT', '/key/counter', String(value + 1), {
          'If-Match': read.headers.get('etag')!,
        });
        // 412: another client wrote first; read again and retry.
        if (write.status === 200) done++;
        else if (write.status !== 412) throw new Error(`Unexpected ${write.status} ${write.text}`);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const counter = await call('GET', '/key/counter?meta=true');
    expect(counter.json).toMatchObject({
      value: CLIENTS * INCREMENTS,
      version: 1 + CLIENTS * INCREMENTS,
    });
    // Only successful writes take revisions: the initial PUT plus one per increment.
    expect(counter.headers.get('x-kv-revision')).toBe(String(1 + CLIENTS * INCREMENTS));
  }, 60_000);
});
