import { ChangeStream } from '../changes/change-stream';
import { FakeClock } from '../clock/fake-clock';
import { MemoryStorageRepository } from '../storage/memory-storage.repository';
import { ReplicationIdentity } from './replication-identity';
import { ReplicationLeader } from './replication-leader.service';

describe('ReplicationLeader: partial or full resync', () => {
  let storage: MemoryStorageRepository;
  let changes: ChangeStream;
  let identity: ReplicationIdentity;
  let leader: ReplicationLeader;

  const write = async (key: string) => {
    const outcome = await storage.write({ op: 'put', key, value: '1', expiresAt: null });
    if (outcome.ok) changes.publish(outcome.changes);
  };

  beforeEach(async () => {
    storage = new MemoryStorageRepository(new FakeClock());
    await storage.saveReplicationState(
      JSON.stringify({ role: 'follower', nodeId: 'n', historyId: 'old', previous: null }),
    );
    await storage.write({ op: 'put', key: 'before', value: '1', expiresAt: null });
    changes = new ChangeStream({
      historySize: 5,
      historyBytes: 1e9,
      maxQueued: 100,
      maxQueuedBytes: 1e9,
      startRevision: storage.currentRevision(),
    });
    identity = ReplicationIdentity.read(storage);
    await identity.lead();
    leader = new ReplicationLeader(storage, changes, identity, null, 1e6);
    for (const key of ['a', 'b', 'c']) await write(key);
  });

  const open = (historyId: string | undefined, revision?: number) => {
    const source = leader.open({ follower: 'f', historyId, revision });
    source.subscription.close();
    return source.hello;
  };

  it('continues a follower of this history that the history covers', () => {
    expect(open(identity.historyId!, 2)).toMatchObject({ sync: 'partial', revision: 4 });
    expect(open(identity.historyId!, 4).sync).toBe('partial');
  });

  it('continues a follower of the previous history up to the switch revision', () => {
    expect(identity.previous).toEqual({ historyId: 'old', revision: 1 });
    expect(open('old', 1).sync).toBe('partial');
    expect(open('old', 2).sync).toBe('full');
  });

  it('continues a follower of a history several switches back, up to the earliest switch', async () => {
    // A second switch (this node's own crash and restart, say): old -> h -> h2.
    const h = identity.historyId!;
    await identity.lead();
    expect(identity.previous).toEqual({ historyId: h, revision: 4 });
    expect(identity.ancestors).toEqual([{ historyId: 'old', revision: 1 }]);
    expect(open('old', 1).sync).toBe('partial');
    expect(open('old', 2).sync).toBe('full');
    expect(open(h, 4).sync).toBe('partial');
  });

  it('copies everything for a follower without data, of another history, or beyond the history', async () => {
    expect(open(undefined)).toMatchObject({ sync: 'full', revision: 4 });
    expect(open('unrelated', 2).sync).toBe('full');
    expect(open(identity.historyId!, 9).sync).toBe('full');
    for (const key of ['d', 'e', 'f', 'g']) await write(key);
    // The history holds the last 5 changes (4..8): revision 3 is gone.
    expect(open(identity.historyId!, 2).sync).toBe('full');
    expect(open(identity.historyId!, 3).sync).toBe('partial');
    expect(leader.counters).toMatchObject({ fullResyncs: 4, partialResyncs: 1 });
  });

  describe('acknowledgements', () => {
    /** What a stream's start does for a follower (serve() needs a socket). */
    const connect = (id: string) =>
      (leader as unknown as { connect(follower: string): void }).connect(id);

    it('counts those of this history only, and starts them over with each stream', () => {
      connect('f');
      leader.acknowledge('f', 4, 'another-history');
      expect(leader.acks.count(1)).toBe(0);
      leader.acknowledge('f', 4, identity.historyId!);
      expect(leader.acks.count(4)).toBe(1);
      // Reconnected (to load a full copy, say): nothing it said before counts any more.
      connect('f');
      expect(leader.acks.count(1)).toBe(0);
    });
  });
});
