import helmet from 'helmet';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestCameOverTls, securityHeaders } from './security-headers';

describe('securityHeaders', () => {
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

  it('cannot be changed by a caller', () => {
    const headers = securityHeaders(false) as Record<string, string>;
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
