import * as fc from 'fast-check';
import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

interface Page {
  totalKeys?: number;
  keys: string[];
  nextCursor: string | null;
}

describe.each(HTTP_ADAPTERS)('listing keys (%s)', (adapter) => {
  let server: TestApp;
  const call = (method: string, path: string, body?: string) =>
    http(server.url, method, path, body);
  const list = async (query: string) => (await call('GET', `/keys?${query}`)).json as Page;

  beforeEach(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter });
  });

  afterEach(async () => {
    await server.close();
  });

  it('filters with Redis glob patterns', async () => {
    for (const key of ['user:1', 'user:2', 'user:10', 'order:1', 'a/b/c', 'h?llo', 'hello']) {
      await call('PUT', `/key/${encodeURIComponent(key)}`, '1');
    }
    const cases: Array<[string, string[]]> = [
      ['user:*', ['user:1', 'user:2', 'user:10']],
      ['user:?', ['user:1', 'user:2']],
      ['user:[12]', ['user:1', 'user:2']],
      ['user:[^1]', ['user:2']],
      ['*:1', ['user:1', 'order:1']],
      ['a*c', ['a/b/c']],
      ['h\\?llo', ['h?llo']],
      ['h[a-f]llo', ['hello']],
      ['nothing*', []],
    ];
    for (const [pattern, keys] of cases) {
      expect(await list(`pattern=${encodeURIComponent(pattern)}`)).toEqual({
        totalKeys: keys.length,
        keys,
      });
    }
  });

  it('refuses a malformed pattern, limit or cursor with 400', async () => {
    await call('PUT', '/key/k', '1');
    for (const query of [
      'pattern=%5Babc',
      'limit=0',
      'limit=10001',
      'limit=abc',
      'limit=1.5',
      'limit=',
      'limit=1&cursor=not-a-cursor',
      'cursor=abc',
      'pattern=a&pattern=b',
    ]) {
      const answer = await call('GET', `/keys?${query}`);
      expect({ query, status: answer.status }).toEqual({ query, status: 400 });
      expect(typeof (answer.json as { error: unknown }).error).toBe('string');
    }
  });

  it('answers a backtracking-bait pattern against long keys', async () => {
    const long = 'a'.repeat(1000);
    await call('PUT', `/key/${long}`, '1');
    const answer = await list(`pattern=${encodeURIComponent('*a'.repeat(40) + '*b')}`);
    expect(answer).toEqual({ totalKeys: 0, keys: [] });
  });

  it('pages in insertion order with opaque cursors, with or without a pattern', async () => {
    for (let i = 0; i < 7; i++) await call('PUT', `/key/k${i}`, '1');
    const first = await list('limit=3');
    expect(first).toMatchObject({ totalKeys: 7, keys: ['k0', 'k1', 'k2'] });
    const second = await list(`limit=3&cursor=${first.nextCursor}`);
    expect(second.keys).toEqual(['k3', 'k4', 'k5']);
    const last = await list(`limit=3&cursor=${second.nextCursor}`);
    expect(last).toEqual({ totalKeys: 7, keys: ['k6'], nextCursor: null });

    const matches = await list('limit=2&pattern=k%5B0246%5D');
    expect(matches).toEqual({ keys: ['k0', 'k2'], nextCursor: matches.nextCursor });
    expect(await list(`limit=2&pattern=k%5B0246%5D&cursor=${matches.nextCursor}`)).toEqual({
      keys: ['k4', 'k6'],
      nextCursor: null,
    });
  });

  it('returns every key present throughout exactly once while others write and delete', async () => {
    const stable = Array.from({ length: 60 }, (_, i) => `stable${i}`);
    for (const key of stable) await call('PUT', `/key/${key}`, '1');
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const page: Page = await list(`limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.keys);
      cursor = page.nextCursor;
      // Concurrent writers: delete the key the cursor stands on and re-create it, update
      // stable keys, add and remove churn keys.
      const standing = page.keys[page.keys.length - 1];
      await Promise.all([
        standing?.startsWith('churn') ? call('DELETE', `/key/${standing}`) : Promise.resolve(),
        call('PUT', `/key/churn${round}`, '1'),
        call('DELETE', `/key/churn${round - 2}`),
        call('PUT', `/key/${stable[(round * 7) % 60]}`, '2'),
      ]);
      round++;
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    for (const key of stable) expect(seen).toContain(key);
  });

  it('agrees with a model Map over random sequences of operations', async () => {
    const keyArb = fc.constantFrom('a', 'b', 'c', 'd/e', 'ü', '__proto__');
    const valueArb = fc.jsonValue({ maxDepth: 3 });
    const operationArb = fc.oneof(
      fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }),
      fc.record({ op: fc.constant('get' as const), key: keyArb }),
      fc.record({ op: fc.constant('delete' as const), key: keyArb }),
      fc.record({ op: fc.constant('list' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(operationArb, { maxLength: 25 }), async (operations) => {
        const model = new Map<string, unknown>();
        for (const key of (await list('')).keys)
          await call('DELETE', `/key/${encodeURIComponent(key)}`);
        for (const operation of operations) {
          if (operation.op === 'list') {
            expect(await list('')).toEqual({ totalKeys: model.size, keys: [...model.keys()] });
            continue;
          }
          const path = `/key/${encodeURIComponent(operation.key)}`;
          if (operation.op === 'put') {
            const body = JSON.stringify(operation.value);
            const answer = await call('PUT', path, body);
            expect(answer.status).toBe(200);
            model.set(operation.key, JSON.parse(body));
          } else if (operation.op === 'get') {
            const answer = await call('GET', path);
            if (model.has(operation.key)) {
              expect(answer.json).toEqual({ key: operation.key, value: model.get(operation.key) });
            } else {
              expect(answer.status).toBe(404);
            }
          } else {
            const answer = await call('DELETE', path);
            expect(answer.status).toBe(model.delete(operation.key) ? 200 : 404);
          }
        }
      }),
      { numRuns: 30 },
    );
  });
});
