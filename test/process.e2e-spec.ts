import { http } from './support/http-client';
import { runServerToExit, startServerProcess } from './support/server-process';

describe('the server process', () => {
  // Each test starts real processes: loading NestJS 12's ESM packages takes seconds on a busy
  // machine, and the server's own start is bounded (server-process.ts) well below this.
  jest.setTimeout(60_000);

  it('starts on the embedded default and logs one start line naming port, storage and endpoints', async () => {
    const server = await startServerProcess({});
    try {
      expect((await http(server.url, 'PUT', '/key/a', '1')).status).toBe(200);
      const startLines = server
        .output()
        .split('\n')
        .filter((line) => line.includes('"msg"'));
      expect(startLines).toHaveLength(1);
      expect(startLines[0]).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(storage: memory/);
      // Fastify is the default platform; the line names the runtime (process.execPath here).
      expect(startLines[0]).toContain(`http: fastify, node: ${process.version})`);
      expect(startLines[0]).toContain('PUT|GET|DELETE /key/{key}');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ STORAGE: 'redis' }, 'STORAGE'],
    [{ MAX_VALUE_BYTES: '-5' }, 'MAX_VALUE_BYTES'],
  ])('stops with a non-zero exit and names the variable for %j', async (environment, name) => {
    const { code, output } = await runServerToExit(environment);
    expect(code).not.toBe(0);
    expect(output).toContain(`Invalid configuration: ${name} must be`);
  });

  it.each(['express', 'fastify'])(
    'logs one line per request at debug level (%s), with its id and never the value or the token',
    async (adapter) => {
      const token = 'token-that-must-not-be-logged';
      const server = await startServerProcess({
        HTTP_ADAPTER: adapter,
        LOG_LEVEL: 'debug',
        AUTH_TOKEN: token,
      });
      try {
        const headers = { Authorization: `Bearer ${token}`, 'X-Request-Id': 'trace-42' };
        const answer = await http(server.url, 'PUT', '/key/k', '"value-not-to-log"', headers);
        expect(answer.status).toBe(200);
      } finally {
        // Stopped first: every line the request could cause has been written and read.
        expect(await server.stop('SIGTERM')).toBe(0);
      }
      const lines = server
        .output()
        .split('\n')
        .filter((line) => line.includes('trace-42'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 20,
        req: { id: 'trace-42', method: 'PUT', url: '/key/k' },
        res: { statusCode: 200 },
      });
      expect(server.output()).not.toContain('value-not-to-log');
      expect(server.output()).not.toContain(token);
    },
  );

  it('logs no line per request at the default level', async () => {
    const server = await startServerProcess({});
    try {
      const headers = { 'X-Request-Id': 'quiet-request' };
      expect((await http(server.url, 'GET', '/key/absent', undefined, headers)).status).toBe(404);
      expect((await http(server.url, 'PUT', '/key/k', '1', headers)).status).toBe(200);
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    expect(server.output()).not.toContain('quiet-request');
    expect(server.output()).not.toContain('/key/absent');
  });

  it('drains and exits 0 on SIGINT', async () => {
    const server = await startServerProcess({});
    expect(await server.stop('SIGINT')).toBe(0);
  });
});
