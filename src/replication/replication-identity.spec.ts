import { FakeClock } from '../clock/fake-clock';
import { MemoryStorageRepository } from '../storage/memory-storage.repository';
import { ReplicationIdentity } from './replication-identity';

describe('ReplicationIdentity', () => {
  let storage: MemoryStorageRepository;

  beforeEach(() => {
    storage = new MemoryStorageRepository(new FakeClock());
  });

  const put = (key: string) => storage.write({ op: 'put', key, value: '1', expiresAt: null });

  it('starts a history with nothing before it on a store without a recorded state', async () => {
    const identity = ReplicationIdentity.read(storage);
    expect(identity.historyId).toBeNull();
    await identity.lead();
    expect(identity.historyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(identity.previous).toBeNull();
  });

  it('keeps the history and the node id after a clean stop at the same revision', async () => {
    const first = ReplicationIdentity.read(storage);
    await first.lead();
    await put('a');
    await first.leaveCleanly();
    const second = ReplicationIdentity.read(storage);
    await second.lead();
    expect(second.historyId).toBe(first.historyId);
    expect(second.nodeId).toBe(first.nodeId);
  });

  it('starts a new history continuing the old one after an unclean stop', async () => {
    const first = ReplicationIdentity.read(storage);
    await first.lead();
    await put('a');
    const second = ReplicationIdentity.read(storage);
    await second.lead();
    expect(second.historyId).not.toBe(first.historyId);
    expect(second.previous).toEqual({ historyId: first.historyId, revision: 1 });
  });

  it('does not keep a history whose clean stop was followed by more writes', async () => {
    const first = ReplicationIdentity.read(storage);
    await first.lead();
    await first.leaveCleanly();
    await put('late');
    const second = ReplicationIdentity.read(storage);
    await second.lead();
    expect(second.historyId).not.toBe(first.historyId);
  });

  const leaderHistory = { historyId: 'leader-history', previous: null, ancestors: [], epoch: 3 };

  it('leads a follower’s data as a new history continuing the leader’s, in the same epoch, after a restart as a leader', async () => {
    const follower = ReplicationIdentity.read(storage);
    await follower.follow(leaderHistory);
    await put('a');
    const restarted = ReplicationIdentity.read(storage);
    expect(restarted.historyId).toBe('leader-history');
    expect(restarted.epoch).toBe(3);
    await restarted.lead();
    expect(restarted.previous).toEqual({ historyId: 'leader-history', revision: 1 });
    expect(restarted.epoch).toBe(3);
  });

  it('promotes a follower to a new history one epoch up, switching at its revision, and records it', async () => {
    const follower = ReplicationIdentity.read(storage);
    await follower.follow(leaderHistory);
    await put('a');
    await put('b');
    await follower.promote();
    expect(follower.historyId).not.toBe('leader-history');
    expect(follower.previous).toEqual({ historyId: 'leader-history', revision: 2 });
    expect(follower.epoch).toBe(4);
    const reread = ReplicationIdentity.read(storage);
    expect(reread).toMatchObject({ historyId: follower.historyId, epoch: 4 });
    expect(reread.previous).toEqual(follower.previous);
  });

  it('stays as it was when the promotion cannot be recorded, so a retry continues the same history', async () => {
    const follower = ReplicationIdentity.read(storage);
    await follower.follow(leaderHistory);
    await put('a');
    const save = jest
      .spyOn(storage, 'saveReplicationState')
      .mockRejectedValueOnce(new Error('ENOSPC: no space left on device'));
    await expect(follower.promote()).rejects.toThrow('ENOSPC');
    expect(follower).toMatchObject({ historyId: 'leader-history', epoch: 3 });
    save.mockRestore();
    await follower.promote();
    expect(follower.previous).toEqual({ historyId: 'leader-history', revision: 1 });
    expect(follower.epoch).toBe(4);
  });

  it('keeps the histories before a promotion when it then restarts uncleanly, and records them', async () => {
    const follower = ReplicationIdentity.read(storage);
    await follower.follow(leaderHistory);
    await put('a');
    await follower.promote();
    const promoted = follower.historyId!;
    await put('b');
    const restarted = ReplicationIdentity.read(storage);
    await restarted.lead();
    expect(restarted.previous).toEqual({ historyId: promoted, revision: 2 });
    expect(restarted.ancestors).toEqual([{ historyId: 'leader-history', revision: 1 }]);
    expect(ReplicationIdentity.read(storage).ancestors).toEqual(restarted.ancestors);
  });

  it('reads states recorded before epochs as epoch 1 for a leader and 0 for a follower', async () => {
    await storage.saveReplicationState(
      JSON.stringify({ role: 'leader', nodeId: 'n', historyId: 'h', previous: null }),
    );
    expect(ReplicationIdentity.read(storage).epoch).toBe(1);
    await storage.saveReplicationState(
      JSON.stringify({ role: 'follower', nodeId: 'n', historyId: 'h', previous: null }),
    );
    expect(ReplicationIdentity.read(storage).epoch).toBe(0);
  });
});
