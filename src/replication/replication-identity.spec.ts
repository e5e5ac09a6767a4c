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

  it('leads a follower’s data as a new history continuing the leader’s (what promotion does)', async () => {
    const follower = ReplicationIdentity.read(storage);
    await follower.follow('leader-history');
    await put('a');
    const promoted = ReplicationIdentity.read(storage);
    expect(promoted.historyId).toBe('leader-history');
    await promoted.lead();
    expect(promoted.previous).toEqual({ historyId: 'leader-history', revision: 1 });
  });
});
