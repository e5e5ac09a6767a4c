import { Test } from '@nestjs/testing';
import { connect } from 'node:net';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.setup';
import { ChangeStream } from '../src/changes/change-stream';
import { FakeClock } from '../src/clock/fake-clock';
import { parseConfig } from '../src/config/app-config';
import { ExpiryService } from '../src/expiry/expiry.service';
import { loadHttpPlatform } from '../src/http/http-platform';
import { WATCH_HEARTBEAT_MS } from '../src/watch/watch.controller';
import { http } from './support/http-client';
import { SseMessage, SseStream } from './support/sse-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

interface ChangeData {
  readonly revision: number;
  readonly type: 'put' | 'delete' | 'expire' | 'ttl';
  readonly key: string;
  readonly value?: unknown;
  readonly expiresAt?: string | null;
}

const dataOf = (event: SseMessage) => JSON.parse(event.data!) as ChangeData;

/** Applies change events to a Map, as a replica would: Map order is the store's key order. */
function rebuild(events: readonly SseMessage[]) {
  const store = new Map<string, { value: unknown; expiresAt: string | null }>();
  for (const event of events) {
    const change = dataOf(event);
    if (change.type === 'put') {
      store.set(change.key, { value: change.value, expiresAt: change.expiresAt ?? null });
    } else if (change.type === 'ttl') {
      store.set(change.key, { ...store.get(change.key)!, expiresAt: change.expiresAt ?? null });
    } else {
      store.delete(change.key);
    }
  }
  return store;
}

