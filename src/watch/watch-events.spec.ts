import { EventEmitter } from 'node:events';
import { ChangeStream } from '../changes/change-stream';
import { SubscriberOverflowError } from '../changes/change-stream.errors';
import { Change } from '../storage/storage.repository';
import { EventSink, streamChanges } from './change-event-stream';
import { changeEvent, overflowEvent, txnEvent } from './watch-events';

const EXPIRES = Date.UTC(2026, 0, 1, 0, 0, 30);

const put = (revision: number, key = 'k', value = '{"a":[1,"x"]}'): Change => ({
  op: 'put',
  revision,
  key,
  value,
  expiresAt: null,
  createRevision: 1,
  version: revision,
});

/** A response that takes writes until told it is full, as a socket whose buffer filled up. */
class FakeSink extends EventEmitter implements EventSink {
  readonly chunks: string[] = [];
  full = false;
  ended = false;

  get writableNeedDrain(): boolean {
    return this.full;
  }

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return !this.full;
  }

  end(): void {
    this.ended = true;
  }

  drain(): void {
    this.full = false;
    this.emit('drain');
  }

  /** The ids of the events written, in order, with the type of any that is not a put. */
  ids(): string[] {
    return [...this.chunks.join('').matchAll(/^event: (\w+)\nid: (\d+)$/gm)].map(([, type, id]) =>
      type === 'put' ? id : `${type} ${id}`,
    );
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const turns = async (count: number) => {
  for (let i = 0; i < count; i++) await turn();
};

describe('watch events', () => {
  it('formats each kind of change with the revision as id', () => {
    expect(changeEvent({ ...put(7, 'a"b'), expiresAt: EXPIRES } as Change)).toBe(
      'event: put\nid: 7\ndata: {"revision":7,"type":"put","key":"a\\"b","value":{"a":[1,"x"]},"expiresAt":"2026-01-01T00:00:30.000Z"}\n\n',
    );
    expect(changeEvent({ op: 'ttl', revision: 8, key: 'k', expiresAt: null })).toBe(
      'event: ttl\nid: 8\ndata: {"revision":8,"type":"ttl","key":"k","expiresAt":null}\n\n',
    );
    expect(changeEvent({ op: 'delete', revision: 9, key: 'k' })).toBe(
      'event: delete\nid: 9\ndata: {"revision":9,"type":"delete","key":"k"}\n\n',
    );
    expect(changeEvent({ op: 'expire', revision: 10, key: 'k' })).toBe(
      'event: expire\nid: 10\ndata: {"revision":10,"type":"expire","key":"k"}\n\n',
    );
  });

  it("formats a transaction as one txn event, its id the transaction's last revision", () => {
    const changes: Change[] = [put(4, 'a'), { op: 'delete', revision: 5, key: 'b' }];
    expect(txnEvent({ firstRevision: 4, lastRevision: 5 }, changes)).toBe(
      'event: txn\nid: 5\ndata: {"revision":5,"changes":[' +
        '{"revision":4,"type":"put","key":"a","value":{"a":[1,"x"]},"expiresAt":null},' +
        '{"revision":5,"type":"delete","key":"b"}]}\n\n',
    );
  });

  it('ids the overflow event with the last revision delivered', () => {
    expect(overflowEvent(new SubscriberOverflowError(12))).toBe(
      'event: overflow\nid: 11\ndata: {"error":"Subscriber too slow","resumeFromRevision":12}\n\n',
    );
  });
});

describe('streamChanges', () => {
  let changes: ChangeStream;
  let sink: FakeSink;
  let finished: Promise<void>;

  function stream({
    maxQueued = 2,
    heartbeatMs = 60_000,
    match,
  }: { maxQueued?: number; heartbeatMs?: number; match?: (key: string) => boolean } = {}) {
    changes = new ChangeStream({
      historySize: 1000,
      historyBytes: 1e9,
      maxQueued,
      maxQueuedBytes: 1e9,
      startRevision: 0,
    });
    sink = new FakeSink();
    const subscription = changes.subscribe({ fromRevision: 1, match });
    const unitOf = (revision: number) => changes.unitOf(revision);
    finished = streamChanges(subscription, sink, heartbeatMs, unitOf);
  }

  afterEach(async () => {
    sink.emit('close');
    await finished;
  });

  const publish = (from: number, to: number, value?: string) => {
    for (let revision = from; revision <= to; revision++) {
      changes.publish([put(revision, `k${revision}`, value)]);
    }
  };

  it('writes the changes of one turn together, as one chunk', async () => {
    stream({ maxQueued: 100 });
    publish(1, 5);
    await turns(2);
    expect(sink.chunks).toEqual([
      [1, 2, 3, 4, 5].map((revision) => changeEvent(put(revision, `k${revision}`))).join(''),
    ]);
    publish(6, 6);
    await turns(2);
    expect(sink.chunks).toHaveLength(2);
    expect(sink.ids()).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('keeps up with a reader that takes every write, however many changes a turn commits', async () => {
    // The subscription lets only 2 changes wait, and each turn commits 10.
    stream({ maxQueued: 2 });
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 1; i <= 10; i++) {
        const revision = batch * 10 + i;
        changes.publish([put(revision, `k${revision}`)]);
        // Writers are woken one by one: a turn runs many callbacks, each with its microtasks.
        await Promise.resolve();
      }
      await turn();
    }
    await turns(2);
    expect(sink.ids()).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1)));
    expect(changes.subscriberCount).toBe(1);
  });

  it('cuts a batch that grows large into chunks, each a whole number of events', async () => {
    stream({ maxQueued: 100 });
    const value = JSON.stringify('x'.repeat(20 * 1024));
    publish(1, 10, value);
    await turns(2);
    expect(sink.chunks.length).toBeGreaterThan(1);
    expect(
      sink.chunks.every((chunk) => chunk.startsWith('event: put\n') && chunk.endsWith('\n\n')),
    ).toBe(true);
    expect(sink.chunks.every((chunk) => chunk.length < 64 * 1024 + value.length + 200)).toBe(true);
    expect(sink.ids()).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  });

  it('writes nothing more until the socket drains, then continues', async () => {
    stream({ maxQueued: 10 });
    sink.full = true;
    publish(1, 1);
    await turns(2);
    publish(2, 4);
    await turns(3);
    expect(sink.ids()).toEqual(['1']);
    sink.drain();
    await turns(2);
    expect(sink.ids()).toEqual(['1', '2', '3', '4']);
    expect(sink.chunks).toHaveLength(2);
  });

  it('ends with the overflow event once a client that does not read falls too far behind', async () => {
    stream({ maxQueued: 2 });
    sink.full = true;
    publish(1, 1);
    await turns(2);
    // The stream was waiting for a change when the socket filled: it takes that one, and then
    // the subscription holds what follows, up to its bound.
    publish(2, 4);
    expect(changes.subscriberCount).toBe(1);
    publish(5, 5);
    // Cut off while the socket is still full: the subscription lets go of the feed at once.
    expect(changes.subscriberCount).toBe(0);
    await turns(2);
    expect(sink.ids()).toEqual(['1']);
    sink.drain();
    await finished;
    expect(sink.ids()).toEqual(['1', '2', 'overflow 2']);
    expect(sink.chunks.at(-1)).toBe(
      changeEvent(put(2, 'k2')) + overflowEvent(new SubscriberOverflowError(3)),
    );
    expect(sink.ended).toBe(true);
  });

  it('delivers what it took before the overflow, then the overflow event', async () => {
    stream({ maxQueued: 3 });
    // More than the queue allows within one turn: the first was taken, the rest overflow.
    publish(1, 5);
    await finished;
    expect(sink.ids()).toEqual(['1', 'overflow 1']);
    expect(sink.chunks.join('')).toBe(
      changeEvent(put(1, 'k1')) + overflowEvent(new SubscriberOverflowError(2)),
    );
  });

  it('sends comment-only heartbeats, except to a backed-up socket', async () => {
    stream({ heartbeatMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.chunks.length).toBeGreaterThan(0);
    expect(sink.chunks.every((chunk) => chunk === ': keep-alive\n\n')).toBe(true);
    sink.full = true;
    const before = sink.chunks.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.chunks.length).toBe(before);
  });

  it('lets go of the subscription when the client leaves, also while it waits for drain', async () => {
    stream({ maxQueued: 10 });
    sink.full = true;
    publish(1, 1);
    await turns(2);
    expect(changes.subscriberCount).toBe(1);
    sink.emit('close');
    await finished;
    expect(changes.subscriberCount).toBe(0);
    expect(sink.ended).toBe(false);
  });

  it('ends the response when the feed shuts down, after what it had', async () => {
    stream({ maxQueued: 10 });
    publish(1, 2);
    await Promise.resolve();
    changes.beforeApplicationShutdown();
    await finished;
    expect(sink.ids()).toEqual(['1', '2']);
    expect(sink.ended).toBe(true);
  });

  describe('transactions', () => {
    const unit = (from: number, to: number) => {
      const group: Change[] = [];
      for (let revision = from; revision <= to; revision++)
        group.push(put(revision, `k${revision}`));
      changes.publish(group, { unit: true });
    };

    it("sends a transaction's changes as one txn event between unchanged single events", async () => {
      stream({ maxQueued: 10 });
      publish(1, 1);
      unit(2, 4);
      publish(5, 5);
      await turns(2);
      expect(sink.ids()).toEqual(['1', 'txn 4', '5']);
      const txn = sink.chunks.join('').match(/^event: txn\nid: 4\ndata: (.*)$/m)![1];
      expect(JSON.parse(txn)).toEqual({
        revision: 4,
        changes: [2, 3, 4].map((revision) => expect.objectContaining({ revision, type: 'put' })),
      });
    });

    it('keeps only the changes a pattern matches, still as one event with the last revision', async () => {
      stream({ maxQueued: 10, match: (key) => key !== 'k3' });
      unit(1, 3);
      publish(4, 4);
      await turns(2);
      expect(sink.ids()).toEqual(['txn 3', '4']);
      const txn = JSON.parse(sink.chunks.join('').match(/^event: txn\nid: 3\ndata: (.*)$/m)![1]);
      expect(txn.changes.map((change: { key: string }) => change.key)).toEqual(['k1', 'k2']);
    });

    it('resumes a cut-off client at the start of a transaction, never in the middle of one', async () => {
      stream({ maxQueued: 3 });
      // The stream is woken by the transaction's first change; before it runs, more writes
      // overflow the subscription, so the rest of the transaction cannot be taken.
      unit(1, 3);
      publish(4, 6);
      await finished;
      expect(sink.ids()).toEqual(['overflow 0']);
      expect(sink.chunks.join('')).toBe(overflowEvent(new SubscriberOverflowError(1)));
    });
  });
});
