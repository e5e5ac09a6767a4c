import helmet from 'helmet';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  it('are exactly the headers helmet sets on a real response', async () => {
    const fromHelmet = await headersHelmetSets();
    expect(securityHeaders()).toEqual(fromHelmet);
    expect(Object.keys(fromHelmet)).toEqual(
      expect.arrayContaining(['content-security-policy', 'x-content-type-options']),
    );
  });

  it('cannot be changed by a caller', () => {
    const headers = securityHeaders() as Record<string, string>;
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
