import { dumpStore } from '../src/storage/file/testing/store-dump';
import { STORAGE_REPOSITORY, StorageRepository } from '../src/storage/storage.repository';
import { http } from './support/http-client';
import { SseStream } from './support/sse-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

const MAX_TXN_BYTES = 2048;

/** POST /txn, every line of its contract and every rejection, on both platforms. */
describe.each(HTTP_ADAPTERS)('transactions over HTTP (%s)', (adapter) => {
  let server: TestApp;
  const call = (method: string, path: string, body?: string, headers?: Record<string, string>) =>
    http(server.url, method, path, body, headers);
  const txn = (body: unknown) => call('POST', '/txn', JSON.stringify(body));
  const dump = () => dumpStore(server.app.get<StorageRepository>(STORAGE_REPOSITORY));

  beforeEach(async () => {
    server = await startTestApp({
      HTTP_ADAPTER: adapter,
      MAX_KEY_BYTES: '16',
      MAX_VALUE_BYTES: '1024',
      MAX_TXN_BYTES: String(MAX_TXN_BYTES),
      MAX_TXN_OPS: '4',
    });
    await call('PUT', '/key/account:a', '{"balance":100}');
    await call('PUT', '/key/config', '{"mode":"blue"}');
    await call('PUT', '/key/counter', '1');
    await call('PUT', '/key/counter', '2');
    await call('PUT', '/key/tmp:1', 'true');
  });

  afterEach(async () => {
    await server.close();
  });

  it('runs success when every compare holds: the example of the contract', async () => {
    const answer = await txn({
      compare: [
        { key: 'account:a', modRevision: 1 },
        { key: 'lock:job-7', exists: false },
        { key: 'config', value: { mode: 'blue' } },
        { key: 'counter', version: 2 },
      ],
      success: [
        { op: 'put', key: 'account:a', value: { balance: 70 } },
        { op: 'put', key: 'lock:job-7', value: 'worker-3', ttl: 30 },
        { op: 'delete', key: 'tmp:1' },
        { op: 'get', key: 'config' },
      ],
      failure: [{ op: 'get', key: 'account:a' }],
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.headers.get('x-kv-revision')).toBe('8');
    expect(answer.json).toEqual({
      succeeded: true,
      revision: 8,
      results: [
        { key: 'account:a', modRevision: 6, version: 2 },
        {
          key: 'lock:job-7',
          modRevision: 7,
          version: 1,
          ttl: expect.any(Number),
          expiresAt: expect.any(String),
        },
        { key: 'tmp:1', deleted: true },
        { key: 'config', value: { mode: 'blue' } },
      ],
    });
    expect((await call('GET', '/key/account:a')).json).toEqual({
      key: 'account:a',
      value: { balance: 70 },
    });
    expect((await call('GET', '/key/tmp:1')).status).toBe(404);
    expect((await call('GET', '/key/lock:job-7')).headers.get('etag')).toBe('"7"');
  });

  it('runs failure when a compare fails, and writes nothing of success', async () => {
    const before = await dump();
    const answer = await txn({
      compare: [{ key: 'account:a', modRevision: 41 }],
      success: [{ op: 'put', key: 'account:a', value: 0 }],
      failure: [
        { op: 'get', key: 'account:a', meta: true },
        { op: 'get', key: 'missing' },
      ],
    });
    expect(answer.json).toEqual({
      succeeded: false,
      revision: 5,
      results: [
        {
          key: 'account:a',
          value: { balance: 100 },
          createRevision: 1,
          modRevision: 1,
          version: 1,
        },
        { key: 'missing', found: false },
      ],
    });
    expect(await dump()).toEqual(before);
  });

  it.each([
    [{ key: 'counter', createRevision: 3 }, true],
    [{ key: 'counter', createRevision: 4 }, false],
    [{ key: 'nope', version: 0 }, true],
    [{ key: 'nope', modRevision: 0 }, true],
    [{ key: 'nope', createRevision: 0 }, true],
    [{ key: 'counter', version: 0 }, false],
    [{ key: 'counter', exists: true }, true],
    [{ key: 'counter', value: 2 }, true],
    [{ key: 'counter', value: '2' }, false],
    [{ key: 'config', value: { mode: 'blue' } }, true],
    [{ key: 'nope', value: null }, false],
  ])('compares %j: holds = %s', async (compare, holds) => {
    expect((await txn({ compare: [compare] })).json).toMatchObject({ succeeded: holds });
  });

  it('holds an empty or absent compare, and answers a delete of a missing key', async () => {
    expect((await txn({})).json).toEqual({ succeeded: true, revision: 5, results: [] });
    const answer = await txn({ compare: [], success: [{ op: 'delete', key: 'never' }] });
    expect(answer.json).toEqual({
      succeeded: true,
      revision: 5,
      results: [{ key: 'never', deleted: false }],
    });
  });

  it('keeps or replaces an expiry as PUT /key does', async () => {
    await call('PUT', '/key/session?ttl=60', '"t"');
    const answer = await txn({
      success: [
        { op: 'put', key: 'session', value: '"u"', keepTtl: true },
        { op: 'put', key: 'counter', value: 3 },
      ],
    });
    const [session, counter] = (answer.json as { results: Record<string, unknown>[] }).results;
    expect(session).toMatchObject({ key: 'session', expiresAt: expect.any(String) });
    expect(counter).toEqual({ key: 'counter', modRevision: 8, version: 3 });
  });

  it('gives a read-only transaction a consistent multi-get without a revision of its own', async () => {
    const answer = await txn({
      success: [
        { op: 'get', key: 'account:a' },
        { op: 'get', key: 'counter', meta: true },
      ],
    });
    expect(answer.json).toEqual({
      succeeded: true,
      revision: 5,
      results: [
        { key: 'account:a', value: { balance: 100 } },
        { key: 'counter', value: 2, createRevision: 3, modRevision: 4, version: 2 },
      ],
    });
  });

  const tooMany = Array.from({ length: 5 }, (_, i) => ({ op: 'get', key: `k${i}` }));
  it.each<[string, string, string]>([
    ['invalid JSON', '{"success": [', 'Invalid JSON'],
    ['a body that is not an object', '[1]', 'body: must be a JSON object'],
    ['an unknown member', '{"succes": []}', 'succes: property succes should not exist'],
    ['a branch that is not an array', '{"success": {}}', 'success: must be an array'],
    [
      'an op that is not an object',
      '{"success": [3]}',
      'success[0]: every entry must be an object',
    ],
    [
      'an op that is an array of objects',
      '{"success": [[{"op": "get", "key": "a"}]]}',
      'success[0]: an entry must be an object, not an array',
    ],
    [
      'an unknown op',
      '{"success": [{"op": "incr", "key": "a"}]}',
      'success[0].op: must be one of put, delete, get',
    ],
    [
      'a key that is not a string',
      '{"failure": [{"op": "get", "key": 7}]}',
      'failure[0].key: must be a string',
    ],
    [
      'an empty key',
      '{"success": [{"op": "get", "key": ""}]}',
      'success[0].key: Key must not be empty',
    ],
    [
      'a long key',
      '{"success": [{"op": "get", "key": "12345678901234567"}]}',
      'success[0].key: Key is longer than 16 bytes',
    ],
    [
      'U+0000 in a key',
      '{"compare": [{"key": "a\\u0000", "exists": true}]}',
      'compare[0].key: Key must not contain U+0000 (NUL)',
    ],
    [
      'a put without a value',
      '{"success": [{"op": "put", "key": "a"}]}',
      'success[0].value: a put needs a value',
    ],
    [
      'a value on a delete',
      '{"success": [{"op": "delete", "key": "a", "value": 1}]}',
      'success[0].value: only a put has value',
    ],
    [
      'a ttl on a get',
      '{"success": [{"op": "get", "key": "a", "ttl": 1}]}',
      'success[0].ttl: only a put has ttl',
    ],
    [
      'meta on a put',
      '{"success": [{"op": "put", "key": "a", "value": 1, "meta": true}]}',
      'success[0].meta: only a get has meta',
    ],
    [
      'a ttl that is not a number',
      '{"success": [{"op": "put", "key": "a", "value": 1, "ttl": "5"}]}',
      'success[0].ttl: must be a number of seconds',
    ],
    [
      'a ttl out of range',
      '{"success": [{"op": "put", "key": "a", "value": 1, "ttl": 0}]}',
      'success[0].ttl: ttl must be a number of seconds from 0.001',
    ],
    [
      'ttl with keepTtl',
      '{"success": [{"op": "put", "key": "a", "value": 1, "ttl": 5, "keepTtl": true}]}',
      'success[0].ttl: ttl and keepTtl cannot be used together',
    ],
    [
      'a keepTtl that is not a boolean',
      '{"success": [{"op": "put", "key": "a", "value": 1, "keepTtl": 1}]}',
      'success[0].keepTtl: must be true or false',
    ],
    [
      'a compare without a target',
      '{"compare": [{"key": "a"}]}',
      'compare[0]: a compare needs exactly one of',
    ],
    [
      'a compare with two targets',
      '{"compare": [{"key": "a", "exists": true, "version": 1}]}',
      'compare[0]: a compare needs exactly one of',
    ],
    [
      'a negative modRevision',
      '{"compare": [{"key": "a", "modRevision": -1}]}',
      'compare[0].modRevision: must be an integer from 0',
    ],
    [
      'a fractional version',
      '{"compare": [{"key": "a", "version": 1.5}]}',
      'compare[0].version: must be an integer from 0',
    ],
    [
      'an exists that is not a boolean',
      '{"compare": [{"key": "a", "exists": "no"}]}',
      'compare[0].exists: must be true or false',
    ],
    [
      'too many ops in a branch',
      JSON.stringify({ failure: tooMany }),
      'failure: a branch holds at most 4 ops (MAX_TXN_OPS), got 5',
    ],
    [
      'a key written twice',
      '{"success": [{"op": "put", "key": "a", "value": 1}, {"op": "delete", "key": "a"}]}',
      'success[1].key: the key is already written by success[0]',
    ],
    [
      'a value nested too deep',
      `{"success": [{"op": "put", "key": "a", "value": ${'['.repeat(70)}${']'.repeat(70)}}]}`,
      'Invalid JSON',
    ],
    [
      'a number that overflows',
      '{"success": [{"op": "put", "key": "a", "value": 1e400}]}',
      'Invalid JSON',
    ],
  ])('refuses %s with 400 naming the op and field, changing nothing', async (_, body, message) => {
    const before = await dump();
    const answer = await call('POST', '/txn', body);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: expect.stringContaining(message) });
    expect(await dump()).toEqual(before);
  });

  it('refuses a body over MAX_TXN_BYTES with 413, changing nothing, and takes one below it', async () => {
    const before = await dump();
    const body = (size: number) => {
      const frame = JSON.stringify({ success: [{ op: 'put', key: 'a', value: '' }] });
      return JSON.stringify({
        success: [{ op: 'put', key: 'a', value: 'x'.repeat(size - frame.length) }],
      });
    };
    const over = await call('POST', '/txn', body(MAX_TXN_BYTES + 1));
    expect(over.status).toBe(413);
    expect(over.json).toEqual({
      error: `Transaction is larger than ${MAX_TXN_BYTES} bytes`,
      maxBytes: MAX_TXN_BYTES,
    });
    expect(await dump()).toEqual(before);
    // Larger than MAX_VALUE_BYTES: the route has its own limit.
    expect((await call('POST', '/txn', body(MAX_TXN_BYTES))).status).toBe(200);
  });
});

