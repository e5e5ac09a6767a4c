/** What a write's wait for its followers came to. */
export interface AckOutcome {
  /** Followers that had acknowledged the revision when the wait ended. */
  readonly acked: number;
  /** Whether that is as many as were asked for. */
  readonly met: boolean;
}

interface Waiter {
  readonly revision: number;
  readonly wanted: number;
  readonly resolve: (outcome: AckOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The leader's record of what each follower acknowledged, and the writes waiting on it
 * (WRITE_REPLICAS, X-Kv-Replicas). Waiters are settled by acknowledgements, never by polling,
 * and one acknowledgement of revision R settles every waiter at or below R: a follower
 * acknowledges whatever it has applied since its last acknowledgement, so concurrent writes
 * share one round trip (group commit).
 */
export class ReplicaAcks {
  private readonly applied = new Map<string, number>();
  private waiters: Waiter[] = [];

  /** Followers whose acknowledged revision is at or past `revision`. */
  count(revision: number): number {
    let count = 0;
    for (const applied of this.applied.values()) if (applied >= revision) count++;
    return count;
  }

  /** Acknowledgements only move forward: a late, older one changes nothing. */
  acknowledge(follower: string, revision: number): void {
    if (revision <= (this.applied.get(follower) ?? -1)) return;
    this.applied.set(follower, revision);
    if (this.waiters.length === 0) return;
    const pending: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.revision > revision) {
        pending.push(waiter);
        continue;
      }
      const acked = this.count(waiter.revision);
      if (acked < waiter.wanted) {
        pending.push(waiter);
        continue;
      }
      clearTimeout(waiter.timer);
      waiter.resolve({ acked, met: true });
    }
    this.waiters = pending;
  }

  /** A follower starts over (a new stream) or is forgotten: its acknowledgements no longer count. */
  forget(follower: string): void {
    this.applied.delete(follower);
  }

  /**
   * Resolves once `wanted` followers have acknowledged `revision`, or after `timeoutMs` with
   * how many had: a wait never rejects, the caller decides what a shortfall means.
   */
  wait(revision: number, wanted: number, timeoutMs: number): Promise<AckOutcome> {
    const acked = this.count(revision);
    if (acked >= wanted) return Promise.resolve({ acked, met: true });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== entry);
        resolve({ acked: this.count(revision), met: false });
      }, timeoutMs);
      const entry: Waiter = { revision, wanted, resolve, timer };
      this.waiters.push(entry);
    });
  }

  /** Writes waiting now (for tests and the shutdown). */
  get waiting(): number {
    return this.waiters.length;
  }
}
