import { Change } from '../storage/storage.repository';
import { ChangeStream, ChangeStreamOptions } from './change-stream';
import { RevisionCompactedError, SubscriberOverflowError } from './change-stream.errors';
import { changeSize } from './change-size';
import { ChangeSubscription } from './change-subscription';

/** A put with a 10 KB value. */
const large = (revision: number, key: string): Change => ({
  ...put(revision, key),
  value: JSON.stringify('x'.repeat(10_000)),
});

const put = (revision: number, key = `k${revision}`): Extract<Change, { op: 'put' }> => ({
  op: 'put',
  revision,
  key,
  value: String(revision),
  expiresAt: null,
  createRevision: revision,
  version: 1,
});

function stream(options: Partial<ChangeStreamOptions> = {}) {
  return new ChangeStream({
    historySize: 100,
    historyBytes: 1e9,
    maxQueued: 100,
    maxQueuedBytes: 1e9,
    startRevision: 0,
    ...options,
  });
}

/** Publishes puts for revisions from..to, one write each. */
function publishRange(changes: ChangeStream, from: number, to: number, key?: string) {
  for (let revision = from; revision <= to; revision++) changes.publish([put(revision, key)]);
}

/** Reads what is ready now, without waiting for more. */
async function drain(subscription: ChangeSubscription): Promise<number[]> {
  const revisions: number[] = [];
  for (;;) {
    const next = await Promise.race([subscription.next(), Promise.resolve('pending' as const)]);
    if (next === 'pending' || next.done) return revisions;
    revisions.push(next.value.revision);
  }
}