describe.each(HTTP_ADAPTERS)('transactions on /watch (%s)', (adapter) => {
  let server: TestApp;
  const txn = (body: unknown) => http(server.url, 'POST', '/txn', JSON.stringify(body));

  beforeAll(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter });
  });

  afterAll(async () => {
    await server.close();
  });

  it('delivers a transaction as one txn event, and Last-Event-ID resumes after all of it', async () => {
    const from = Number(
      (await http(server.url, 'PUT', '/key/before', '1')).headers.get('x-kv-revision'),
    );
    const live = await SseStream.open(server.url, `/watch?fromRevision=${from}&pattern=acc*`);
    await http(server.url, 'PUT', '/key/acc:x', '0');
    await txn({
      success: [
        { op: 'put', key: 'acc:a', value: 1 },
        { op: 'put', key: 'other', value: 1 },
        { op: 'delete', key: 'acc:x' },
      ],
    });
    await http(server.url, 'PUT', '/key/acc:b', '2');
    const events = await live.events(3);
    live.close();
    expect(events.map((event) => [event.event, event.id])).toEqual([
      ['put', String(from + 1)],
      ['txn', String(from + 4)],
      ['put', String(from + 5)],
    ]);
    expect(JSON.parse(events[1].data!)).toEqual({
      revision: from + 4,
      changes: [
        { revision: from + 2, type: 'put', key: 'acc:a', value: 1, expiresAt: null },
        { revision: from + 4, type: 'delete', key: 'acc:x' },
      ],
    });
    // Asking for a revision inside it gets all of it; resuming after its id gets what follows.
    const inside = await SseStream.open(server.url, `/watch?fromRevision=${from + 3}`);
    expect((await inside.events(1))[0]).toMatchObject({ event: 'txn', id: String(from + 4) });
    inside.close();
    const resumed = await SseStream.open(server.url, '/watch', {
      'last-event-id': String(from + 4),
    });
    expect((await resumed.events(1))[0]).toMatchObject({ event: 'put', id: String(from + 5) });
    resumed.close();
  });
});

describe.each(HTTP_ADAPTERS)('transactions with AUTH_TOKEN (%s)', (adapter) => {
  let server: TestApp;

  beforeAll(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter, AUTH_TOKEN: 'secret' });
  });

  afterAll(async () => {
    await server.close();
  });

  it('needs the token like every data route', async () => {
    const body = JSON.stringify({ success: [{ op: 'put', key: 'a', value: 1 }] });
    const refused = await http(server.url, 'POST', '/txn', body);
    expect(refused.status).toBe(401);
    expect(
      (await http(server.url, 'GET', '/key/a', undefined, { authorization: 'Bearer secret' }))
        .status,
    ).toBe(404);
    const accepted = await http(server.url, 'POST', '/txn', body, {
      authorization: 'Bearer secret',
    });
    expect(accepted.json).toMatchObject({ succeeded: true, revision: 1 });
  });
});
