import { http } from './support/http-client';
import { runServerToExit, startServerProcess } from './support/server-process';

describe('the server process', () => {
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

  it('drains and exits 0 on SIGINT', async () => {
    const server = await startServerProcess({});
    expect(await server.stop('SIGINT')).toBe(0);
  });
});
