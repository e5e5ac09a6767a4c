import helmet from 'helmet';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  apiSecurityHeaders,
  requestCameOverTls,
  securityHeaders,
  securityHeadersFor,
} from './security-headers';

describe('apiSecurityHeaders', () => {
  it('are, over plain HTTP, the set of OWASP’s REST Security Cheat Sheet', () => {
    expect(apiSecurityHeaders(false)).toEqual({
      'cache-control': 'no-store',
      'content-security-policy': "frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
  });

  it('add, over TLS, helmet’s Strict-Transport-Security', async () => {
    const fromHelmet = await headersHelmetSets();
    expect(apiSecurityHeaders(true)).toEqual({
      ...apiSecurityHeaders(false),
      'strict-transport-security': fromHelmet['strict-transport-security'],
    });
  });
});

describe('securityHeadersFor', () => {
  it.each(['/docs', '/docs/', '/docs/swagger-ui.css', '/docs?x=1', '/docs-json'])(
    'gives Swagger UI’s %s helmet’s full set',
    (url) => {
      expect(securityHeadersFor(url, false)).toEqual(securityHeaders(false));
      expect(securityHeadersFor(url, true)).toEqual(securityHeaders(true));
    },
  );

  it.each(['/key/docs', '/keys', '/docsx', '/', '/health', '/key/a?meta=true'])(
    'gives %s the API set',
    (url) => {
      expect(securityHeadersFor(url, false)).toEqual(apiSecurityHeaders(false));
      expect(securityHeadersFor(url, true)).toEqual(apiSecurityHeaders(true));
    },
  );
});

describe('securityHeaders (Swagger UI)', () => {
  it('are, over TLS, exactly the headers helmet sets on a real response', async () => {
    const fromHelmet = await headersHelmetSets();
    expect(securityHeaders(true)).toEqual(fromHelmet);
    expect(Object.keys(fromHelmet)).toEqual(
      expect.arrayContaining(['content-security-policy', 'x-content-type-options']),
    );
    expect(fromHelmet['content-security-policy']).toContain('upgrade-insecure-requests');
    expect(fromHelmet['strict-transport-security']).toBeDefined();
  });

  it('leave out, over plain HTTP, HSTS and the CSP directive that sends assets to https', async () => {
    const fromHelmet = await headersHelmetSets();
    const others = { ...fromHelmet };
    delete others['strict-transport-security'];
    expect(securityHeaders(false)).toEqual({
      ...others,
      'content-security-policy': fromHelmet['content-security-policy']
        .split(';')
        .filter((directive) => directive !== 'upgrade-insecure-requests')
        .join(';'),
    });
    expect(securityHeaders(false)['content-security-policy']).toContain("script-src 'self'");
  });

  it.each([
    ['https', true],
    ['HTTPS', true],
    ['https, http', true],
    ['http, https', false],
    ['http', false],
    ['', false],
    [undefined, false],
    [['https', 'http'], true],
  ])('reads X-Forwarded-Proto %j as TLS: %s', (header, overTls) => {
    expect(requestCameOverTls(header)).toBe(overTls);
  });

  it.each([
    ['helmet’s', securityHeaders(false)],
    ['the API’s', apiSecurityHeaders(false)],
  ])('%s set cannot be changed by a caller', (_name, set) => {
    const headers = set as Record<string, string>;
    expect(() => {
      headers['x-frame-options'] = 'ALLOWALL';
    }).toThrow(TypeError);
  });
});

/** Runs helmet as middleware on a real server and reads back what it set. */
async function headersHelmetSets(): Promise<Record<string, string>> {
  const middleware = helmet();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    middleware(request, response, () => {
      const headers = Object.fromEntries(
        Object.entries(response.getHeaders()).map(([name, value]) => [name, String(value)]),
      );
      response.end(JSON.stringify(headers));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    return (await answer.json()) as Record<string, string>;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
