import { connect, Socket } from 'node:net';
import { parseResponses, RawResponse, rawRequest } from './support/raw-http';
import { ServerProcess, startServerProcess } from './support/server-process';
import { HTTP_ADAPTERS } from './support/test-app';

/**
 * Node's own keep-alive timeout (5 s) and the second it adds to the socket's timer: what Express
 * kept before both platforms were given Fastify's 72 s.
 */
const NODE_DEFAULT_IDLE_MS = 5000 + 1000;

/** A raw keep-alive connection: what it received, and whether the server closed it. */
function openConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  const received: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  /** Resolves once `count` responses arrived, the connection closed, or 10 s passed. */
  const answers = async (count: number): Promise<RawResponse[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const parsed = parseResponses(Buffer.concat(received));
      if (parsed.length >= count || closed || Date.now() > deadline) return parsed;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  /** Resolves once the bytes are written to the kernel. */
  const send = (bytes: Buffer) =>
    new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
  return { socket, answers, send, closed: () => closed };
}

// Two process starts, then a pause past Node's default idle timeout.
jest.setTimeout(60_000);

describe('kept-alive connections (real processes)', () => {
  const servers: ServerProcess[] = [];

  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGCONT');
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
  });

  // Node closes a connection whose idle timer ran out before it reads what arrived meanwhile: a
  // request sent while the server was paused (a long garbage collection on a busy machine) was
  // reset, as 1 MiB PUTs over Express were in memory-limits.e2e-spec.ts under load. SIGSTOP is
  // the pause; a pause inside one process (Atomics.wait) does not show it.
  it('answers requests that arrived while the server was paused longer than Node’s default idle timeout, on both platforms', async () => {
    const connections = [];
    for (const adapter of HTTP_ADAPTERS) {
      const server = await startServerProcess({ HTTP_ADAPTER: adapter });
      servers.push(server);
      const connection = openConnection(server.url);
      await connection.send(rawRequest('PUT /key/kept HTTP/1.1', {}, `"${adapter}"`));
      const [put] = await connection.answers(1);
      expect(put.status).toBe(200);
      // Clients that read the header close an idle connection before the server would.
      expect(put.headers['keep-alive']).toBe('timeout=72');
      connections.push({ adapter, connection });
    }
    for (const server of servers) server.child.kill('SIGSTOP');
    for (const { connection } of connections) {
      await connection.send(rawRequest('GET /key/kept HTTP/1.1'));
    }
    await new Promise((resolve) => setTimeout(resolve, NODE_DEFAULT_IDLE_MS + 1000));
    for (const server of servers) server.child.kill('SIGCONT');
    for (const { adapter, connection } of connections) {
      const answers = await connection.answers(2);
      expect({ adapter, statuses: answers.map((answer) => answer.status) }).toEqual({
        adapter,
        statuses: [200, 200],
      });
      expect(answers[1].json).toEqual({ key: 'kept', value: adapter });
      expect(connection.closed()).toBe(false);
      connection.socket.destroy();
    }
  });
});
