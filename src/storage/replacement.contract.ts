import { FakeClock } from '../clock/fake-clock';
import { dumpStore, expectSameDump, sampleCommands } from './file/testing/store-dump';
import { MemoryStorageRepository } from './memory-storage.repository';
import { StorageRepository } from './storage.repository';

export interface ReplacementContext {
  readonly repo: StorageRepository;
  readonly clock: FakeClock;
  /** Closes the repository and opens it again on the same data (durable stores only). */
  readonly restart?: () => Promise<StorageRepository>;
}

/**
 * What replication needs of every repository: a consistent copy of the store (`snapshot`), and
 * loading another store's copy beside the old data, swapped in at the end (`replaceAll`).
 * Part of the storage contract.
 */
export function describeReplacementContract(context: () => ReplacementContext): void {
  describe('full copies (replication)', () => {
    let repo: StorageRepository;
    let clock: FakeClock;
    let source: MemoryStorageRepository;

    beforeEach(async () => {
      ({ repo, clock } = context());
      source = new MemoryStorageRepository(clock);
      for (const command of sampleCommands(clock.now(), 40)) await source.write(command);
      await source.write({ op: 'put', key: 'soon', value: '1', expiresAt: clock.now() + 50 });
    });

    const copy = async (into: StorageRepository, state = 'state') => {
      const snapshot = source.snapshot();
      const replacement = await into.replaceAll(snapshot.revision);
      for (const entry of snapshot.entries()) await replacement.add(entry);
      await replacement.commit(state);
    };

    it('snapshots the store as it was, whatever is written afterwards', async () => {
      const before = await dumpStore(source);
      const snapshot = source.snapshot();
      await source.write({ op: 'put', key: 'later', value: '2', expiresAt: null });
      await source.write({ op: 'delete', key: before.entries[0]!.key });
      expect(snapshot.revision).toBe(before.revision);
      expect([...snapshot.entries()]).toEqual(before.entries);
      expect(snapshot.keys).toBe(before.entries.length);
    });

    it('keeps expired keys that were not swept in the snapshot', async () => {
      clock.advance(100);
      const snapshot = source.snapshot();
      expect([...snapshot.entries()].map((entry) => entry.key)).toContain('soon');
      expect(await source.get('soon')).toBeUndefined();
    });

    it('loads a copy beside the old data and swaps at the end, same revisions', async () => {
      await repo.write({ op: 'put', key: 'old', value: '"old"', expiresAt: null });
      const snapshot = source.snapshot();
      const replacement = await repo.replaceAll(snapshot.revision);
      for (const entry of snapshot.entries()) {
        await replacement.add(entry);
        // Reads answer from the old data until the commit.
        expect((await repo.get('old'))?.value).toBe('"old"');
      }
      expect(repo.currentRevision()).toBe(1);
      await replacement.commit('after-copy');
      expectSameDump(await dumpStore(repo), await dumpStore(source));
      expect(repo.dataUsage().usedBytes).toBe(source.dataUsage().usedBytes);
      expect(repo.replicationState()).toBe('after-copy');
    });

    it('continues with the source’s next changes after the copy, expiries included', async () => {
      await copy(repo);
      const outcome = await source.write({ op: 'put', key: 'next', value: '3', expiresAt: null });
      if (!outcome.ok) throw new Error('write refused');
      await repo.applyChanges(outcome.changes);
      clock.advance(100);
      const expired = await source.expireDue(10);
      expect(expired.map((change) => change.key)).toEqual(['soon']);
      await repo.applyChanges(expired);
      expectSameDump(await dumpStore(repo), await dumpStore(source));
      expect((await repo.stats()).storedKeys).toBe((await source.stats()).storedKeys);
    });

    it('keeps the old data when the copy is aborted', async () => {
      await repo.write({ op: 'put', key: 'old', value: '"old"', expiresAt: null });
      const before = await dumpStore(repo);
      const replacement = await repo.replaceAll(source.currentRevision());
      for (const entry of source.snapshot().entries()) await replacement.add(entry);
      await replacement.abort();
      expectSameDump(await dumpStore(repo), before);
      expect((await repo.write({ op: 'delete', key: 'old' })).ok).toBe(true);
    });

    it('records the replication state with the data', async () => {
      expect(repo.replicationState()).toBeUndefined();
      await repo.saveReplicationState('{"historyId":"a"}');
      expect(repo.replicationState()).toBe('{"historyId":"a"}');
    });

    it('keeps a loaded copy and its state across a restart', async () => {
      const { restart } = context();
      if (!restart) return;
      await repo.write({ op: 'put', key: 'old', value: '"old"', expiresAt: null });
      await copy(repo, 'copied');
      repo = await restart();
      const expected = await dumpStore(source);
      expectSameDump(await dumpStore(repo), expected);
      expect(repo.replicationState()).toBe('copied');
      const outcome = await source.write({ op: 'put', key: 'next', value: '3', expiresAt: null });
      if (!outcome.ok) throw new Error('write refused');
      await repo.applyChanges(outcome.changes);
      repo = await restart();
      expectSameDump(await dumpStore(repo), await dumpStore(source));
    });

    it('keeps the old data when a restart follows an unfinished copy', async () => {
      const { restart } = context();
      if (!restart) return;
      await repo.write({ op: 'put', key: 'old', value: '"old"', expiresAt: null });
      const before = await dumpStore(repo);
      const replacement = await repo.replaceAll(source.currentRevision());
      for (const entry of source.snapshot().entries()) await replacement.add(entry);
      repo = await restart();
      expectSameDump(await dumpStore(repo), before);
    });
  });
}
