import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http-client';
import { runServerToExit, startServerProcess } from './support/server-process';

/** The log lines a process printed, parsed; any line that is not JSON fails the test. */
const jsonLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

// Each test starts real processes: seconds each on a busy two-core machine.
jest.setTimeout(60_000);

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
      expect(startLines[0]).toContain(`http: fastify, node: ${process.version},`);
      expect(startLines[0]).toContain('PUT|GET|DELETE /key/{key}');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
  });

  it('names in its start line exactly the endpoints it serves: its OpenAPI paths, /docs and /docs-json', async () => {
    const server = await startServerProcess({});
    try {
      const line = server
        .output()
        .split('\n')
        .find((l) => l.includes('kvstore listening'))!;
      const document = (await http(server.url, 'GET', '/docs-json')).json as {
        paths: Record<string, Record<string, unknown>>;
      };
      // path -> its methods, sorted: the line writes `PUT|GET|DELETE /key/{key}`.
      const served = new Map(
        Object.entries(document.paths).map(([path, operations]) => [
          path,
          Object.keys(operations)
            .map((method) => method.toUpperCase())
            .sort()
            .join('|'),
        ]),
      );
      served.set('/docs', 'GET').set('/docs-json', 'GET');
      const named = new Map(
        line
          .slice(line.indexOf('endpoints: ') + 'endpoints: '.length)
          .replace(/"}$/, '')
          .split(', ')
          .map((entry) => [entry.split(' ')[1], entry.split(' ')[0].split('|').sort().join('|')]),
      );
      expect(named).toEqual(served);
      expect(served.get('/watch')).toBe('GET');
      expect((await http(server.url, 'GET', '/docs')).status).toBe(200);
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

  it.each([
    [{}, 'access: protected mode, loopback clients only (set AUTH_TOKEN, or PROTECTED_MODE=false'],
    [{ AUTH_TOKEN: 'start-line-token' }, 'access: bearer token required'],
    [
      { PROTECTED_MODE: 'false' },
      'access: open to every client without a token (PROTECTED_MODE=false)',
    ],
  ])('says in its start line which access mode is on for %j', async (environment, mode) => {
    const server = await startServerProcess(environment);
    expect(await server.stop('SIGTERM')).toBe(0);
    const start = jsonLines(server.output()).find((line) => String(line.msg).includes('listening'));
    expect(start?.msg).toContain(mode);
    expect(server.output()).not.toContain('start-line-token');
  });

  describe.each(['express', 'fastify'])('a start that fails (%s)', (adapter) => {
    let taken: Server;
    let takenPort: number;

    beforeAll(async () => {
      taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      takenPort = (taken.address() as { port: number }).port;
    });

    afterAll(async () => {
      await new Promise((resolve) => taken.close(resolve));
    });

    it.each([
      [
        'a port in use',
        () => ({ PORT: String(takenPort) }),
        /^Cannot listen on HOST=127\.0\.0\.1 PORT=\d+: the port is in use/,
      ],
      [
        'an unknown HOST',
        () => ({ HOST: 'no-such-host.invalid' }),
        /^Cannot listen on HOST=no-such-host\.invalid: no such host name/,
      ],
      [
        'an address not on this machine',
        () => ({ HOST: '192.0.2.123' }),
        /^Cannot listen on HOST=192\.0\.2\.123: it is not an address of this machine/,
      ],
    ])(
      'on %s exits 1 with one JSON log line naming PORT or HOST',
      async (_name, environment, message) => {
        const { code, output } = await runServerToExit({ HTTP_ADAPTER: adapter, ...environment() });
        expect(code).toBe(1);
        const lines = jsonLines(output);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({
          level: 60,
          context: 'kvstore',
          msg: expect.stringMatching(message),
        });
        expect(lines[0].err).toBeUndefined();
      },
    );

    it('on a locked DATA_DIR exits 1 with the lock message alone, as JSON or as one plain line', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'kv-locked-'));
      const first = await startServerProcess({ STORAGE: 'file', DATA_DIR: dataDir });
      try {
        const environment = { HTTP_ADAPTER: adapter, STORAGE: 'file', DATA_DIR: dataDir };
        const json = await runServerToExit(environment);
        expect(json.code).toBe(1);
        const lines = jsonLines(json.output);
        expect(lines).toEqual([
          expect.objectContaining({
            level: 60,
            msg: expect.stringMatching(
              new RegExp(`^DATA_DIR ${dataDir} is locked by another kvstore process`),
            ),
          }),
        ]);
        expect(lines[0].err).toBeUndefined();
        const pretty = await runServerToExit({ ...environment, LOG_PRETTY: 'true' });
        expect(pretty.code).toBe(1);
        const prettyLines = pretty.output.trimEnd().split('\n');
        expect(prettyLines).toHaveLength(1);
        expect(prettyLines[0]).toContain(
          `DATA_DIR ${dataDir} is locked by another kvstore process`,
        );
        expect(pretty.output).not.toMatch(/\bat \S+ \(|ExceptionHandler|\[Nest\]/);
      } finally {
        expect(await first.stop('SIGTERM')).toBe(0);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  it('drains and exits 0 on SIGINT', async () => {
    const server = await startServerProcess({});
    expect(await server.stop('SIGINT')).toBe(0);
  });
});
