import { FakeClock } from '../src/clock/fake-clock';
import { ExpiryService } from '../src/expiry/expiry.service';
import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

describe.each(HTTP_ADAPTERS)('time-to-live (%s)', (adapter) => {
  let server: TestApp;
  let clock: FakeClock;
  const call = (method: string, path: string, body?: string) =>
    http(server.url, method, path, body);
  const iso = (msFromNow: number) => new Date(clock.now() + msFromNow).toISOString();

  beforeEach(async () => {
    clock = new FakeClock();
    server = await startTestApp({ HTTP_ADAPTER: adapter, SWEEP_INTERVAL_MS: '3600000' }, clock);
  });

  afterEach(async () => {
    await server.close();
  });

  it('stores a value with a ttl and reports it on PUT, GET and GET /ttl', async () => {
    expect((await call('PUT', '/key/session?ttl=1.5', '"abc"')).text).toBe(
      `{"success":true,"key":"session","value":"abc","ttl":1.5,"expiresAt":"${iso(1500)}"}`,
    );
    clock.advance(250);
    expect((await call('GET', '/key/session')).text).toBe(
      `{"key":"session","value":"abc","ttl":1.25,"expiresAt":"${iso(1250)}"}`,
    );
    expect((await call('GET', '/ttl/session')).json).toEqual({
      key: 'session',
      ttl: 1.25,
      expiresAt: iso(1250),
    });
  });

  it('answers a key without expiry exactly as the core contract does', async () => {
    await call('PUT', '/key/plain', '1');
    expect((await call('GET', '/key/plain')).text).toBe('{"key":"plain","value":1}');
    expect((await call('GET', '/ttl/plain')).json).toEqual({
      key: 'plain',
      ttl: null,
      expiresAt: null,
    });
  });

  it('makes a key gone for every operation from the millisecond it expires', async () => {
    await call('PUT', '/key/gone?ttl=1', '1');
    await call('PUT', '/key/stays', '1');
    clock.advance(999);
    expect((await call('GET', '/key/gone')).status).toBe(200);
    clock.advance(1);
    expect((await call('GET', '/key/gone')).json).toEqual({ error: 'Key not found', key: 'gone' });
    expect((await call('GET', '/ttl/gone')).status).toBe(404);
    expect((await call('DELETE', '/key/gone')).status).toBe(404);
    expect((await call('PUT', '/ttl/gone', '{"ttl":5}')).status).toBe(404);
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 1, keys: ['stays'] });
    expect((await call('GET', '/stats')).json).toEqual({
      totalKeys: 1,
      storedKeys: 2,
      keysWithExpiry: 0,
      expiredTotal: 0,
    });
  });

  it('creates an expired key afresh on PUT, at the end of the order', async () => {
    await call('PUT', '/key/a?ttl=1', '1');
    await call('PUT', '/key/b', '1');
    clock.advance(1000);
    expect((await call('PUT', '/key/a', '2')).text).toBe('{"success":true,"key":"a","value":2}');
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 2, keys: ['b', 'a'] });
  });

  it('removes the expiry on a plain PUT and keeps it with keepTtl', async () => {
    await call('PUT', '/key/k?ttl=10', '1');
    expect((await call('PUT', '/key/k?keepTtl=true', '2')).json).toMatchObject({
      value: 2,
      ttl: 10,
      expiresAt: iso(10_000),
    });
    expect((await call('PUT', '/key/k', '3')).text).toBe('{"success":true,"key":"k","value":3}');
    expect((await call('GET', '/ttl/k')).json).toMatchObject({ ttl: null });
  });

  it('sets, changes and removes an expiry with PUT /ttl', async () => {
    await call('PUT', '/key/k', '"v"');
    expect((await call('PUT', '/ttl/k', '{"ttl":30}')).json).toEqual({
      success: true,
      key: 'k',
      ttl: 30,
      expiresAt: iso(30_000),
    });
    expect((await call('PUT', '/ttl/k', '{"ttl":null}')).json).toEqual({
      success: true,
      key: 'k',
      ttl: null,
      expiresAt: null,
    });
    expect((await call('GET', '/key/k')).text).toBe('{"key":"k","value":"v"}');
    expect((await call('PUT', '/ttl/missing', '{"ttl":1}')).json).toEqual({
      error: 'Key not found',
      key: 'missing',
    });
  });

  describe('refuses bad ttls and changes nothing', () => {
    const bad: Array<[string, string, string]> = [
      ['PUT', '/key/k?ttl=0', '1'],
      ['PUT', '/key/k?ttl=-1', '1'],
      ['PUT', '/key/k?ttl=abc', '1'],
      ['PUT', '/key/k?ttl=', '1'],
      ['PUT', '/key/k?ttl=Infinity', '1'],
      ['PUT', '/key/k?ttl=1e400', '1'],
      ['PUT', '/key/k?ttl=0.0001', '1'],
      ['PUT', '/key/k?ttl=315360001', '1'],
      ['PUT', '/key/k?ttl=1&ttl=2', '1'],
      ['PUT', '/key/k?ttl=5&keepTtl=true', '1'],
      ['PUT', '/key/k?keepTtl=maybe', '1'],
      ['PUT', '/ttl/k', '{"ttl":0}'],
      ['PUT', '/ttl/k', '{"ttl":"10"}'],
      ['PUT', '/ttl/k', '{}'],
      ['PUT', '/ttl/k', '{"ttl":1,"extra":true}'],
      ['PUT', '/ttl/k', '[1]'],
      ['PUT', '/ttl/k', 'nope'],
    ];
    it.each(bad)('%s %s %s', async (method, path, body) => {
      await call('PUT', '/key/k?ttl=100', '"original"');
      const answer = await call(method, path, body);
      expect(answer.status).toBe(400);
      expect(typeof (answer.json as { error: unknown }).error).toBe('string');
      expect((await call('GET', '/key/k')).json).toEqual({
        key: 'k',
        value: 'original',
        ttl: 100,
        expiresAt: iso(100_000),
      });
    });
  });

  it('sweeps expired keys physically and counts them in /stats', async () => {
    for (let i = 0; i < 50; i++) await call('PUT', `/key/temp${i}?ttl=1`, '1');
    await call('PUT', '/key/later?ttl=5', '1');
    await call('PUT', '/key/forever', '1');
    clock.advance(1000);
    expect((await call('GET', '/stats')).json).toEqual({
      totalKeys: 2,
      storedKeys: 52,
      keysWithExpiry: 1,
      expiredTotal: 0,
    });
    await server.app.get(ExpiryService).sweepNow();
    expect((await call('GET', '/stats')).json).toEqual({
      totalKeys: 2,
      storedKeys: 2,
      keysWithExpiry: 1,
      expiredTotal: 50,
    });
  });
});

describe('the scheduled sweep on the real clock', () => {
  it('removes an expired key within a few intervals, without any read touching it', async () => {
    const server = await startTestApp({ SWEEP_INTERVAL_MS: '20' });
    try {
      await http(server.url, 'PUT', '/key/brief?ttl=0.05', '1');
      const deadline = Date.now() + 2000;
      let stats: unknown;
      do {
        await new Promise((resolve) => setTimeout(resolve, 25));
        stats = (await http(server.url, 'GET', '/stats')).json;
      } while ((stats as { storedKeys: number }).storedKeys > 0 && Date.now() < deadline);
      expect(stats).toEqual({ totalKeys: 0, storedKeys: 0, keysWithExpiry: 0, expiredTotal: 1 });
    } finally {
      await server.close();
    }
  });
});
