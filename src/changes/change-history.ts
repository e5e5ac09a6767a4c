import { Change } from '../storage/storage.repository';

/**
 * The last `capacity` changes, in a ring. Every change takes the next revision, so revisions in
 * the ring are consecutive and a change is found by arithmetic, not by search.
 */
export class ChangeHistory {
  private readonly ring: Array<Change | undefined>;
  /** Index of the oldest change held. */
  private start = 0;
  private size = 0;

  /** @param last the store's revision when the history begins (nothing before it is held) */
  constructor(
    private readonly capacity: number,
    private last: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`A change history holds at least one change (got ${capacity})`);
    }
    this.ring = new Array<Change | undefined>(capacity);
  }

  /** The revision of the last change appended, or the starting revision before any. */
  get lastRevision(): number {
    return this.last;
  }

  /** The oldest revision held; lastRevision + 1 while nothing is held (e.g. after a restart). */
  get oldestRevision(): number {
    return this.last - this.size + 1;
  }

  /** The change of `revision`, or undefined if it is not held (too old, or still to come). */
  get(revision: number): Change | undefined {
    const offset = revision - this.oldestRevision;
    if (offset < 0 || offset >= this.size) return undefined;
    return this.ring[(this.start + offset) % this.capacity];
  }

  /** Appends the next change; returns the change that fell out to make room, if one did. */
  append(change: Change): Change | undefined {
    if (change.revision !== this.last + 1) {
      throw new Error(
        `Change history expected revision ${this.last + 1} and was given ${change.revision}`,
      );
    }
    this.last = change.revision;
    if (this.size < this.capacity) {
      this.ring[(this.start + this.size++) % this.capacity] = change;
      return undefined;
    }
    const evicted = this.ring[this.start];
    this.ring[this.start] = change;
    this.start = (this.start + 1) % this.capacity;
    return evicted;
  }
}
