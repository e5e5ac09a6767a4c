import { Agent, request } from 'node:http';
import { connect, Socket } from 'node:net';
import { http } from './support/http-client';
import { ServerProcess, startServerProcess } from './support/server-process';
import { SseMessage, SseStream } from './support/sse-client';
import { HTTP_ADAPTERS } from './support/test-app';

/** Concurrent keep-alive PUT loops: as many requests in flight as the server takes at once. */
const WRITERS = 32;
const WRITE_MS = 3000;
const END_KEY = 'end-of-test';

interface Committed {
  readonly revision: number;
  readonly key: string;
  readonly value: unknown;
}

/** A PUT on a keep-alive connection of `agent`: the status and the revision it committed. */
function put(agent: Agent, url: string, key: string, body: string) {
  return new Promise<{ status: number; revision: number }>((resolve, reject) => {
    const call = request(
      `${url}/key/${encodeURIComponent(key)}`,
      { method: 'PUT', agent, headers: { 'Content-Length': Buffer.byteLength(body) } },
      (answer) => {
        answer.resume();
        answer.once('end', () =>
          resolve({
            status: answer.statusCode!,
            revision: Number(answer.headers['x-kv-revision']),
          }),
        );
      },
    );
    call.once('error', reject);
    call.end(body);
  });
}

/** Reads events as fast as they come, until the one for END_KEY, an overflow, or the end. */
async function readAll(stream: SseStream): Promise<SseMessage[]> {
  const events: SseMessage[] = [];
  for (;;) {
    const event = await stream.nextEvent(30_000);
    if (event === undefined) return events;
    events.push(event);
    if (event.event === 'overflow') return events;
    if ((JSON.parse(event.data!) as { key: string }).key === END_KEY) return events;
  }
}

/** `writers` loops PUTting `value(writer, i)` for `ms`, or `count` PUTs each. */
async function writeHard(
  url: string,
  { writers, ms = Infinity, count = Infinity }: { writers: number; ms?: number; count?: number },
  value: (writer: number, i: number) => string,
): Promise<Committed[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: writers });
  const committed: Committed[] = [];
  const deadline = Date.now() + ms;
  const writer = async (w: number) => {
    for (let i = 0; i < count && Date.now() < deadline; i++) {
      const key = `w${w}/${i % 8}`;
      const body = value(w, i);
      const { status, revision } = await put(agent, url, key, body);
      if (status !== 200) throw new Error(`PUT ${key} answered ${status}`);
      committed.push({ revision, key, value: JSON.parse(body) });
    }
  };
  try {
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  } finally {
    agent.destroy();
  }
  return committed;
}

/** A /watch client on a bare socket that reads nothing until asked to. */
class StalledClient {
  private constructor(private readonly socket: Socket) {}

  static open(baseUrl: string, path: string): Promise<StalledClient> {
    const { hostname, port } = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
        socket.pause();
        resolve(new StalledClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Everything the server sent, once it has ended the response. */
  readToEnd(timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const timer = setTimeout(
        () => reject(new Error('The stream did not end in time')),
        timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        this.socket.destroy();
        resolve(Buffer.concat(chunks).toString());
      };
      this.socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        // The last chunk of a chunked response: the stream is over.
        if (chunk.toString('latin1').endsWith('\r\n0\r\n\r\n')) done();
      });
      this.socket.once('end', done);
      this.socket.once('error', reject);
      this.socket.resume();
    });
  }
}

const idsOf = (events: readonly SseMessage[]) => events.map((event) => Number(event.id));
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(HTTP_ADAPTERS)('the change feed under full write load (%s)', (adapter) => {
  let server: ServerProcess | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('keeps up with a reader that reads as fast as it can: every change once, in order', async () => {
    // A reader that keeps up never has more than the changes of one turn waiting, so a small
    // queue makes the test as strict as the load of a fast machine would, on a busy one too.
    server = await startServerProcess({ HTTP_ADAPTER: adapter, WATCH_QUEUE: '64' });
    const stream = await SseStream.open(server.url, '/watch');
    const reading = readAll(stream);
    const committed = await writeHard(
      server.url,
      { writers: WRITERS, ms: WRITE_MS },
      (w, i) => `{"writer":${w},"i":${i},"pad":"${'x'.repeat(40)}"}`,
    );
    const end = await http(server.url, 'PUT', `/key/${END_KEY}`, 'true');
    const last = Number(end.headers.get('x-kv-revision'));
    const events = await reading;
    stream.close();

    expect(events.filter((event) => event.event === 'overflow')).toEqual([]);
    // Only the writers wrote, from an empty store: they committed every revision but the last.
    expect(committed.length).toBe(last - 1);
    expect(idsOf(events)).toEqual(range(1, last));
    const sent = events.slice(0, -1).map((event) => {
      const { revision, key, value } = JSON.parse(event.data!) as Committed;
      return { revision, key, value };
    });
    expect(sent).toEqual([...committed].sort((a, b) => a.revision - b.revision));
  }, 120_000);

  it('cuts off only a client that stops reading, and goes on serving', async () => {
    server = await startServerProcess({ HTTP_ADAPTER: adapter, WATCH_QUEUE: '16' });
    const stalled = await StalledClient.open(server.url, '/watch');
    const stream = await SseStream.open(server.url, '/watch');
    const reading = readAll(stream);
    // Far more than the socket buffers of the stalled connection hold (a few MiB on loopback).
    const value = JSON.stringify('v'.repeat(64 * 1024));
    const committed = await writeHard(server.url, { writers: 4, count: 100 }, () => value);
    const end = await http(server.url, 'PUT', `/key/${END_KEY}`, 'true');
    const last = Number(end.headers.get('x-kv-revision'));
    expect(committed.length).toBe(last - 1);

    // The client that reads got everything.
    const events = await reading;
    stream.close();
    expect(idsOf(events)).toEqual(range(1, last));

    // The stalled one was cut off while it did not read: its stream ends with an overflow event
    // once it reads again, after every change before the revision to resume from.
    const text = await stalled.readToEnd();
    const overflow = /event: overflow\nid: (\d+)\ndata: (.*)\n\n\r\n0\r\n\r\n$/.exec(text);
    expect(overflow).not.toBeNull();
    const { error, resumeFromRevision } = JSON.parse(overflow![2]) as {
      error: string;
      resumeFromRevision: number;
    };
    expect(error).toBe('Subscriber too slow');
    expect(resumeFromRevision).toBeLessThan(last);
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    expect(ids).toEqual([...range(1, resumeFromRevision - 1), resumeFromRevision - 1]);

    // And the server goes on: healthy, writing, and streaming from where the client stopped.
    expect((await http(server.url, 'GET', '/health')).status).toBe(200);
    expect((await http(server.url, 'PUT', '/key/after', '1')).status).toBe(200);
    const resumed = await SseStream.open(server.url, `/watch?fromRevision=${resumeFromRevision}`);
    expect(idsOf(await resumed.events(last + 1 - resumeFromRevision + 1, 30_000))).toEqual(
      range(resumeFromRevision, last + 1),
    );
    resumed.close();
    expect(server.child.exitCode).toBeNull();
  }, 120_000);
});
