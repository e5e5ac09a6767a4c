/**
 * A min-heap of (expiresAt, key, createRevision). Entries are never updated in place: a TTL
 * change pushes a new entry and the old one goes stale. Callers check an entry against the
 * table before acting on it, and the heap is rebuilt when stale entries outnumber live ones,
 * so memory stays proportional to the keys that carry an expiry.
 */
export interface ExpiryMark {
  readonly expiresAt: number;
  readonly key: string;
  readonly createRevision: number;
}

export class ExpiryHeap {
  private heap: ExpiryMark[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(mark: ExpiryMark): void {
    const heap = this.heap;
    heap.push(mark);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].expiresAt <= mark.expiresAt) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = mark;
  }

  peek(): ExpiryMark | undefined {
    return this.heap[0];
  }

  pop(): ExpiryMark | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Visits every mark due at or before `now`, in no particular order, in O(due marks). */
  forEachDue(now: number, visit: (mark: ExpiryMark) => void): void {
    const heap = this.heap;
    const pending = heap.length > 0 && heap[0].expiresAt <= now ? [0] : [];
    while (pending.length > 0) {
      const i = pending.pop()!;
      visit(heap[i]);
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && heap[child].expiresAt <= now) pending.push(child);
      }
    }
  }

  /** Keeps only the marks for which `isLive` holds. */
  rebuild(isLive: (mark: ExpiryMark) => boolean): void {
    this.heap = this.heap.filter(isLive);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const mark = heap[start];
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1].expiresAt < heap[child].expiresAt) child++;
      if (heap[child].expiresAt >= mark.expiresAt) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = mark;
  }
}