describe('ChangeStream', () => {
  it('starts over at a revision after a full copy: subscribers are cut off, history is empty', async () => {
    const changes = stream();
    publishRange(changes, 1, 3);
    const subscription = changes.subscribe({ fromRevision: 1 });
    expect(await drain(subscription)).toEqual([1, 2, 3]);
    changes.restartAt(50);
    await expect(subscription.next()).rejects.toEqual(new SubscriberOverflowError(4));
    expect(() => changes.subscribe({ fromRevision: 4 })).toThrow(RevisionCompactedError);
    const after = changes.subscribe({ fromRevision: 51 });
    publishRange(changes, 51, 52);
    expect(await drain(after)).toEqual([51, 52]);
    expect(changes.lastRevision).toBe(52);
  });

  it('starts a subscription without fromRevision at the next change', async () => {
    const changes = stream();
    publishRange(changes, 1, 3);
    const subscription = changes.subscribe();
    const next = subscription.next();
    changes.publish([put(4)]);
    expect((await next).value).toEqual(put(4));
  });

  it('replays from fromRevision inclusive, then continues live, with 0 and 1 meaning the start', async () => {
    const changes = stream();
    publishRange(changes, 1, 5);
    const fromThree = changes.subscribe({ fromRevision: 3 });
    const fromZero = changes.subscribe({ fromRevision: 0 });
    changes.publish([put(6)]);
    expect(await drain(fromThree)).toEqual([3, 4, 5, 6]);
    expect(await drain(fromZero)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('delivers only matching keys, and skips the revisions before a future fromRevision', async () => {
    const changes = stream();
    const matching = changes.subscribe({ match: (key) => key.startsWith('a') });
    const future = changes.subscribe({ fromRevision: 3 });
    changes.publish([put(1, 'a1'), put(2, 'b2')]);
    changes.publish([put(3, 'a3')]);
    expect(await drain(matching)).toEqual([1, 3]);
    expect(await drain(future)).toEqual([3]);
  });

  it('answers a revision older than the history with the oldest it holds', () => {
    const changes = stream({ historySize: 3 });
    publishRange(changes, 1, 5);
    expect(changes.oldestRevision).toBe(3);
    expect(() => changes.subscribe({ fromRevision: 2 })).toThrow(new RevisionCompactedError(3));
    expect(() => changes.subscribe({ fromRevision: 3 })).not.toThrow();
  });

  it('after a restart holds nothing before the store revision it started at', () => {
    const changes = stream({ startRevision: 40 });
    expect(changes.oldestRevision).toBe(41);
    for (const fromRevision of [0, 1, 40]) {
      expect(() => changes.subscribe({ fromRevision })).toThrow(RevisionCompactedError);
    }
    expect(() => changes.subscribe({ fromRevision: 41 })).not.toThrow();
  });

  it('publishes in revision order even when writes arrive out of order', async () => {
    const changes = stream();
    const subscription = changes.subscribe();
    changes.publish([put(3), put(4)]);
    changes.publish([put(2)]);
    expect(changes.lastRevision).toBe(0);
    changes.publish([put(1)]);
    expect(changes.lastRevision).toBe(4);
    expect(await drain(subscription)).toEqual([1, 2, 3, 4]);
  });

  it('refuses a revision published twice', () => {
    const changes = stream();
    publishRange(changes, 1, 2);
    expect(() => changes.publish([put(2)])).toThrow('Revision 2 was published twice');
    changes.publish([put(4)]);
    expect(() => changes.publish([put(4)])).toThrow('Revision 4 was published twice');
  });

  describe('a slow subscriber', () => {
    it('is cut off once more than maxQueued changes wait, and told where to resume', async () => {
      const changes = stream({ maxQueued: 3 });
      const slow = changes.subscribe();
      const patient = changes.subscribe({ maxQueued: 10 });
      publishRange(changes, 1, 3);
      expect(changes.subscriberCount).toBe(2);
      changes.publish([put(4)]);
      expect(changes.subscriberCount).toBe(1);
      await expect(slow.next()).rejects.toEqual(new SubscriberOverflowError(1));
      expect(await drain(patient)).toEqual([1, 2, 3, 4]);
    });

    it('resumes exactly after what it read', async () => {
      const changes = stream();
      const slow = changes.subscribe({ maxQueued: 2 });
      publishRange(changes, 1, 2);
      expect((await slow.next()).value.revision).toBe(1);
      publishRange(changes, 3, 4);
      const overflow = await slow.next().catch((error: SubscriberOverflowError) => error);
      expect(overflow).toEqual(new SubscriberOverflowError(2));
      const resumed = changes.subscribe({ fromRevision: 2 });
      expect(await drain(resumed)).toEqual([2, 3, 4]);
    });

    it('counts only matching changes against its queue', async () => {
      const changes = stream({ maxQueued: 1 });
      const subscription = changes.subscribe({ match: (key) => key === 'rare' });
      publishRange(changes, 1, 50, 'frequent');
      changes.publish([put(51, 'rare')]);
      expect(await drain(subscription)).toEqual([51]);
    });

    it('may replay more than maxQueued from the history', async () => {
      const changes = stream({ maxQueued: 2 });
      publishRange(changes, 1, 10);
      const subscription = changes.subscribe({ fromRevision: 1 });
      changes.publish([put(11)]);
      expect(await drain(subscription)).toHaveLength(11);
    });

    it('is cut off when the history drops a matching change it has not read', async () => {
      const changes = stream({ historySize: 3 });
      const subscription = changes.subscribe({ fromRevision: 1 });
      publishRange(changes, 1, 3);
      changes.publish([put(4)]);
      await expect(subscription.next()).rejects.toEqual(new SubscriberOverflowError(1));
    });

    it('is cut off once the changes waiting take more than maxQueuedBytes', async () => {
      const size = changeSize(large(1, 'a'));
      const changes = stream({ maxQueuedBytes: 2 * size });
      const slow = changes.subscribe();
      const other = changes.subscribe({ match: (key) => key === 'b' });
      changes.publish([large(1, 'a')]);
      changes.publish([large(2, 'a')]);
      expect(changes.subscriberCount).toBe(2);
      changes.publish([large(3, 'a')]);
      expect(changes.subscriberCount).toBe(1);
      await expect(slow.next()).rejects.toEqual(new SubscriberOverflowError(1));
      expect(await drain(other)).toEqual([]);
    });

    it('may always fall one change behind, however large', async () => {
      const changes = stream({ maxQueuedBytes: 1024 });
      const subscription = changes.subscribe();
      changes.publish([large(1, 'a')]);
      expect(changes.subscriberCount).toBe(1);
      expect((await subscription.next()).value.revision).toBe(1);
      changes.publish([large(2, 'a')]);
      expect((await subscription.next()).value.revision).toBe(2);
    });

    it('frees the bytes of what it read', async () => {
      const changes = stream({ maxQueuedBytes: 2 * changeSize(large(1, 'a')) });
      const subscription = changes.subscribe();
      for (let revision = 1; revision <= 10; revision += 2) {
        changes.publish([large(revision, 'a')]);
        changes.publish([large(revision + 1, 'a')]);
        expect((await subscription.next()).value.revision).toBe(revision);
        expect((await subscription.next()).value.revision).toBe(revision + 1);
      }
    });

    it('is cut off when a large change pushes several it has not read out of the history', async () => {
      const changes = stream({ historyBytes: 3 * changeSize(put(1)) });
      const subscription = changes.subscribe({ fromRevision: 1 });
      publishRange(changes, 1, 3);
      expect(changes.oldestRevision).toBe(1);
      changes.publish([large(4, 'k')]);
      expect(changes.oldestRevision).toBe(4);
      await expect(subscription.next()).rejects.toEqual(new SubscriberOverflowError(1));
      expect(changes.historyBytes).toBe(changeSize(large(4, 'k')));
    });

    it('skips what a large change pushed out of the history if none of it matched', async () => {
      const changes = stream({ historyBytes: 3 * changeSize(put(1)) });
      const subscription = changes.subscribe({ match: (key) => key === 'rare' });
      publishRange(changes, 1, 3);
      changes.publish([large(4, 'rare')]);
      expect(await drain(subscription)).toEqual([4]);
    });

    it('is not cut off when the history drops changes it would have skipped', async () => {
      const changes = stream({ historySize: 3 });
      const subscription = changes.subscribe({ match: (key) => key === 'rare' });
      publishRange(changes, 1, 10, 'frequent');
      changes.publish([put(11, 'rare')]);
      expect(await drain(subscription)).toEqual([11]);
    });
  });

  it('ends a waiting subscription quietly on close, and forgets it', async () => {
    const changes = stream();
    const subscription = changes.subscribe();
    const next = subscription.next();
    subscription.close();
    expect(await next).toEqual({ value: undefined, done: true });
    expect(changes.subscriberCount).toBe(0);
  });

  it('supports for await, ending the subscription when the loop is left', async () => {
    const changes = stream();
    const subscription = changes.subscribe({ fromRevision: 1 });
    publishRange(changes, 1, 3);
    const seen: number[] = [];
    for await (const change of subscription) {
      seen.push(change.revision);
      if (change.revision === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(changes.subscriberCount).toBe(0);
  });

  it('ends every subscription at shutdown, and any that arrives afterwards', async () => {
    const changes = stream();
    const open = changes.subscribe();
    changes.beforeApplicationShutdown();
    expect(await open.next()).toEqual({ value: undefined, done: true });
    expect(await changes.subscribe().next()).toEqual({ value: undefined, done: true });
    expect(changes.subscriberCount).toBe(0);
  });

  it('refuses a second next() while the first is pending', async () => {
    const changes = stream();
    const subscription = changes.subscribe();
    void subscription.next();
    await expect(subscription.next()).rejects.toThrow('before the previous call settled');
  });
});
