import { http } from './support/http-client';
import { SseStream } from './support/sse-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

const WAIT_MS = 200;

/** Reads with ?minRevision=N answer once the node has applied N, or 503 after REPLICA_READ_WAIT_MS. */
describe.each(HTTP_ADAPTERS)('read your writes (%s)', (adapter) => {
  let server: TestApp;
  const call = (method: string, path: string, body?: string) =>
    http(server.url, method, path, body);
  const revisionOf = async (method: string, path: string, body?: string) =>
    Number((await call(method, path, body)).headers.get('x-kv-revision'));
  const storeState = async () => ({
    revision: (await call('GET', '/key/k')).headers.get('x-kv-revision'),
    keys: (await call('GET', '/keys')).text,
  });

  beforeAll(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter, REPLICA_READ_WAIT_MS: String(WAIT_MS) });
  });

  afterAll(async () => {
    await server.close();
  });

  const READS = ['/key/k', '/keys', '/keys?limit=10', '/ttl/k', '/stats'];

  it('answers every read at once for a revision the node has acknowledged', async () => {
    const written = await revisionOf('PUT', '/key/k', '"v1"');
    for (const minRevision of [0, 1, written]) {
      for (const read of READS) {
        const path = `${read}${read.includes('?') ? '&' : '?'}minRevision=${minRevision}`;
        const answer = await call('GET', path);
        expect({ path, status: answer.status }).toEqual({ path, status: 200 });
      }
    }
    expect((await call('GET', `/key/k?minRevision=${written}`)).json).toEqual({
      key: 'k',
      value: 'v1',
    });
  });

  it('holds a read until a later write reaches its revision, then answers with that write', async () => {
    const current = await revisionOf('PUT', '/key/k', '"before"');
    const read = call('GET', `/key/k?minRevision=${current + 1}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await revisionOf('PUT', '/key/k', '"after"')).toBe(current + 1);
    const answer = await read;
    expect({ status: answer.status, json: answer.json }).toEqual({
      status: 200,
      json: { key: 'k', value: 'after' },
    });
  });

  it.each([...READS, '/watch'])(
    'answers GET %s 503 with the applied revision once the wait is over',
    async (read) => {
      const before = await storeState();
      const applied = Number(before.revision);
      const path = `${read}${read.includes('?') ? '&' : '?'}minRevision=${applied + 1000}`;
      const started = Date.now();
      const answer = await call('GET', path);
      expect(Date.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 20);
      expect({
        status: answer.status,
        json: answer.json,
        retryAfter: answer.headers.get('retry-after'),
      }).toEqual({
        status: 503,
        json: {
          error: `Revision ${applied + 1000} is not applied on this node (waited ${WAIT_MS} ms)`,
          revision: applied,
        },
        retryAfter: '1',
      });
      expect(await storeState()).toEqual(before);
    },
  );

  it('opens a /watch stream once the revision is applied', async () => {
    const written = await revisionOf('PUT', '/key/w', '1');
    const stream = await SseStream.open(server.url, `/watch?minRevision=${written}`);
    try {
      expect(stream.status).toBe(200);
      await call('PUT', '/key/w', '2');
      const [event] = await stream.events(1);
      expect({ type: event.event, id: event.id }).toEqual({
        type: 'put',
        id: String(written + 1),
      });
    } finally {
      stream.close();
    }
  });

  it.each([
    ['GET', '/key/k?minRevision=-1', 'minRevision must be a revision: an integer from 0'],
    ['GET', '/keys?minRevision=1.5', 'minRevision must be a revision: an integer from 0'],
    ['GET', '/ttl/k?minRevision=x', 'minRevision must be a revision: an integer from 0'],
    ['GET', '/stats?minRevision=', 'minRevision must be a revision: an integer from 0'],
    ['GET', '/watch?minRevision=1e3', 'minRevision must be a revision: an integer from 0'],
    ['GET', '/key/k?minRevision=1&minRevision=2', 'minRevision must be given once'],
    [
      'PUT',
      '/key/k?minRevision=1',
      'Unknown query parameter: this route takes only ttl and keepTtl',
    ],
    ['DELETE', '/key/k?minRevision=1', 'Unknown query parameter: this route takes none'],
  ])('refuses %s %s with 400', async (method, path, error) => {
    const before = await storeState();
    const answer = await call(method, path, method === 'PUT' ? '"x"' : undefined);
    expect({ status: answer.status, json: answer.json }).toEqual({ status: 400, json: { error } });
    expect(await storeState()).toEqual(before);
  });
});
