import { RevisionWaiters, Schedule } from './revision-waiters';

/** Timers that fire only when the test moves time on. */
class FakeSchedule {
  private now = 0;
  private readonly timers = new Set<{ at: number; task: () => void }>();

  readonly schedule: Schedule = (ms, task) => {
    const timer = { at: this.now + ms, task };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  };

  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    this.now += ms;
    for (const timer of [...this.timers].sort((a, b) => a.at - b.at)) {
      if (timer.at > this.now) break;
      this.timers.delete(timer);
      timer.task();
    }
  }
}

describe('RevisionWaiters', () => {
  let applied: number;
  let timers: FakeSchedule;
  let waiters: RevisionWaiters;
  /** Settles the promise callbacks that are due, and says which waits ended and how. */
  const outcomes = async (waits: Record<string, Promise<boolean>>) => {
    const seen: Record<string, boolean | 'waiting'> = {};
    for (const [name, wait] of Object.entries(waits)) {
      seen[name] = await Promise.race([wait, Promise.resolve('waiting' as const)]);
    }
    return seen;
  };

  beforeEach(() => {
    applied = 5;
    timers = new FakeSchedule();
    waiters = new RevisionWaiters(() => applied, timers.schedule);
  });

  it('answers at once, without a timer, for a revision already applied', async () => {
    expect(
      await outcomes({ zero: waiters.waitFor(0, 1000), five: waiters.waitFor(5, 1000) }),
    ).toEqual({ zero: true, five: true });
    expect({ waiting: waiters.size, timers: timers.pending }).toEqual({ waiting: 0, timers: 0 });
  });

  it('resolves a waiter on the wake-up that finds its revision applied, and cancels its timer', async () => {
    const waits = { six: waiters.waitFor(6, 1000), eight: waiters.waitFor(8, 1000) };
    applied = 6;
    waiters.wake();
    expect(await outcomes(waits)).toEqual({ six: true, eight: 'waiting' });
    expect({ waiting: waiters.size, timers: timers.pending }).toEqual({ waiting: 1, timers: 1 });
    applied = 9;
    waiters.wake();
    expect(await outcomes(waits)).toEqual({ six: true, eight: true });
    expect({ waiting: waiters.size, timers: timers.pending }).toEqual({ waiting: 0, timers: 0 });
  });

  it('ends a wait at its deadline, not applied, and forgets it', async () => {
    const early = waiters.waitFor(7, 200);
    const late = waiters.waitFor(7, 1000);
    timers.advance(199);
    expect(await outcomes({ early, late })).toEqual({ early: 'waiting', late: 'waiting' });
    timers.advance(1);
    expect(await outcomes({ early, late })).toEqual({ early: false, late: 'waiting' });
    expect(waiters.size).toBe(1);
    applied = 7;
    waiters.wake();
    expect(await outcomes({ late })).toEqual({ late: true });
  });

  it('sees at the deadline a revision reached without a wake-up (a full resync)', async () => {
    const wait = waiters.waitFor(50, 1000);
    applied = 60;
    timers.advance(1000);
    expect(await outcomes({ wait })).toEqual({ wait: true });
  });

  it('resolves waiters in revision order, only those reached, whatever order they came in', async () => {
    const waits = {
      r9: waiters.waitFor(9, 1000),
      r6: waiters.waitFor(6, 1000),
      r7: waiters.waitFor(7, 1000),
      r6b: waiters.waitFor(6, 1000),
    };
    applied = 7;
    waiters.wake();
    expect(await outcomes(waits)).toEqual({ r9: 'waiting', r6: true, r7: true, r6b: true });
    expect(waiters.size).toBe(1);
  });

  it('does nothing on a wake-up that reaches no waiter', async () => {
    const wait = waiters.waitFor(10, 1000);
    applied = 9;
    waiters.wake();
    expect(await outcomes({ wait })).toEqual({ wait: 'waiting' });
    expect({ waiting: waiters.size, timers: timers.pending }).toEqual({ waiting: 1, timers: 1 });
  });
});
