import { BeforeApplicationShutdown } from '@nestjs/common';
import { Change } from '../storage/storage.repository';
import { ChangeHistory } from './change-history';
import { RevisionCompactedError } from './change-stream.errors';
import { ChangeSubscription, QueueLimits } from './change-subscription';
import { CommitUnit, CommitUnits } from './commit-units';

export interface ChangeStreamOptions {
  /** How many of the latest changes are kept for replay (WATCH_HISTORY). */
  readonly historySize: number;
  /** How many bytes of them, as changeSize counts them (WATCH_HISTORY_BYTES). */
  readonly historyBytes: number;
  /** The store's revision when the stream starts; history begins after it. */
  readonly startRevision: number;
  /** The default of SubscribeOptions.maxQueued (WATCH_QUEUE). */
  readonly maxQueued: number;
  /** The default of SubscribeOptions.maxQueuedBytes (WATCH_QUEUE_BYTES). */
  readonly maxQueuedBytes: number;
}

export interface SubscribeOptions {
  /**
   * The first revision wanted, inclusive (0 and 1 both mean "from the start"). Without it the
   * subscription starts with the next change published.
   */
  readonly fromRevision?: number;
  /** Only changes to keys it accepts are delivered. */
  readonly match?: (key: string) => boolean;
  /** Matching changes that may wait unread before the subscription is cut off. */
  readonly maxQueued?: number;
  /** Bytes of them that may wait (one change always may). */
  readonly maxQueuedBytes?: number;
}

const EVERY_KEY = () => true;

/**
 * The feed of committed changes, in revision order: the write paths publish every change once
 * it is durable, and subscribers (the /watch endpoint; later, replication) read it from any
 * revision the bounded history still holds. After a restart the history starts empty, so only
 * changes made since can be replayed.
 */
export class ChangeStream implements BeforeApplicationShutdown {
  private history: ChangeHistory;
  private readonly limits: { readonly maxChanges: number; readonly maxBytes: number };
  private readonly subscriptions = new Set<ChangeSubscription>();
  /** Changes that arrived ahead of an earlier revision, by their first revision. */
  private readonly early = new Map<number, readonly Change[]>();
  private readonly queue: QueueLimits;
  private units = new CommitUnits();
  private readonly publishedListeners: Array<() => void> = [];
  private closed = false;

  constructor(options: ChangeStreamOptions) {
    this.limits = { maxChanges: options.historySize, maxBytes: options.historyBytes };
    this.history = new ChangeHistory(this.limits, options.startRevision);
    this.queue = { maxQueued: options.maxQueued, maxQueuedBytes: options.maxQueuedBytes };
  }

  /** The revision of the last change published. */
  get lastRevision(): number {
    return this.history.lastRevision;
  }

  /** The oldest revision a subscription can start from. */
  get oldestRevision(): number {
    return this.history.oldestRevision;
  }

  /** Bytes the history holds, as changeSize counts them. */
  get historyBytes(): number {
    return this.history.heldBytes;
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  /**
   * Publishes the changes of one committed write, which carry consecutive revisions.
   *
   * Storage resolves writes in revision order (both repositories commit synchronously inside
   * write(), and the file engine's group fsync wakes its writers in order), so changes arrive
   * in order today. Resuming by revision is only correct if publication order is revision
   * order, so a batch that arrives early is held until the revisions before it are published
   * rather than trusted. A revision taken by a write that then failed never arrives and holds
   * back what follows; the file engine refuses every write after a failed fsync, so nothing
   * can queue behind it. A revision published twice is a bug and throws.
   *
   * `unit`: the changes are one transaction's, which readers deliver whole (see `unitOf`).
   */
  publish(changes: readonly Change[], { unit = false } = {}): void {
    if (changes.length === 0) return;
    const first = changes[0].revision;
    if (first <= this.lastRevision || this.early.has(first)) {
      throw new Error(
        `Revision ${first} was published twice (last published: ${this.lastRevision})`,
      );
    }
    if (unit) this.units.add({ firstRevision: first, lastRevision: changes.at(-1)!.revision });
    if (first > this.lastRevision + 1) {
      this.early.set(first, changes);
      return;
    }
    let next: readonly Change[] | undefined = changes;
    while (next !== undefined) {
      this.early.delete(next[0].revision);
      this.append(next);
      next = this.early.get(this.lastRevision + 1);
    }
    this.units.forgetBefore(this.oldestRevision);
    for (const listener of this.publishedListeners) listener();
  }

  /**
   * Calls `listener` after every publication that reached the history: the revision the store
   * has applied may have moved (reads waiting for a revision check it).
   */
  onPublished(listener: () => void): void {
    this.publishedListeners.push(listener);
  }

  /**
   * The published changes from `fromRevision` to `toRevision`, both included, or undefined
   * when the history no longer holds all of them (a deposed leader saving what it discards).
   */
  changesBetween(fromRevision: number, toRevision: number): Change[] | undefined {
    if (fromRevision < this.oldestRevision || toRevision > this.lastRevision) return undefined;
    const changes: Change[] = [];
    for (let revision = fromRevision; revision <= toRevision; revision++) {
      changes.push(this.history.get(revision)!);
    }
    return changes;
  }

  /** The transaction a published revision belongs to, while the history holds it. */
  unitOf(revision: number): CommitUnit | undefined {
    return this.units.of(revision);
  }

  /**
   * Subscribes from `fromRevision` (inclusive) or from the next change. Throws
   * RevisionCompactedError when the history no longer holds `fromRevision`; a revision still
   * to come is allowed, and changes before it are skipped.
   */
  subscribe(options: SubscribeOptions = {}): ChangeSubscription {
    const from =
      options.fromRevision === undefined
        ? this.lastRevision + 1
        : Math.max(options.fromRevision, 1);
    if (from < this.oldestRevision) throw new RevisionCompactedError(this.oldestRevision);
    const subscription = new ChangeSubscription(
      this.history,
      from,
      options.match ?? EVERY_KEY,
      {
        maxQueued: options.maxQueued ?? this.queue.maxQueued,
        maxQueuedBytes: options.maxQueuedBytes ?? this.queue.maxQueuedBytes,
      },
      (ended) => this.subscriptions.delete(ended),
    );
    // A subscriber arriving while the application shuts down gets a stream that has ended.
    if (this.closed) subscription.close();
    else this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Starts the feed over at `revision`, with an empty history: the store's data was replaced
   * by a full copy (a replication follower's full resync), so the changes before it are not the
   * ones that led to it. Every subscription is cut off as a slow one is, with the revision it
   * had reached; resuming from there finds the history compacted (410), as after a restart.
   */
  restartAt(revision: number): void {
    for (const subscription of this.subscriptions) subscription.cutOff();
    this.early.clear();
    this.units = new CommitUnits();
    this.history = new ChangeHistory(this.limits, revision);
    // The store's revision moved with the copy: reads waiting for one may answer now.
    for (const listener of this.publishedListeners) listener();
  }

  /** Ends every subscription, so that open /watch streams finish before the server closes. */
  beforeApplicationShutdown(): void {
    this.closed = true;
    for (const subscription of this.subscriptions) subscription.close();
  }

  private append(changes: readonly Change[]): void {
    for (const change of changes) {
      const evicted = this.history.append(change);
      for (const subscription of this.subscriptions) subscription.offer(change, evicted);
    }
  }
}