describe.each(HTTP_ADAPTERS)('GET /watch (%s)', (adapter) => {
  let server: TestApp;
  let clock: FakeClock;
  const call = (method: string, path: string, body?: string, headers?: Record<string, string>) =>
    http(server.url, method, path, body, headers);
  const watch = (path: string, headers?: Record<string, string>) =>
    SseStream.open(server.url, path, headers);
  const subscribers = () => server.app.get(ChangeStream).subscriberCount;
  const start = (environment: Record<string, string> = {}) =>
    startTestApp(
      { HTTP_ADAPTER: adapter, SWEEP_INTERVAL_MS: '3600000', ...environment },
      (clock = new FakeClock()),
    );

  beforeEach(async () => {
    server = await start();
  });

  afterEach(async () => {
    await server.close();
  });

  it('streams every change of a concurrent workload once, in revision order', async () => {
    const live = await watch('/watch');
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const keys = ['a', 'b', 'c', 'd', 'user/1', 'café'];
    let seed = 7;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    const worker = async () => {
      for (let i = 0; i < 40; i++) {
        const key = encodeURIComponent(keys[random(keys.length)]);
        const action = random(10);
        if (action < 5) await call('PUT', `/key/${key}`, JSON.stringify({ n: random(1000) }));
        else if (action < 7) await call('DELETE', `/key/${key}`);
        else if (action < 8) await call('PUT', `/ttl/${key}`, '{"ttl":60}');
        else await call('PUT', `/key/${key}?ttl=1`, String(random(1000)));
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    clock.advance(1000);
    await server.app.get(ExpiryService).sweepNow();
    const last = Number((await call('PUT', '/key/end', 'true')).headers.get('x-kv-revision'));

    const events = await live.events(last);
    expect(events.map((event) => Number(event.id))).toEqual(
      Array.from({ length: last }, (_, i) => i + 1),
    );
    for (const event of events) {
      expect(dataOf(event)).toMatchObject({ revision: Number(event.id), type: event.event });
    }
    expect(new Set(events.map((event) => event.event))).toEqual(
      new Set(['put', 'delete', 'ttl', 'expire']),
    );

    const store = rebuild(events);
    const listing = (await call('GET', '/keys')).json as { keys: string[] };
    expect([...store.keys()]).toEqual(listing.keys);
    for (const [key, { value, expiresAt }] of store) {
      const read = (await call('GET', `/key/${encodeURIComponent(key)}`)).json as ChangeData;
      expect({ key, value, expiresAt }).toEqual({
        key: read.key,
        value: read.value,
        expiresAt: read.expiresAt ?? null,
      });
    }

    const replay = await watch('/watch?fromRevision=0');
    expect(await replay.events(last)).toEqual(events);
    live.close();
    replay.close();
  }, 60_000);

  it('sends the value and expiry of puts and ttl changes, and only matching keys', async () => {
    const stream = await watch('/watch?pattern=user:*');
    await call('PUT', '/key/other', '1');
    await call('PUT', '/key/user:1?ttl=30', '{"name":"Ann"}');
    await call('PUT', '/ttl/user:1', '{"ttl":null}');
    await call('DELETE', '/key/user:1');
    const events = await stream.events(3);
    expect(events.map((event) => [event.id, event.event, event.data])).toEqual([
      [
        '2',
        'put',
        `{"revision":2,"type":"put","key":"user:1","value":{"name":"Ann"},"expiresAt":"${new Date(clock.now() + 30_000).toISOString()}"}`,
      ],
      ['3', 'ttl', '{"revision":3,"type":"ttl","key":"user:1","expiresAt":null}'],
      ['4', 'delete', '{"revision":4,"type":"delete","key":"user:1"}'],
    ]);
    stream.close();
  });

  it('resumes from Last-Event-ID with no gap and no duplicate', async () => {
    for (let i = 1; i <= 5; i++) await call('PUT', `/key/k${i}`, String(i));
    const first = await watch('/watch?fromRevision=1');
    const seen = await first.events(3);
    first.close();
    await call('PUT', '/key/k6', '6');
    // An EventSource reconnects to the same URL and adds the id of the last event it got.
    const resumed = await watch('/watch?fromRevision=1', { 'Last-Event-ID': seen[2].id! });
    const rest = await resumed.events(3);
    expect([...seen, ...rest].map((event) => event.id)).toEqual(['1', '2', '3', '4', '5', '6']);
    resumed.close();
  });

  it('answers a revision older than the history with 410 and the oldest it holds', async () => {
    await server.close();
    server = await start({ WATCH_HISTORY: '5' });
    for (let i = 1; i <= 8; i++) await call('PUT', '/key/k', String(i));
    const gone = { error: 'Revision compacted', oldestRevision: 4 };
    for (const [path, headers] of [
      ['/watch?fromRevision=0', {}],
      ['/watch?fromRevision=3', {}],
      ['/watch', { 'Last-Event-ID': '2' }],
    ] as const) {
      const answer = await call('GET', path, undefined, headers);
      expect({ status: answer.status, json: answer.json }).toEqual({ status: 410, json: gone });
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    }
    const oldest = await watch('/watch?fromRevision=4');
    expect((await oldest.events(5)).map((event) => event.id)).toEqual(['4', '5', '6', '7', '8']);
    oldest.close();
  });

  it.each([
    ['/watch?pattern=[', {}, "Invalid pattern: unclosed '[' at position 0"],
    // The message states the rule that is applied: 0 is accepted (as 1), negatives are not.
    ['/watch?fromRevision=abc', {}, 'fromRevision must be a revision: an integer from 0'],
    ['/watch?fromRevision=-1', {}, 'fromRevision must be a revision: an integer from 0'],
    ['/watch?fromRevision=-3', {}, 'fromRevision must be a revision: an integer from 0'],
    ['/watch?fromRevision=1.5', {}, 'fromRevision must be a revision: an integer from 0'],
    ['/watch?fromRevision=1&fromRevision=2', {}, 'fromRevision must be given once'],
    ['/watch', { 'Last-Event-ID': 'x' }, 'Last-Event-ID must be a revision number'],
  ])('refuses %s %j with 400', async (path, headers, error) => {
    const answer = await call('GET', path, undefined, headers);
    expect({ status: answer.status, json: answer.json }).toEqual({ status: 400, json: { error } });
    expect(subscribers()).toBe(0);
  });

  it('lets go of a subscription when its client disconnects', async () => {
    const streams = await Promise.all([
      watch('/watch'),
      watch('/watch?pattern=a*'),
      watch('/watch'),
    ]);
    await call('PUT', '/key/a', '1');
    for (const stream of streams) await stream.events(1);
    expect(subscribers()).toBe(3);
    for (const stream of streams) stream.close();
    await until(() => subscribers() === 0);
  });

  it('ends open streams when the server shuts down', async () => {
    const stream = await watch('/watch');
    await call('PUT', '/key/a', '1');
    await stream.events(1);
    await server.close();
    expect(await stream.nextEvent()).toBeUndefined();
    server = await start();
  });

  it('cuts off a client that stops reading, telling it where to resume', async () => {
    await server.close();
    server = await start({ WATCH_QUEUE: '4' });
    const client = await RawSseClient.open(server.url, '/watch');
    const value = JSON.stringify('x'.repeat(256 * 1024));
    const writes = 80;
    for (let i = 0; i < writes; i++) await call('PUT', `/key/k${i}`, value);
    // The subscription is gone while the client still holds the connection: nothing grows.
    await until(() => subscribers() === 0);
    const text = await client.readToEnd();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    const overflow = /event: overflow\nid: (\d+)\ndata: (.*)\n\n(\r\n)?0\r\n\r\n$/.exec(text);
    expect(overflow).not.toBeNull();
    const { error, resumeFromRevision } = JSON.parse(overflow![2]) as {
      error: string;
      resumeFromRevision: number;
    };
    expect(error).toBe('Subscriber too slow');
    expect(resumeFromRevision).toBeLessThan(writes);
    // Every change before the resume point was delivered, once; the overflow event's id is the last.
    expect(ids).toEqual([
      ...Array.from({ length: resumeFromRevision - 1 }, (_, i) => i + 1),
      resumeFromRevision - 1,
    ]);
    const resumed = await watch(`/watch?fromRevision=${resumeFromRevision}`);
    const rest = await resumed.events(writes - resumeFromRevision + 1);
    expect(rest.map((event) => Number(event.id))).toEqual(
      Array.from({ length: writes - resumeFromRevision + 1 }, (_, i) => i + resumeFromRevision),
    );
    resumed.close();
  }, 60_000);
});

describe.each(HTTP_ADAPTERS)('GET /watch heartbeats (%s)', (adapter) => {
  it('sends comment heartbeats on an idle stream without disturbing ids', async () => {
    const config = parseConfig({ HTTP_ADAPTER: adapter, LOG_LEVEL: 'error' });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
      .overrideProvider(WATCH_HEARTBEAT_MS)
      .useValue(20)
      .compile();
    const platform = await loadHttpPlatform(config);
    const app = moduleRef.createNestApplication(platform.adapter, {
      bodyParser: false,
      logger: ['error'],
    });
    configureApp(app, config, platform);
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl())
      .replace('[::1]', '127.0.0.1')
      .replace('localhost', '127.0.0.1');
    try {
      const stream = await SseStream.open(url, '/watch');
      expect(await stream.nextMessage()).toEqual({ comments: ['keep-alive'] });
      await http(url, 'PUT', '/key/a', '1');
      const event = await stream.nextEvent();
      expect([event?.id, event?.event]).toEqual(['1', 'put']);
      expect(await stream.nextMessage()).toEqual({ comments: ['keep-alive'] });
      stream.close();
    } finally {
      await app.close();
    }
  });
});

/** A client on a bare socket that reads nothing until asked to. */
class RawSseClient {
  private constructor(private readonly socket: ReturnType<typeof connect>) {}

  static open(baseUrl: string, path: string): Promise<RawSseClient> {
    const { hostname, port } = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
        socket.pause();
        resolve(new RawSseClient(socket));
      });
      socket.on('error', reject);
    });
  }

  /** Everything the server sent, once it has ended the response. */
  readToEnd(): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = '';
      this.socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        // The last chunk of a chunked response: the stream is over.
        if (text.endsWith('\r\n0\r\n\r\n')) {
          this.socket.destroy();
          resolve(text);
        }
      });
      this.socket.on('end', () => resolve(text));
      this.socket.on('error', reject);
      this.socket.resume();
    });
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
