import { Change } from '../storage/storage.repository';
import { ChangeHistory } from './change-history';
import { SubscriberOverflowError } from './change-stream.errors';

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** How far a subscriber may fall behind before it is cut off. */
export interface QueueLimits {
  /** Matching changes waiting unread (WATCH_QUEUE). */
  readonly maxQueued: number;
  /** Their bytes, as changeSize counts them (WATCH_QUEUE_BYTES). */
  readonly maxQueuedBytes: number;
}

interface Waiter {
  resolve(result: IteratorResult<Change>): void;
  reject(error: unknown): void;
}

/**
 * One reader of the change feed, pulling at its own pace: `for await (const change of sub)`.
 *
 * Its queue is the span of the shared history it has not read yet, so a subscriber holds no
 * copies of its own. `limits` bound how many matching changes, published since it subscribed,
 * may wait in that span, and how many bytes they take (one change always may, however large);
 * past either, or when the history drops a matching change it has not read, the subscription
 * ends and `next()` rejects with SubscriberOverflowError, which names the revision to resume
 * from. `close()` (or breaking out of the loop) ends it quietly.
 */
export class ChangeSubscription implements AsyncIterableIterator<Change> {
  /** The next revision to look at: everything before it was delivered or did not match. */
  private cursor: number;
  /** Revisions from here on were published after subscribing; earlier ones are replay. */
  private readonly liveFrom: number;
  /** Matching changes published since subscribing and not read yet, and their bytes. */
  private queued = 0;
  private queuedBytes = 0;
  private waiter: Waiter | undefined;
  private ended: SubscriberOverflowError | 'closed' | undefined;

  constructor(
    private readonly history: ChangeHistory,
    fromRevision: number,
    private readonly match: (key: string) => boolean,
    private readonly limits: QueueLimits,
    private readonly detach: (subscription: ChangeSubscription) => void,
  ) {
    this.cursor = fromRevision;
    this.liveFrom = history.lastRevision + 1;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next matching change, once there is one. One call at a time, like any iterator. */
  next(): Promise<IteratorResult<Change>> {
    if (this.ended === 'closed') return Promise.resolve(DONE);
    if (this.ended) return Promise.reject(this.ended);
    if (this.waiter) {
      return Promise.reject(new Error('next() was called before the previous call settled'));
    }
    const change = this.take();
    if (change) return Promise.resolve({ value: change, done: false });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<Change>> {
    this.close();
    return Promise.resolve(DONE);
  }

  /** Ends the subscription; a pending next() resolves as done. Safe to call more than once. */
  close(): void {
    this.end('closed');
  }

  /** Whether it was cut off for falling behind (next() rejects with the resume point). */
  get overflowed(): boolean {
    return this.ended instanceof SubscriberOverflowError;
  }

  /** Ends the subscription as one that fell behind: next() rejects with the resume point. */
  cutOff(): void {
    this.end(new SubscriberOverflowError(this.cursor));
  }

  /**
   * Called by the ChangeStream for every change it publishes, after appending it to the
   * history; `evicted` are the changes the history dropped to make room, oldest first.
   */
  offer(change: Change, evicted: readonly Change[]): void {
    if (this.ended) return;
    // History drops changes in revision order and the cursor never points below the oldest
    // one held, so the cursor moves past dropped changes it would have skipped, or the
    // subscription ends at the first one it would have delivered.
    for (const dropped of evicted) {
      if (this.cursor > dropped.revision) continue;
      if (this.match(dropped.key)) return this.end(new SubscriberOverflowError(this.cursor));
      this.cursor = dropped.revision + 1;
    }
    if (change.revision < this.cursor || !this.match(change.key)) return;
    this.queued++;
    this.queuedBytes += this.history.sizeOf(change.revision);
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ value: this.take()!, done: false });
    } else if (
      this.queued > this.limits.maxQueued ||
      (this.queuedBytes > this.limits.maxQueuedBytes && this.queued > 1)
    ) {
      this.end(new SubscriberOverflowError(this.cursor));
    }
  }

  /**
   * The matching changes up to `revision` already published and not read yet, without waiting:
   * the rest of a commit unit whose first change was just read. Throws the overflow error if
   * the subscription was cut off.
   */
  takeThrough(revision: number): Change[] {
    if (this.ended instanceof SubscriberOverflowError) throw this.ended;
    const changes: Change[] = [];
    for (let change = this.take(revision); change; change = this.take(revision)) {
      changes.push(change);
    }
    return changes;
  }

  private take(upTo = Number.POSITIVE_INFINITY): Change | undefined {
    while (this.cursor <= Math.min(upTo, this.history.lastRevision)) {
      const change = this.history.get(this.cursor++)!;
      if (!this.match(change.key)) continue;
      if (change.revision >= this.liveFrom) {
        this.queued--;
        this.queuedBytes -= this.history.sizeOf(change.revision);
      }
      return change;
    }
    return undefined;
  }

  private end(reason: SubscriberOverflowError | 'closed'): void {
    if (this.ended) return;
    this.ended = reason;
    this.detach(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter === undefined) return;
    if (reason === 'closed') waiter.resolve(DONE);
    else waiter.reject(reason);
  }
}
