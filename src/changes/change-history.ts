import { Change } from '../storage/storage.repository';
import { changeSize } from './change-size';

/** How much a history holds at most; the newest change is held whatever its size. */
export interface ChangeHistoryLimits {
  /** Changes (WATCH_HISTORY). */
  readonly maxChanges: number;
  /** Bytes, as changeSize counts them (WATCH_HISTORY_BYTES). */
  readonly maxBytes: number;
}

const NOTHING_EVICTED: readonly Change[] = Object.freeze([]);

/**
 * The last changes, in a ring, bounded in count and in bytes: a history of large values would
 * otherwise hold WATCH_HISTORY of them, far more than the heap (issue 11). Every change takes
 * the next revision, so revisions in the ring are consecutive and a change is found by
 * arithmetic, not by search. Its readers (the /watch subscriptions, later replication) keep
 * only a position in it, and can bound what they take at once with `sizeOf`.
 */
export class ChangeHistory {
  private readonly ring: Array<Change | undefined>;
  private readonly sizes: Float64Array;
  private readonly capacity: number;
  private readonly maxBytes: number;
  /** Index of the oldest change held. */
  private start = 0;
  private size = 0;
  private bytes = 0;

  /** @param last the store's revision when the history begins (nothing before it is held) */
  constructor(
    limits: ChangeHistoryLimits,
    private last: number,
  ) {
    const { maxChanges, maxBytes } = limits;
    if (!Number.isInteger(maxChanges) || maxChanges < 1) {
      throw new RangeError(`A change history holds at least one change (got ${maxChanges})`);
    }
    if (!(maxBytes > 0)) throw new RangeError(`A change history needs bytes (got ${maxBytes})`);
    this.capacity = maxChanges;
    this.maxBytes = maxBytes;
    this.ring = new Array<Change | undefined>(maxChanges);
    this.sizes = new Float64Array(maxChanges);
  }

  /** The revision of the last change appended, or the starting revision before any. */
  get lastRevision(): number {
    return this.last;
  }

  /** The oldest revision held; lastRevision + 1 while nothing is held (e.g. after a restart). */
  get oldestRevision(): number {
    return this.last - this.size + 1;
  }

  /** Bytes held, as changeSize counts them. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The change of `revision`, or undefined if it is not held (too old, or still to come). */
  get(revision: number): Change | undefined {
    const index = this.indexOf(revision);
    return index === undefined ? undefined : this.ring[index];
  }

  /** The changeSize of a held revision, measured once when it was appended; 0 if not held. */
  sizeOf(revision: number): number {
    const index = this.indexOf(revision);
    return index === undefined ? 0 : this.sizes[index];
  }

  /**
   * Appends the next change; returns the changes that fell out to make room, oldest first
   * (several when a large change displaces small ones).
   */
  append(change: Change): readonly Change[] {
    if (change.revision !== this.last + 1) {
      throw new Error(
        `Change history expected revision ${this.last + 1} and was given ${change.revision}`,
      );
    }
    let evicted = NOTHING_EVICTED as Change[];
    if (this.size === this.capacity) evicted = [this.evictOldest()];
    const size = changeSize(change);
    const index = (this.start + this.size++) % this.capacity;
    this.ring[index] = change;
    this.sizes[index] = size;
    this.bytes += size;
    this.last = change.revision;
    while (this.bytes > this.maxBytes && this.size > 1) {
      if (evicted === NOTHING_EVICTED) evicted = [];
      evicted.push(this.evictOldest());
    }
    return evicted;
  }

  private evictOldest(): Change {
    const change = this.ring[this.start]!;
    this.ring[this.start] = undefined;
    this.bytes -= this.sizes[this.start];
    this.start = (this.start + 1) % this.capacity;
    this.size--;
    return change;
  }

  private indexOf(revision: number): number | undefined {
    const offset = revision - this.oldestRevision;
    if (offset < 0 || offset >= this.size) return undefined;
    return (this.start + offset) % this.capacity;
  }
}
