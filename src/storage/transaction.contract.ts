import { FakeClock } from '../clock/fake-clock';
import { entrySize } from './data-size';
import { MemoryStorageRepository } from './memory-storage.repository';
import { StorageRepository, Transaction, TxnOp } from './storage.repository';

/**
 * The transaction part of the storage contract (storage.contract.ts runs it for every
 * repository): compares, branches, results, one commit unit of consecutive revisions.
 */
export function describeTransactionContract(
  context: () => {
    repo: StorageRepository;
    clock: FakeClock;
    restart?: () => Promise<StorageRepository>;
  },
): void {
  const put = (key: string, value: unknown, expiresAt: number | null | 'keep' = null): TxnOp => ({
    op: 'put',
    key,
    value: JSON.stringify(value),
    expiresAt,
  });
  const txn = (parts: Partial<Transaction>): Transaction => ({
    compare: [],
    success: [],
    failure: [],
    ...parts,
  });
  const dump = async (repo: StorageRepository) =>
    Promise.all((await repo.listKeys()).map((key) => repo.get(key)));

  describe('transactions', () => {
    it('runs success when every compare holds, with consecutive revisions and ordered results', async () => {
      const { repo } = context();
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
      await repo.write({ op: 'put', key: 'gone', value: '1', expiresAt: null });
      const outcome = await repo.transact(
        txn({
          compare: [
            { key: 'a', target: 'modRevision', equals: 1 },
            { key: 'a', target: 'createRevision', equals: 1 },
            { key: 'a', target: 'version', equals: 1 },
            { key: 'a', target: 'value', equals: '1' },
            { key: 'a', target: 'exists', equals: true },
            { key: 'b', target: 'exists', equals: false },
            { key: 'b', target: 'version', equals: 0 },
            { key: 'b', target: 'modRevision', equals: 0 },
          ],
          success: [
            put('a', 2),
            put('b', { n: 1 }),
            { op: 'delete', key: 'gone' },
            { op: 'delete', key: 'never' },
            { op: 'get', key: 'a' },
          ],
        }),
      );
      expect(outcome.succeeded).toBe(true);
      expect(outcome.revision).toBe(5);
      expect(outcome.changes.map((change) => [change.op, change.revision, change.key])).toEqual([
        ['put', 3, 'a'],
        ['put', 4, 'b'],
        ['delete', 5, 'gone'],
      ]);
      expect(outcome.results).toEqual([
        {
          op: 'put',
          entry: {
            key: 'a',
            value: '2',
            expiresAt: null,
            createRevision: 1,
            modRevision: 3,
            version: 2,
            size: entrySize('a', '2'),
          },
        },
        {
          op: 'put',
          entry: {
            key: 'b',
            value: '{"n":1}',
            expiresAt: null,
            createRevision: 4,
            modRevision: 4,
            version: 1,
            size: entrySize('b', '{"n":1}'),
          },
        },
        { op: 'delete', key: 'gone', deleted: true },
        { op: 'delete', key: 'never', deleted: false },
        { op: 'get', key: 'a', entry: expect.objectContaining({ value: '2', modRevision: 3 }) },
      ]);
      expect(repo.currentRevision()).toBe(5);
      expect(await repo.listKeys()).toEqual(['a', 'b']);
    });

    it('runs failure, and writes nothing of success, when any compare fails', async () => {
      const { repo } = context();
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
      for (const compare of [
        { key: 'a', target: 'modRevision', equals: 2 },
        { key: 'a', target: 'createRevision', equals: 0 },
        { key: 'a', target: 'version', equals: 2 },
        { key: 'a', target: 'value', equals: '"1"' },
        { key: 'a', target: 'exists', equals: false },
        { key: 'b', target: 'exists', equals: true },
        { key: 'b', target: 'modRevision', equals: 1 },
      ] as const) {
        const outcome = await repo.transact(
          txn({
            compare: [{ key: 'a', target: 'exists', equals: true }, compare],
            success: [put('a', 'no'), put('c', 'no')],
            failure: [
              { op: 'get', key: 'a' },
              { op: 'get', key: 'b' },
            ],
          }),
        );
        expect(outcome).toEqual({
          succeeded: false,
          revision: 1,
          changes: [],
          results: [
            { op: 'get', key: 'a', entry: expect.objectContaining({ value: '1' }) },
            { op: 'get', key: 'b', entry: null },
          ],
        });
      }
      expect(repo.currentRevision()).toBe(1);
      expect(await repo.listKeys()).toEqual(['a']);
    });

    it('lets each op see the ones before it in its branch', async () => {
      const { repo, clock } = context();
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: clock.now() + 5000 });
      const outcome = await repo.transact(
        txn({
          success: [
            { op: 'get', key: 'a' },
            put('a', 2, 'keep'),
            { op: 'get', key: 'a' },
            { op: 'delete', key: 'b' },
            put('b', 3),
            { op: 'get', key: 'b' },
            { op: 'delete', key: 'a' },
            { op: 'get', key: 'a' },
          ],
        }),
      );
      expect(
        outcome.results.map((result) => (result.op === 'get' ? result.entry : result.op)),
      ).toEqual([
        expect.objectContaining({ value: '1', version: 1 }),
        'put',
        expect.objectContaining({ value: '2', version: 2, expiresAt: clock.now() + 5000 }),
        'delete',
        'put',
        expect.objectContaining({ value: '3', createRevision: 3 }),
        'delete',
        null,
      ]);
      expect(await repo.listKeys()).toEqual(['b']);
    });

    it('records the expiry of a stale key a put meets, first, in the same unit', async () => {
      const { repo, clock } = context();
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: clock.now() + 10 });
      clock.advance(10);
      const outcome = await repo.transact(
        txn({
          compare: [{ key: 'a', target: 'exists', equals: false }],
          success: [{ op: 'delete', key: 'a' }, put('a', 2), put('b', 1)],
        }),
      );
      expect(outcome.results[0]).toEqual({ op: 'delete', key: 'a', deleted: false });
      expect(outcome.changes.map((change) => [change.op, change.revision, change.key])).toEqual([
        ['expire', 2, 'a'],
        ['put', 3, 'a'],
        ['put', 4, 'b'],
      ]);
      expect(await repo.get('a')).toMatchObject({ createRevision: 3, version: 1 });
      expect((await repo.stats()).expiredTotal).toBe(1);
    });

    it('commits nothing for a transaction that only reads', async () => {
      const { repo } = context();
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
      const outcome = await repo.transact(txn({ success: [{ op: 'get', key: 'a' }] }));
      expect(outcome).toMatchObject({ succeeded: true, revision: 1, changes: [] });
      expect(repo.currentRevision()).toBe(1);
    });

    it('serialises concurrent transactions and writes in call order', async () => {
      const { repo } = context();
      await repo.write({ op: 'put', key: 'n', value: '0', expiresAt: null });
      const increments = Array.from({ length: 10 }, () =>
        repo.transact(
          txn({
            compare: [{ key: 'n', target: 'modRevision', equals: 1 }],
            success: [put('n', 1), put('winner', true)],
          }),
        ),
      );
      const write = repo.write({ op: 'put', key: 'n', value: '9', expiresAt: null });
      const outcomes = await Promise.all(increments);
      expect(outcomes.map((outcome) => outcome.succeeded)).toEqual([true, ...Array(9).fill(false)]);
      expect(await write).toMatchObject({ ok: true, revision: 4 });
      expect(await repo.get('n')).toMatchObject({ value: '9', version: 3 });
    });

    it('applies a commit unit from another store the way replay does', async () => {
      const { repo, clock } = context();
      const leader = new MemoryStorageRepository(clock);
      await leader.open();
      await leader.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
      const unit = await leader.transact(
        txn({
          success: [put('a', 2), put('b', 3, clock.now() + 1000), { op: 'delete', key: 'a' }],
        }),
      );
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
      await repo.applyChanges(unit.changes);
      expect(await dump(repo)).toEqual(await dump(leader));
      await expect(repo.applyChanges(unit.changes)).rejects.toThrow('the store expects 5');
      await expect(repo.applyChanges([])).resolves.toBeUndefined();
      expect(await dump(repo)).toEqual(await dump(leader));
      expect(repo.currentRevision()).toBe(4);
    });

    it('keeps a transaction whole across a restart', async () => {
      const { repo, restart } = context();
      if (!restart) return;
      await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
      await repo.transact(
        txn({ success: [put('a', 2), put('b', 3), { op: 'delete', key: 'a' }, put('a', 4)] }),
      );
      const before = await dump(repo);
      const reopened = await restart();
      expect(await dump(reopened)).toEqual(before);
      expect(reopened.currentRevision()).toBe(5);
    });
  });
}
