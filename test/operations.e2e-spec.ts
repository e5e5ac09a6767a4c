import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

describe.each(HTTP_ADAPTERS)('operating the service (%s)', (adapter) => {
  describe('health and metrics', () => {
    let server: TestApp;
    const call = (method: string, path: string, body?: string) =>
      http(server.url, method, path, body);

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter });
    });

    afterAll(async () => {
      await server.close();
    });

    it('answers liveness and readiness', async () => {
      expect(await call('GET', '/health')).toMatchObject({ status: 200, json: { status: 'ok' } });
      expect(await call('GET', '/health/ready')).toMatchObject({
        status: 200,
        json: { status: 'ok', info: { storage: { status: 'up' } } },
      });
    });

    it('exposes Prometheus metrics by route template, store figures and process metrics', async () => {
      await call('PUT', '/key/a%2Fb', '1');
      await call('PUT', '/key/c', '2');
      await call('GET', '/key/missing');
      const metrics = await call('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(metrics.text).toMatch(
        /^http_requests_total\{method="PUT",route="\/key\/\{key\}",status="200"\} 2$/m,
      );
      expect(metrics.text).toMatch(
        /^http_requests_total\{method="GET",route="\/key\/\{key\}",status="404"\} 1$/m,
      );
      expect(metrics.text).toMatch(
        /^http_request_duration_seconds_bucket\{le="0\.0005",method="PUT",route="\/key\/\{key\}",status="200"\} \d+$/m,
      );
      expect(metrics.text).toMatch(/^kv_keys 2$/m);
      expect(metrics.text).not.toContain('missing');
      expect(metrics.text).not.toContain('route="/key/c"');
      expect(metrics.text).toMatch(/^kv_expired_keys_total 0$/m);
      expect(metrics.text).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(metrics.text).not.toContain('a/b');
    });

    it('labels every route by its template and leaves requests that matched none out', async () => {
      await call('GET', '/key');
      await call('GET', '/keys?limit=1');
      await call('GET', '/ttl/some/key');
      await call('PUT', '/ttl/x', 'not json');
      await call('GET', '/no-such-route');
      const { text } = await call('GET', '/metrics');
      const routes = new Set(
        [...text.matchAll(/^http_requests_total\{[^}]*route="([^"]*)"/gm)].map((m) => m[1]),
      );
      const templates = [
        '/health',
        '/health/ready',
        '/key/{key}',
        '/keys',
        '/metrics',
        '/ttl/{key}',
      ];
      expect([...routes]).toEqual(expect.arrayContaining(['/key/{key}', '/keys', '/ttl/{key}']));
      for (const route of routes) expect(templates).toContain(route);
      expect(text).toMatch(
        /^http_requests_total\{method="PUT",route="\/ttl\/\{key\}",status="400"\} 1$/m,
      );
      expect(text).not.toContain('no-such-route');
    });

    it.each([
      ['a stored key', 'GET', '/keys', {}],
      ['a missing key', 'GET', '/key/absent', {}],
      ['a route that does not exist', 'GET', '/no-such-route', {}],
      ['a malformed path', 'GET', '/key/%zz%', {}],
      [
        'a CORS preflight',
        'OPTIONS',
        '/key/a',
        { Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT' },
      ],
    ])('sends the API security headers on %s', async (_label, method, path, headers) => {
      const answer = await http(server.url, method, path, undefined, headers);
      // OWASP's REST Security Cheat Sheet set (docs/API.md), and none of helmet's HTML headers.
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('cross-origin-opener-policy')).toBeNull();
      expect(answer.headers.get('x-xss-protection')).toBeNull();
      // Plain HTTP: no HSTS.
      expect(answer.headers.get('strict-transport-security')).toBeNull();
      expect(answer.headers.get('x-powered-by')).toBeNull();
    });

    it.each(['/docs', '/docs-json'])('sends helmet’s full set on %s', async (path) => {
      const answer = await http(server.url, 'GET', path);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(answer.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(answer.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      // Plain HTTP: no HSTS, and no CSP directive that would send the browser to https.
      expect(answer.headers.get('strict-transport-security')).toBeNull();
      expect(answer.headers.get('content-security-policy')).not.toContain('upgrade-insecure');
    });

    it('believes no X-Forwarded-Proto without TRUST_PROXY', async () => {
      const answer = await http(server.url, 'GET', '/docs', undefined, {
        'X-Forwarded-Proto': 'https',
      });
      expect(answer.headers.get('strict-transport-security')).toBeNull();
      expect(answer.headers.get('content-security-policy')).not.toContain('upgrade-insecure');
    });
  });

  describe('behind a TLS proxy (TRUST_PROXY=true)', () => {
    let server: TestApp;

    beforeAll(async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, TRUST_PROXY: 'true' });
    });

    afterAll(async () => {
      await server.close();
    });

    it.each(['/docs', '/key/absent', '/no-such-route'])(
      'sends HSTS on %s only when the proxy says https',
      async (path) => {
        const overTls = await http(server.url, 'GET', path, undefined, {
          'X-Forwarded-Proto': 'https',
        });
        expect(overTls.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
        // Only Swagger UI's page has a CSP for its assets, and the directive that upgrades them.
        if (path === '/docs') {
          expect(overTls.headers.get('content-security-policy')).toContain(
            'upgrade-insecure-requests',
          );
        } else {
          expect(overTls.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
        }
        for (const proto of [undefined, 'http']) {
          const headers: Record<string, string> = proto ? { 'X-Forwarded-Proto': proto } : {};
          const plain = await http(server.url, 'GET', path, undefined, headers);
          expect(plain.headers.get('strict-transport-security')).toBeNull();
          expect(plain.headers.get('content-security-policy')).not.toContain('upgrade-insecure');
        }
      },
    );
  });

  it('serves no /metrics with METRICS_ENABLED=false', async () => {
    const server = await startTestApp({ HTTP_ADAPTER: adapter, METRICS_ENABLED: 'false' });
    try {
      expect((await http(server.url, 'PUT', '/key/a', '1')).status).toBe(200);
      expect(await http(server.url, 'GET', '/metrics')).toMatchObject({
        status: 404,
        json: { error: expect.any(String) },
      });
      expect((await http(server.url, 'GET', '/health')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  describe('with AUTH_TOKEN', () => {
    let server: TestApp;
    const token = 's3cret-token-for-tests';
    const call = (
      path: string,
      headers: Record<string, string> = {},
      method = 'GET',
      body?: string,
    ) => http(server.url, method, path, body, headers);
    const bearer = (value: string) => ({ Authorization: `Bearer ${value}` });

    afterEach(async () => {
      await server.close();
    });

    it('requires the bearer token on every data route and leaves health open', async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, AUTH_TOKEN: token });
      for (const [method, path] of [
        ['GET', '/key/a'],
        ['PUT', '/key/a'],
        ['DELETE', '/key/a'],
        ['GET', '/keys'],
        ['GET', '/ttl/a'],
        ['PUT', '/ttl/a'],
        ['GET', '/stats'],
      ]) {
        for (const headers of [
          {},
          bearer('wrong'),
          bearer(token + 'x'),
          { Authorization: token },
        ]) {
          const answer = await call(path, headers, method, method === 'PUT' ? '1' : undefined);
          expect({ method, path, status: answer.status }).toEqual({ method, path, status: 401 });
          expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="kvstore"');
          expect(typeof (answer.json as { error: unknown }).error).toBe('string');
        }
      }
      expect((await call('/key/a', bearer(token), 'PUT', '"v"')).status).toBe(200);
      expect((await call('/key/a', bearer(token))).json).toEqual({ key: 'a', value: 'v' });
      expect((await call('/health')).status).toBe(200);
      expect((await call('/health/ready')).status).toBe(200);
      expect((await call('/metrics')).status).toBe(200);
    });

    it('changed nothing on a refused write', async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, AUTH_TOKEN: token });
      await call('/key/a', bearer(token), 'PUT', '"kept"');
      await call('/key/a', bearer('nope'), 'PUT', '"overwritten"');
      await call('/key/a', {}, 'DELETE');
      expect((await call('/key/a', bearer(token))).json).toEqual({ key: 'a', value: 'kept' });
    });

    it('protects /metrics when METRICS_PUBLIC=false', async () => {
      server = await startTestApp({
        HTTP_ADAPTER: adapter,
        AUTH_TOKEN: token,
        METRICS_PUBLIC: 'false',
      });
      expect((await call('/metrics')).status).toBe(401);
      expect((await call('/metrics', bearer(token))).status).toBe(200);
    });

    it('answers CORS preflights without a token', async () => {
      server = await startTestApp({ HTTP_ADAPTER: adapter, AUTH_TOKEN: token });
      const preflight = await call(
        '/key/a',
        {
          Origin: 'http://app.test',
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'authorization',
        },
        'OPTIONS',
      );
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain(
        'authorization',
      );
    });
  });
});
