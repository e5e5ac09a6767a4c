/** Runs `task` after `ms` milliseconds; the returned function cancels it. */
export type Schedule = (ms: number, task: () => void) => () => void;

/** Node's timers, unref'd: a waiting read never keeps a shutting-down process alive. */
export const timerSchedule: Schedule = (ms, task) => {
  const timer = setTimeout(task, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

interface Waiter {
  readonly revision: number;
  readonly done: (reached: boolean) => void;
  cancelTimer?: () => void;
}

/**
 * Reads that wait for the store to apply a revision (`?minRevision=N`). Each waits once: it
 * resolves true as soon as `wake()` finds the revision applied, or at its deadline with
 * whether it was applied by then. Nothing polls: whoever commits or applies changes calls
 * `wake()` (KvService does it on every publication to the ChangeStream), and the waiters are
 * kept in revision order so that a wake-up touches only those it resolves.
 *
 * The revision comes only from `appliedRevision` (the storage port's currentRevision), never
 * from who wrote it: on a replication follower, which applies the leader's changes through the
 * same port, the same waiters work unchanged. The deadline checks it again, so a revision
 * reached without a publication (a follower's full resync loading a snapshot) is still seen.
 */
export class RevisionWaiters {
  /** Ascending by revision; equal revisions in arrival order. */
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly appliedRevision: () => number,
    private readonly schedule: Schedule = timerSchedule,
  ) {}

  get size(): number {
    return this.waiting.length;
  }

  /** Whether the store applied `revision` within `maxWaitMs`; immediately true if it has. */
  waitFor(revision: number, maxWaitMs: number): Promise<boolean> {
    if (revision <= this.appliedRevision()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { revision, done: resolve };
      this.waiting.splice(this.insertionIndex(revision), 0, waiter);
      waiter.cancelTimer = this.schedule(maxWaitMs, () => {
        const at = this.waiting.indexOf(waiter);
        if (at !== -1) this.waiting.splice(at, 1);
        resolve(revision <= this.appliedRevision());
      });
    });
  }

  /** The applied revision may have moved: resolves every waiter it has reached. */
  wake(): void {
    if (this.waiting.length === 0) return;
    const applied = this.appliedRevision();
    let reached = 0;
    while (reached < this.waiting.length && this.waiting[reached].revision <= applied) reached++;
    if (reached === 0) return;
    for (const waiter of this.waiting.splice(0, reached)) {
      waiter.cancelTimer?.();
      waiter.done(true);
    }
  }

  private insertionIndex(revision: number): number {
    let low = 0;
    let high = this.waiting.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.waiting[middle].revision <= revision) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
