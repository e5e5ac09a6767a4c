import { FakeClock } from '../src/clock/fake-clock';
import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/**
 * Query parameters are DTOs (src/keys/dto, src/watch/dto): a write refuses a parameter it does
 * not know, a read ignores it, and every refusal is 400 {"error"} naming the parameter, with
 * the store unchanged.
 */
describe.each(HTTP_ADAPTERS)('query parameters (%s)', (adapter) => {
  let server: TestApp;
  const call = (method: string, path: string, body?: string) =>
    http(server.url, method, path, body);

  /** The store revision and everything the key holds: any write would change one of them. */
  const storeState = async () => {
    const answer = await call('GET', '/key/k?meta=true');
    return {
      revision: answer.headers.get('x-kv-revision'),
      key: answer.json,
      ttl: (await call('GET', '/ttl/k')).json,
      keys: (await call('GET', '/keys')).text,
    };
  };

  beforeAll(async () => {
    // A clock that stands still, so that the key's remaining ttl is part of its state.
    server = await startTestApp({ HTTP_ADAPTER: adapter }, new FakeClock());
    await call('PUT', '/key/k?ttl=100', '"original"');
  });

  afterAll(async () => {
    await server.close();
  });

  const PUT_KEY = 'Unknown query parameter: this route takes only ttl and keepTtl';
  const NONE = 'Unknown query parameter: this route takes none';

  it.each([
    ['PUT', '/key/k?TTL=5', '1', PUT_KEY],
    ['PUT', '/key/k?EX=5', '1', PUT_KEY],
    ['PUT', '/key/k?ttl=5&px=5000', '1', PUT_KEY],
    ['PUT', '/key/k?keepttl=true', '1', PUT_KEY],
    ['PUT', '/key/k?_=1700000000', '1', PUT_KEY],
    ['PUT', '/key/k?%FF=1', '1', PUT_KEY],
    ['PUT', '/key/k?ttl[]=5', '1', PUT_KEY],
    ['DELETE', '/key/k?force=true', undefined, NONE],
    ['DELETE', '/key/k?ttl=5', undefined, NONE],
    ['PUT', '/ttl/k?ttl=5', '{"ttl":null}', NONE],
    ['PUT', '/ttl/k?dryRun', '{"ttl":null}', NONE],
    ['POST', '/txn?dryRun=true', '{"success":[{"op":"delete","key":"k"}]}', NONE],
  ])('refuses %s %s with 400 naming the known parameters', async (method, path, body, error) => {
    const before = await storeState();
    const answer = await call(method, path, body);
    expect({ status: answer.status, json: answer.json }).toEqual({ status: 400, json: { error } });
    expect(await storeState()).toEqual(before);
  });

  it.each([
    ['PUT', '/key/k?ttl=1e3', '1', 'ttl must be a positive number of seconds'],
    ['PUT', '/key/k?ttl=1&ttl=1', '1', 'ttl must be given once'],
    ['PUT', '/key/k?ttl=%FF', '1', 'ttl has malformed percent-encoding or is not UTF-8'],
    ['PUT', '/key/k?keepTtl=yes', '1', 'keepTtl must be true or false'],
    ['PUT', '/key/k?keepTtl&keepTtl', '1', 'keepTtl must be given once'],
    ['GET', '/key/k?meta=1', undefined, 'meta must be true or false'],
    ['GET', '/key/k?meta=true&meta=false', undefined, 'meta must be given once'],
    ['GET', '/keys?limit=ten', undefined, 'limit must be a positive integer'],
    [
      'GET',
      '/keys?cursor=%E2%82',
      undefined,
      'cursor has malformed percent-encoding or is not UTF-8',
    ],
    [
      'GET',
      '/watch?fromRevision=x',
      undefined,
      'fromRevision must be a revision: an integer from 0',
    ],
    ['PUT', '/ttl/k', '{"ttl":"5"}', 'ttl: must be a number of seconds, or null'],
    ['PUT', '/ttl/k', '{}', 'ttl: must be a number of seconds, or null'],
    ['PUT', '/ttl/k', '[5]', 'body: must be a JSON object'],
  ])('refuses %s %s %s with 400 naming the parameter', async (method, path, body, error) => {
    const before = await storeState();
    const answer = await call(method, path, body);
    expect({ status: answer.status, json: answer.json }).toEqual({ status: 400, json: { error } });
    expect(await storeState()).toEqual(before);
  });

  it('lets reads ignore parameters they do not know, such as cache busters', async () => {
    const before = await storeState();
    const reads = [
      '/key/k?_=1700000000',
      '/key/k?meta=true&_=1',
      '/ttl/k?_=1',
      '/keys?_=1&limit=5',
      '/stats?_=1',
    ];
    for (const path of reads) {
      const answer = await call('GET', path);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
    expect((await call('GET', '/key/k?meta=true&_=1')).json).toEqual(before.key);
    expect(await storeState()).toEqual(before);
  });

  it('takes the parameters a write knows, spelt right', async () => {
    const answer = await call('PUT', '/key/q?keepTtl', '2');
    expect({ status: answer.status, json: answer.json }).toEqual({
      status: 200,
      json: { success: true, key: 'q', value: 2 },
    });
    expect((await call('PUT', '/key/q?ttl=5', '3')).json).toMatchObject({ ttl: 5 });
    expect((await call('DELETE', '/key/q?')).status).toBe(200);
  });

  it('describes the query parameters in the OpenAPI document from the same DTOs', async () => {
    const document = (await call('GET', '/docs-json')).json as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
    };
    const queryOf = (path: string, method: string) =>
      (document.paths[path][method].parameters ?? [])
        .filter((parameter) => parameter.in === 'query')
        .map((parameter) => parameter.name);
    expect({
      getKey: queryOf('/key/{key}', 'get'),
      putKey: queryOf('/key/{key}', 'put'),
      deleteKey: queryOf('/key/{key}', 'delete'),
      listKeys: queryOf('/keys', 'get'),
      getTtl: queryOf('/ttl/{key}', 'get'),
      putTtl: queryOf('/ttl/{key}', 'put'),
      stats: queryOf('/stats', 'get'),
      txn: queryOf('/txn', 'post'),
      watch: queryOf('/watch', 'get'),
    }).toEqual({
      getKey: ['minRevision', 'meta'],
      putKey: ['ttl', 'keepTtl'],
      deleteKey: [],
      listKeys: ['minRevision', 'pattern', 'limit', 'cursor'],
      getTtl: ['minRevision'],
      putTtl: [],
      stats: ['minRevision'],
      txn: [],
      watch: ['minRevision', 'pattern', 'fromRevision'],
    });
  });
});
