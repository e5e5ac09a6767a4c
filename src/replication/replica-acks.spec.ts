import { ReplicaAcks } from './replica-acks';

describe('ReplicaAcks', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves at once when enough followers already acknowledged the revision', async () => {
    const acks = new ReplicaAcks();
    acks.acknowledge('a', 10);
    acks.acknowledge('b', 9);
    await expect(acks.wait(10, 1, 1000)).resolves.toEqual({ acked: 1, met: true });
    await expect(acks.wait(9, 2, 1000)).resolves.toEqual({ acked: 2, met: true });
  });

  it('settles every waiter at or below an acknowledged revision with one acknowledgement', async () => {
    const acks = new ReplicaAcks();
    const early = acks.wait(5, 1, 1000);
    const middle = acks.wait(7, 1, 1000);
    const later = acks.wait(8, 1, 1000);
    acks.acknowledge('a', 7);
    await expect(early).resolves.toEqual({ acked: 1, met: true });
    await expect(middle).resolves.toEqual({ acked: 1, met: true });
    expect(acks.waiting).toBe(1);
    acks.acknowledge('a', 8);
    await expect(later).resolves.toEqual({ acked: 1, met: true });
    expect(acks.waiting).toBe(0);
  });

  it('waits for distinct followers: the same one acknowledging twice counts once', async () => {
    const acks = new ReplicaAcks();
    let settled = false;
    const waiting = acks.wait(3, 2, 1000).then((outcome) => {
      settled = true;
      return outcome;
    });
    acks.acknowledge('a', 3);
    acks.acknowledge('a', 4);
    await Promise.resolve();
    expect(settled).toBe(false);
    acks.acknowledge('b', 3);
    await expect(waiting).resolves.toEqual({ acked: 2, met: true });
  });

  it('ignores an older acknowledgement arriving after a newer one', () => {
    const acks = new ReplicaAcks();
    acks.acknowledge('a', 9);
    acks.acknowledge('a', 4);
    expect(acks.count(9)).toBe(1);
  });

  it('resolves with the shortfall once the timeout passes, and forgets the waiter', async () => {
    const acks = new ReplicaAcks();
    acks.acknowledge('a', 6);
    const waiting = acks.wait(6, 2, 1000);
    jest.advanceTimersByTime(999);
    expect(acks.waiting).toBe(1);
    jest.advanceTimersByTime(1);
    await expect(waiting).resolves.toEqual({ acked: 1, met: false });
    expect(acks.waiting).toBe(0);
    acks.acknowledge('b', 6);
    expect(acks.waiting).toBe(0);
  });

  it('no longer counts a follower it was told to forget', async () => {
    const acks = new ReplicaAcks();
    acks.acknowledge('f1', 10);
    acks.acknowledge('f2', 10);
    acks.forget('f1');
    expect(acks.count(10)).toBe(1);
    await expect(acks.wait(10, 1, 10)).resolves.toEqual({ acked: 1, met: true });
  });
});
