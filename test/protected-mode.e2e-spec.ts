import { networkInterfaces } from 'node:os';
import { REMOTE_HOST_REFUSAL, REMOTE_PEER_REFUSAL } from '../src/http/protected-mode';
import { KvService } from '../src/kv/kv.service';
import { http } from './support/http-client';
import { rawExchange, rawRequest, RawResponse } from './support/raw-http';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/**
 * Protected mode (docs/API.md, "Protected mode"): with no AUTH_TOKEN, only loopback clients
 * naming a loopback Host are served. The Host rule is tested over loopback with raw requests
 * (fetch cannot set Host). The peer rule needs a client that is not on loopback: this machine's
 * own non-loopback address (the server listens on that address alone, for the test).
 */
const REMOTE_ADDRESS = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')?.address;
const withRemoteAddress = REMOTE_ADDRESS === undefined ? it.skip : it;

const HOST_REFUSAL = JSON.parse(REMOTE_HOST_REFUSAL) as { error: string };
const PEER_REFUSAL = JSON.parse(REMOTE_PEER_REFUSAL) as { error: string };

const REMOTE_HOSTS = [
  'evil.example',
  'evil.example:4000',
  'localhost.evil.example',
  '127.0.0.1.evil.example',
  '2130706433',
  '0.0.0.0:4000',
  '[::2]:4000',
];

/** Every kind of route: data, listing, feed, docs, metrics, health's neighbours, none at all. */
const ROUTES: Array<[string, string, string?]> = [
  ['PUT', '/key/known', '"overwritten"'],
  ['DELETE', '/key/known'],
  ['GET', '/key/known'],
  ['PUT', '/ttl/known', '{"ttl":1}'],
  ['GET', '/keys'],
  ['GET', '/stats'],
  ['GET', '/watch'],
  ['GET', '/docs'],
  ['GET', '/docs-json'],
  ['GET', '/metrics'],
  ['GET', '/healthz'],
  ['GET', '/no-such-route'],
];

async function send(
  url: string,
  line: string,
  headers: Record<string, string>,
  body = '',
): Promise<RawResponse> {
  const exchange = await rawExchange(url, rawRequest(line, headers, body), { responses: 1 });
  expect(exchange.responses).toHaveLength(1);
  return exchange.responses[0];
}

const isJson = (answer: RawResponse) => /^application\/json/.test(answer.headers['content-type']);

