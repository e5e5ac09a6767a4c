import { MessageEvent } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { ChangeStream } from '../changes/change-stream';
import { SubscriberOverflowError } from '../changes/change-stream.errors';
import { Change } from '../storage/storage.repository';
import { changeEvent, changeEvents, overflowEvent } from './watch-events';

const EXPIRES = Date.UTC(2026, 0, 1, 0, 0, 30);

const put = (revision: number, key = 'k'): Extract<Change, { op: 'put' }> => ({
  op: 'put',
  revision,
  key,
  value: '{"a":[1,"x"]}',
  expiresAt: null,
  createRevision: 1,
  version: revision,
});

/** The part of a socket the events look at: whether writes wait, and its drain event. */
class FakeSocket extends EventEmitter {
  writableNeedDrain = false;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('watch events', () => {
  it('formats each kind of change with the revision as id', () => {
    expect(changeEvent({ ...put(7, 'a"b'), expiresAt: EXPIRES })).toEqual({
      id: '7',
      type: 'put',
      data: '{"revision":7,"type":"put","key":"a\\"b","value":{"a":[1,"x"]},"expiresAt":"2026-01-01T00:00:30.000Z"}',
    });
    expect(changeEvent({ op: 'ttl', revision: 8, key: 'k', expiresAt: null }).data).toBe(
      '{"revision":8,"type":"ttl","key":"k","expiresAt":null}',
    );
    expect(changeEvent({ op: 'delete', revision: 9, key: 'k' }).data).toBe(
      '{"revision":9,"type":"delete","key":"k"}',
    );
    expect(changeEvent({ op: 'expire', revision: 10, key: 'k' })).toEqual({
      id: '10',
      type: 'expire',
      data: '{"revision":10,"type":"expire","key":"k"}',
    });
  });

  it('ids the overflow event with the last revision delivered', () => {
    expect(overflowEvent(new SubscriberOverflowError(12))).toEqual({
      id: '11',
      type: 'overflow',
      data: '{"error":"Subscriber too slow","resumeFromRevision":12}',
    });
  });

  describe('as an Observable', () => {
    let changes: ChangeStream;
    let socket: FakeSocket;
    let emitted: MessageEvent[];
    let completed: boolean;

    function watch(heartbeatMs = 60_000) {
      const subscription = changes.subscribe({ fromRevision: 1 });
      return changeEvents(subscription, socket as unknown as Writable, heartbeatMs).subscribe({
        next: (event) => emitted.push(event),
        complete: () => (completed = true),
      });
    }

    beforeEach(() => {
      changes = new ChangeStream({ historySize: 100, maxQueued: 2, startRevision: 0 });
      socket = new FakeSocket();
      emitted = [];
      completed = false;
    });

    it('emits every change and closes the subscription when unsubscribed', async () => {
      const subscription = watch();
      changes.publish([put(1)]);
      changes.publish([put(2)]);
      await tick();
      await tick();
      expect(emitted.map((event) => event.id)).toEqual(['1', '2']);
      subscription.unsubscribe();
      expect(changes.subscriberCount).toBe(0);
    });

    it('stops pulling while the socket is backed up, then ends with the overflow', async () => {
      watch();
      socket.writableNeedDrain = true;
      changes.publish([put(1)]);
      await tick();
      await tick();
      for (let revision = 2; revision <= 4; revision++) changes.publish([put(revision)]);
      await tick();
      expect(emitted.map((event) => event.id)).toEqual(['1']);
      expect(changes.subscriberCount).toBe(0);
      socket.writableNeedDrain = false;
      socket.emit('drain');
      await tick();
      expect(emitted.map((event) => event.type)).toEqual(['put', 'overflow']);
      expect(emitted[1].data).toBe('{"error":"Subscriber too slow","resumeFromRevision":2}');
      expect(completed).toBe(true);
    });

    it('sends comment-only heartbeats, which carry no id, except to a backed-up socket', async () => {
      const subscription = watch(5);
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(emitted.length).toBeGreaterThan(0);
      expect(
        emitted.every((event) => event.comment === 'keep-alive' && event.id === undefined),
      ).toBe(true);
      socket.writableNeedDrain = true;
      const before = emitted.length;
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(emitted.length).toBe(before);
      subscription.unsubscribe();
    });

    it('completes when the feed shuts down', async () => {
      watch();
      changes.beforeApplicationShutdown();
      await tick();
      expect(completed).toBe(true);
    });
  });
});