describe.each(HTTP_ADAPTERS)('protected mode (%s)', (adapter) => {
  describe('on by default, without a token', () => {
    let server: TestApp;

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter });
      expect((await http(server.url, 'PUT', '/key/known', '"kept"')).status).toBe(200);
    });

    afterAll(async () => {
      await server.close();
    });

    it('serves the classic contract on loopback, with CORS * and no private-network grant', async () => {
      expect((await http(server.url, 'PUT', '/key/k', '"v"')).json).toEqual({
        success: true,
        key: 'k',
        value: 'v',
      });
      expect((await http(server.url, 'DELETE', '/key/k')).status).toBe(200);
      const preflight = await http(server.url, 'OPTIONS', '/key/k', undefined, {
        Origin: 'https://evil.example',
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Private-Network': 'true',
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-private-network')).toBeNull();
      const get = await http(server.url, 'GET', '/key/known', undefined, {
        Origin: 'https://evil.example',
      });
      expect([get.status, get.headers.get('access-control-allow-origin')]).toEqual([200, '*']);
    });

    it.each(REMOTE_HOSTS)(
      'answers 403 JSON saying how to open the server to Host %p on every route',
      async (host) => {
        for (const [method, path, body] of ROUTES) {
          const answer = await send(
            server.url,
            `${method} ${path} HTTP/1.1`,
            { Host: host, Origin: 'https://evil.example' },
            body,
          );
          expect({ method, path, status: answer.status, json: answer.json }).toEqual({
            method,
            path,
            status: 403,
            json: HOST_REFUSAL,
          });
          expect(isJson(answer)).toBe(true);
          expect(answer.headers['access-control-allow-origin']).toBeUndefined();
          expect(answer.headers['x-content-type-options']).toBe('nosniff');
        }
        const preflight = await send(server.url, 'OPTIONS /key/known HTTP/1.1', {
          Host: host,
          Origin: 'https://evil.example',
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Private-Network': 'true',
        });
        expect([preflight.status, preflight.json]).toEqual([403, HOST_REFUSAL]);
        expect(Object.keys(preflight.headers).filter((name) => name.startsWith('access-'))).toEqual(
          [],
        );
        expect((await http(server.url, 'GET', '/key/known')).json).toEqual({
          key: 'known',
          value: 'kept',
        });
      },
    );

    it('says what to do: set AUTH_TOKEN or PROTECTED_MODE=false', () => {
      expect(HOST_REFUSAL.error).toMatch(/^Protected mode: .*Host header.*DNS rebinding/);
      expect(HOST_REFUSAL.error).toContain('set AUTH_TOKEN (or AUTH_TOKEN_FILE)');
      expect(HOST_REFUSAL.error).toContain('set PROTECTED_MODE=false');
    });

    it.each([
      'localhost',
      'LOCALHOST',
      'localhost:4000',
      'app.localhost:8080',
      '127.0.0.1',
      '127.1.2.3:9',
      '[::1]:4000',
    ])('serves a loopback client naming the loopback Host %p', async (host) => {
      const answer = await send(server.url, 'GET /key/known HTTP/1.1', { Host: host });
      expect([answer.status, answer.json]).toEqual([200, { key: 'known', value: 'kept' }]);
    });

    it('serves an HTTP/1.0 request without Host (no browser sends one)', async () => {
      const exchange = await rawExchange(server.url, 'GET /key/known HTTP/1.0\r\n\r\n', {
        responses: 1,
      });
      expect(exchange.responses.map((answer) => [answer.status, answer.json])).toEqual([
        [200, { key: 'known', value: 'kept' }],
      ]);
    });

    it('keeps /health and /health/ready open to probes naming any Host', async () => {
      for (const path of ['/health', '/health/ready']) {
        const answer = await send(server.url, `GET ${path} HTTP/1.1`, { Host: '10.1.2.3:4000' });
        expect([path, answer.status, (answer.json as { status: string }).status]).toEqual([
          path,
          200,
          'ok',
        ]);
      }
    });

    withRemoteAddress(
      'answers 403 JSON to a client on a non-loopback address, whatever its Host says',
      async () => {
        const remote = await startTestApp({ HTTP_ADAPTER: adapter }, undefined, REMOTE_ADDRESS);
        try {
          for (const host of ['localhost', `${REMOTE_ADDRESS}`]) {
            const answer = await send(remote.url, 'PUT /key/k HTTP/1.1', { Host: host }, '1');
            expect([answer.status, answer.json, isJson(answer)]).toEqual([403, PEER_REFUSAL, true]);
          }
          expect((await http(remote.url, 'GET', '/keys')).status).toBe(403);
          expect((await http(remote.url, 'GET', '/health/ready')).status).toBe(200);
          const stats = (await remote.app.get(KvService).stats()).totalKeys;
          expect(stats).toBe(0);
        } finally {
          await remote.close();
        }
      },
    );
  });

  describe('lifted by a token', () => {
    const token = 'protected-mode-token';
    let server: TestApp;

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, AUTH_TOKEN: token });
    });

    afterAll(async () => {
      await server.close();
    });

    it('serves any Host, with the token and only with it', async () => {
      const without = await send(server.url, 'PUT /key/k HTTP/1.1', { Host: 'evil.example' }, '1');
      expect([without.status, without.json]).toEqual([401, { error: 'Missing bearer token' }]);
      const withToken = await send(
        server.url,
        'PUT /key/k HTTP/1.1',
        { Host: 'kvstore.internal:4000', Authorization: `Bearer ${token}` },
        '1',
      );
      expect([withToken.status, withToken.json]).toEqual([
        200,
        { success: true, key: 'k', value: 1 },
      ]);
    });

    withRemoteAddress(
      'serves a client on a non-loopback address that sends the token',
      async () => {
        const remote = await startTestApp(
          { HTTP_ADAPTER: adapter, AUTH_TOKEN: token },
          undefined,
          REMOTE_ADDRESS,
        );
        try {
          const headers = { Authorization: `Bearer ${token}` };
          expect((await http(remote.url, 'PUT', '/key/k', '1', headers)).status).toBe(200);
          expect((await http(remote.url, 'GET', '/key/k')).status).toBe(401);
        } finally {
          await remote.close();
        }
      },
    );
  });

  describe('turned off with PROTECTED_MODE=false', () => {
    it('serves every Host and every address without a token', async () => {
      const environment = { HTTP_ADAPTER: adapter, PROTECTED_MODE: 'false' };
      const server = await startTestApp(environment);
      try {
        const answer = await send(server.url, 'PUT /key/k HTTP/1.1', { Host: 'evil.example' }, '1');
        expect([answer.status, answer.json]).toEqual([200, { success: true, key: 'k', value: 1 }]);
      } finally {
        await server.close();
      }
      if (REMOTE_ADDRESS === undefined) return;
      const remote = await startTestApp(environment, undefined, REMOTE_ADDRESS);
      try {
        expect((await http(remote.url, 'PUT', '/key/k', '1')).status).toBe(200);
      } finally {
        await remote.close();
      }
    });
  });
});
