import { FakeClock } from '../clock/fake-clock';
import { ENTRY_OVERHEAD_BYTES } from './data-size';
import { StorageFullError, StorageRepository } from './storage.repository';
import { describeReplacementContract } from './replacement.contract';
import { describeTransactionContract } from './transaction.contract';

/** What a harness configures on the repositories it opens. */
export interface StorageLimits {
  /** The data limit; none when omitted. */
  readonly maxDataBytes?: number;
}

/**
 * What every StorageRepository must do, run against each implementation by its own spec:
 * `describeStorageContract('memory', (clock) => harness)`. A future replicated or remote
 * repository proves itself with the same tests.
 */
export interface StorageHarness {
  /** A fresh, opened repository. */
  readonly repository: StorageRepository;
  /** Closes the repository and opens a new one on the same data (durable implementations). */
  readonly reopen?: (limits?: StorageLimits) => Promise<StorageRepository>;
  /** Releases whatever the harness created. */
  readonly dispose: () => Promise<void>;
}

export function describeStorageContract(
  name: string,
  createHarness: (clock: FakeClock, limits?: StorageLimits) => Promise<StorageHarness>,
  options: { durable: boolean },
): void {
  describe(`StorageRepository contract: ${name}`, () => {
    let clock: FakeClock;
    let harness: StorageHarness;
    let repo: StorageRepository;

    beforeEach(async () => {
      clock = new FakeClock();
      harness = await createHarness(clock);
      repo = harness.repository;
    });

    afterEach(async () => {
      await harness.dispose();
    });

    const put = (key: string, value: unknown, expiresAt: number | null | 'keep' = null) =>
      repo.write({ op: 'put', key, value: JSON.stringify(value), expiresAt });

    describe('reads and writes', () => {
      it('starts empty at revision 0', async () => {
        expect(repo.currentRevision()).toBe(0);
        expect(await repo.get('a')).toBeUndefined();
        expect(await repo.listKeys()).toEqual([]);
      });

      it('stores a value and reads it back with its revisions', async () => {
        const outcome = await put('a', { n: 1 });
        expect(outcome.ok).toBe(true);
        expect(await repo.get('a')).toEqual({
          key: 'a',
          value: '{"n":1}',
          expiresAt: null,
          createRevision: 1,
          modRevision: 1,
          version: 1,
          size: ENTRY_OVERHEAD_BYTES + 1 + 7,
        });
      });

      it('counts versions and keeps createRevision across updates', async () => {
        await put('a', 1);
        await put('b', 2);
        await put('a', 3);
        expect(await repo.get('a')).toMatchObject({
          value: '3',
          createRevision: 1,
          modRevision: 3,
          version: 2,
        });
        expect(repo.currentRevision()).toBe(3);
      });

      it('deletes a key and reports a missing one without changing the revision', async () => {
        await put('a', 1);
        const deleted = await repo.write({ op: 'delete', key: 'a' });
        expect(deleted).toMatchObject({ ok: true, entry: null, revision: 2 });
        expect(await repo.get('a')).toBeUndefined();
        const missing = await repo.write({ op: 'delete', key: 'a' });
        expect(missing).toEqual({ ok: false, current: null });
        expect(repo.currentRevision()).toBe(2);
      });

      it('treats keys like __proto__ and constructor as ordinary keys', async () => {
        for (const key of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
          await put(key, key);
        }
        expect((await repo.get('__proto__'))?.value).toBe('"__proto__"');
        expect(await repo.listKeys()).toEqual([
          '__proto__',
          'constructor',
          'hasOwnProperty',
          'toString',
        ]);
      });

      it('returns the committed changes of a write', async () => {
        const outcome = await put('a', 'x');
        expect(outcome).toMatchObject({
          ok: true,
          changes: [
            { op: 'put', revision: 1, key: 'a', value: '"x"', createRevision: 1, version: 1 },
          ],
        });
      });
    });

    describe('guards', () => {
      it('writes when modRevision matches and refuses otherwise, changing nothing', async () => {
        await put('a', 1);
        const refused = await repo.write(
          { op: 'put', key: 'a', value: '2', expiresAt: null },
          { require: 'modRevision', modRevision: 7 },
        );
        expect(refused).toMatchObject({ ok: false, current: { modRevision: 1 } });
        expect(repo.currentRevision()).toBe(1);
        const accepted = await repo.write(
          { op: 'put', key: 'a', value: '2', expiresAt: null },
          { require: 'modRevision', modRevision: 1 },
        );
        expect(accepted.ok).toBe(true);
        expect((await repo.get('a'))?.value).toBe('2');
      });

      it('creates only when absent and updates only when present', async () => {
        const created = await repo.write(
          { op: 'put', key: 'a', value: '1', expiresAt: null },
          { require: 'absent' },
        );
        expect(created.ok).toBe(true);
        const again = await repo.write(
          { op: 'put', key: 'a', value: '2', expiresAt: null },
          { require: 'absent' },
        );
        expect(again.ok).toBe(false);
        const missing = await repo.write(
          { op: 'put', key: 'b', value: '1', expiresAt: null },
          { require: 'exists' },
        );
        expect(missing).toEqual({ ok: false, current: null });
        expect(await repo.listKeys()).toEqual(['a']);
      });

      it('applies concurrent guarded writes one at a time', async () => {
        await put('counter', 0);
        const attempts = await Promise.all(
          Array.from({ length: 10 }, () =>
            repo.write(
              { op: 'put', key: 'counter', value: '1', expiresAt: null },
              { require: 'modRevision', modRevision: 1 },
            ),
          ),
        );
        expect(attempts.filter((attempt) => attempt.ok)).toHaveLength(1);
      });
    });

    describe('insertion order', () => {
      it('keeps a key in place on update and moves it last when re-created', async () => {
        await put('a', 1);
        await put('b', 1);
        await put('c', 1);
        await put('a', 2);
        expect(await repo.listKeys()).toEqual(['a', 'b', 'c']);
        await repo.write({ op: 'delete', key: 'a' });
        await put('a', 3);
        expect(await repo.listKeys()).toEqual(['b', 'c', 'a']);
      });

      it('filters with a predicate', async () => {
        for (const key of ['user:1', 'order:1', 'user:2']) await put(key, 1);
        expect(await repo.listKeys((key) => key.startsWith('user:'))).toEqual(['user:1', 'user:2']);
      });
    });

    describe('expiry', () => {
      it('hides a key from the millisecond it expires', async () => {
        await put('a', 1, clock.now() + 1000);
        clock.advance(999);
        expect(await repo.get('a')).toBeDefined();
        clock.advance(1);
        expect(await repo.get('a')).toBeUndefined();
        expect(await repo.listKeys()).toEqual([]);
        expect(await repo.stats()).toMatchObject({ liveKeys: 0, storedKeys: 1 });
      });

      it('keeps, replaces and removes an expiry', async () => {
        const at = clock.now() + 1000;
        await put('a', 1, at);
        await put('a', 2, 'keep');
        expect((await repo.get('a'))?.expiresAt).toBe(at);
        await repo.write({ op: 'ttl', key: 'a', expiresAt: null });
        expect(await repo.get('a')).toMatchObject({ expiresAt: null, version: 3 });
        await put('a', 3, at);
        await put('a', 4);
        expect((await repo.get('a'))?.expiresAt).toBeNull();
      });

      it('refuses a ttl change on a missing or expired key', async () => {
        await put('a', 1, clock.now() + 10);
        clock.advance(10);
        const outcome = await repo.write({ op: 'ttl', key: 'a', expiresAt: null });
        expect(outcome).toEqual({ ok: false, current: null });
      });

      it('creates an expired key afresh, recording the expiry first', async () => {
        await put('a', 1, clock.now() + 10);
        await put('b', 1);
        clock.advance(10);
        const outcome = await put('a', 2);
        expect(outcome).toMatchObject({
          ok: true,
          changes: [
            { op: 'expire', revision: 3, key: 'a' },
            { op: 'put', revision: 4, key: 'a', createRevision: 4, version: 1 },
          ],
        });
        expect(await repo.listKeys()).toEqual(['b', 'a']);
        expect((await repo.stats()).expiredTotal).toBe(1);
      });

      it('expires due keys in expiry order, at most `limit` at a time', async () => {
        const now = clock.now();
        await put('late', 1, now + 300);
        await put('early', 1, now + 100);
        await put('never', 1);
        await put('middle', 1, now + 200);
        clock.advance(250);
        const first = await repo.expireDue(1);
        expect(first.map((change) => [change.op, change.key])).toEqual([['expire', 'early']]);
        const rest = await repo.expireDue(10);
        expect(rest.map((change) => change.key)).toEqual(['middle']);
        expect(await repo.stats()).toMatchObject({
          liveKeys: 2,
          storedKeys: 2,
          keysWithExpiry: 1,
          expiredTotal: 2,
        });
        expect(repo.currentRevision()).toBe(6);
      });

      it('does not expire a key whose expiry was removed or pushed back', async () => {
        const now = clock.now();
        await put('removed', 1, now + 100);
        await put('moved', 1, now + 100);
        await repo.write({ op: 'ttl', key: 'removed', expiresAt: null });
        await repo.write({ op: 'ttl', key: 'moved', expiresAt: now + 500 });
        clock.advance(200);
        expect(await repo.expireDue(100)).toEqual([]);
        clock.advance(300);
        expect((await repo.expireDue(100)).map((change) => change.key)).toEqual(['moved']);
      });
    });

    describe('scan', () => {
      const collect = async (limit: number, match?: (key: string) => boolean) => {
        const pages: string[][] = [];
        let page = await repo.scan({ limit, match });
        pages.push(page.keys);
        while (page.next) {
          page = await repo.scan({ from: page.next, limit, match });
          pages.push(page.keys);
        }
        return pages;
      };

      it('pages through keys in insertion order and ends with a null cursor', async () => {
        for (const key of ['a', 'b', 'c', 'd', 'e']) await put(key, 1);
        expect(await collect(2)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
        expect(await collect(5)).toEqual([['a', 'b', 'c', 'd', 'e']]);
      });

      it('fills pages with matches only', async () => {
        for (let i = 0; i < 10; i++) await put(`k${i}`, i);
        expect(await collect(2, (key) => Number(key[1]) % 3 === 0)).toEqual([
          ['k0', 'k3'],
          ['k6', 'k9'],
        ]);
      });

      it('visits every key present throughout exactly once despite concurrent writes', async () => {
        for (let i = 0; i < 20; i++) await put(`k${i}`, i);
        const seen: string[] = [];
        let page = await repo.scan({ limit: 3 });
        seen.push(...page.keys);
        let step = 0;
        while (page.next) {
          // Delete the key the cursor stands on, re-create an earlier key, add new ones.
          await repo.write({ op: 'delete', key: page.keys[page.keys.length - 1] });
          await put(seen[0], 'again');
          await put(`new${step++}`, 1);
          page = await repo.scan({ from: page.next, limit: 3 });
          seen.push(...page.keys);
        }
        expect(new Set(seen).size).toBe(seen.length);
        for (let i = 0; i < 20; i++) expect(seen).toContain(`k${i}`);
      });

      it('skips expired keys', async () => {
        await put('a', 1, clock.now() + 10);
        await put('b', 1);
        clock.advance(10);
        expect(await collect(10)).toEqual([['b']]);
      });
    });

    const sizeOf = (key: string, value: unknown) =>
      ENTRY_OVERHEAD_BYTES + Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));

    describe('data accounting', () => {
      const used = () => repo.dataUsage().usedBytes;

      it('counts key and value in UTF-8 and the per-key overhead, on the entry and in total', async () => {
        expect(repo.dataUsage()).toEqual({ usedBytes: 0, maxBytes: Number.POSITIVE_INFINITY });
        await put('ключ', 'значение €');
        await put('b', [1, 2, 3]);
        expect((await repo.get('ключ'))?.size).toBe(sizeOf('ключ', 'значение €'));
        expect(used()).toBe(sizeOf('ключ', 'значение €') + sizeOf('b', [1, 2, 3]));
      });

      it('counts the stored keys and their UTF-8 bytes, through overwrites and deletes', async () => {
        expect(repo.storedKeySizes()).toEqual({ count: 0, bytes: 0 });
        await put('ключ', 1);
        await put('b', 1);
        await put('b', 'longer value');
        expect(repo.storedKeySizes()).toEqual({ count: 2, bytes: Buffer.byteLength('ключ') + 1 });
        await repo.write({ op: 'delete', key: 'ключ' });
        expect(repo.storedKeySizes()).toEqual({ count: 1, bytes: 1 });
      });

      it('follows overwrites larger and smaller, keeps it on a TTL change, and frees it on delete', async () => {
        await put('a', 'x'.repeat(10));
        await put('b', 1);
        await put('a', 'x'.repeat(1000));
        expect(used()).toBe(sizeOf('a', 'x'.repeat(1000)) + sizeOf('b', 1));
        await put('a', '');
        expect(used()).toBe(sizeOf('a', '') + sizeOf('b', 1));
        await repo.write({ op: 'ttl', key: 'a', expiresAt: clock.now() + 1000 });
        await put('a', 'y', 'keep');
        expect(used()).toBe(sizeOf('a', 'y') + sizeOf('b', 1));
        await repo.write({ op: 'delete', key: 'a' });
        await repo.write({ op: 'delete', key: 'b' });
        expect(used()).toBe(0);
      });

      it('counts an expired key until it is removed, by the sweep or by a write', async () => {
        await put('swept', 'x'.repeat(100), clock.now() + 10);
        await put('rewritten', 'x'.repeat(100), clock.now() + 10);
        clock.advance(10);
        expect(used()).toBe(
          sizeOf('swept', 'x'.repeat(100)) + sizeOf('rewritten', 'x'.repeat(100)),
        );
        await put('rewritten', 1);
        expect(used()).toBe(sizeOf('swept', 'x'.repeat(100)) + sizeOf('rewritten', 1));
        expect(await repo.expireDue(10)).toHaveLength(1);
        expect(used()).toBe(sizeOf('rewritten', 1));
      });
    });

    describe('data limit', () => {
      const limit = 3 * (ENTRY_OVERHEAD_BYTES + 2 + 100);
      const value = 'x'.repeat(98); // 100 bytes as JSON

      beforeEach(async () => {
        await harness.dispose();
        harness = await createHarness(clock, { maxDataBytes: limit });
        repo = harness.repository;
      });

      it('takes writes up to the limit exactly, then refuses growth and changes nothing', async () => {
        for (const key of ['k1', 'k2', 'k3']) expect((await put(key, value)).ok).toBe(true);
        expect(repo.dataUsage()).toEqual({ usedBytes: limit, maxBytes: limit });
        const revision = repo.currentRevision();
        await expect(put('k4', 1)).rejects.toEqual(new StorageFullError(limit));
        await expect(put('k1', `${value}!`)).rejects.toBeInstanceOf(StorageFullError);
        expect(repo.currentRevision()).toBe(revision);
        expect(await repo.listKeys()).toEqual(['k1', 'k2', 'k3']);
        expect((await repo.get('k1'))?.value).toBe(JSON.stringify(value));
        expect(repo.dataUsage().usedBytes).toBe(limit);
      });

      it('keeps taking writes that shrink or keep the data, TTL changes and deletes, then growth again', async () => {
        for (const key of ['k1', 'k2', 'k3']) await put(key, value);
        expect((await put('k1', value.replace('x', 'y'))).ok).toBe(true);
        expect((await put('k2', 'small')).ok).toBe(true);
        expect((await repo.write({ op: 'ttl', key: 'k3', expiresAt: null })).ok).toBe(true);
        expect((await repo.write({ op: 'delete', key: 'k1' })).ok).toBe(true);
        expect((await put('k4', value)).ok).toBe(true);
        expect((await put('k2', value)).ok).toBe(true);
        await expect(put('k5', 1)).rejects.toBeInstanceOf(StorageFullError);
      });

      it('refuses growth over an expired key without recording its expiry', async () => {
        for (const key of ['k1', 'k2']) await put(key, value);
        await put('k3', value, clock.now() + 10);
        clock.advance(10);
        const revision = repo.currentRevision();
        await expect(put('k3', `${value}!`)).rejects.toBeInstanceOf(StorageFullError);
        expect(repo.currentRevision()).toBe(revision);
        expect((await put('k3', value)).ok).toBe(true);
      });

      it('refuses a transaction whose puts grow the data past it, whole, before anything is logged', async () => {
        await put('k1', value);
        const revision = repo.currentRevision();
        const putOp = (key: string, text: string) =>
          ({ op: 'put', key, value: JSON.stringify(text), expiresAt: null }) as const;
        // The first two puts fit; the third would not: none of them is committed.
        await expect(
          repo.transact({
            compare: [],
            success: [putOp('k2', value), putOp('k3', value), putOp('k4', value)],
            failure: [],
          }),
        ).rejects.toEqual(new StorageFullError(limit));
        const unchanged = async () => {
          expect(repo.currentRevision()).toBe(revision);
          expect(await repo.listKeys()).toEqual(['k1']);
          expect(repo.dataUsage().usedBytes).toBe(limit / 3);
        };
        await unchanged();
        if (harness.reopen) {
          repo = await harness.reopen({ maxDataBytes: limit });
          await unchanged();
        }
        // A delete earlier in the branch frees its bytes for the puts after it.
        const freeing = await repo.transact({
          compare: [],
          success: [
            putOp('k2', value),
            putOp('k3', value),
            { op: 'delete', key: 'k1' } as const,
            putOp('k4', value),
          ],
          failure: [],
        });
        expect(freeing.succeeded).toBe(true);
        expect(await repo.listKeys()).toEqual(['k2', 'k3', 'k4']);
        expect(repo.dataUsage().usedBytes).toBe(limit);
        expect(freeing.results[0]).toMatchObject({ op: 'put', entry: { size: limit / 3 } });
      });
    });

    describeTransactionContract(() => ({
      repo,
      clock,
      restart: harness.reopen && (async () => (repo = await harness.reopen!())),
    }));

    describeReplacementContract(() => ({
      repo,
      clock,
      restart: harness.reopen && (async () => (repo = await harness.reopen!())),
    }));

    if (!options.durable) return;

    describe('restart', () => {
      const restart = async () => {
        repo = await harness.reopen!();
      };
      it('keeps values of every JSON type, order, revisions and expiries', async () => {
        const values = ['text', 42, 1.5, true, false, null, [1, 'two'], { nested: { a: [] } }];
        for (const [i, value] of values.entries()) await put(`k${i}`, value);
        await put('k0', 'updated');
        await repo.write({ op: 'delete', key: 'k1' });
        await put('k1', 'recreated');
        await put('ttl', 1, clock.now() + 5000);
        const before = await Promise.all((await repo.listKeys()).map((key) => repo.get(key)));
        const revision = repo.currentRevision();
        await restart();
        expect(await Promise.all((await repo.listKeys()).map((key) => repo.get(key)))).toEqual(
          before,
        );
        expect(repo.currentRevision()).toBe(revision);
      });

      it('never moves the revision backwards, even when the last key is deleted', async () => {
        await put('a', 1);
        await repo.write({ op: 'delete', key: 'a' });
        await restart();
        expect(repo.currentRevision()).toBe(2);
        expect((await put('b', 1)).ok && (await repo.get('b'))?.createRevision).toBe(3);
      });

      it('counts expiredTotal from the start of the process, not of the data', async () => {
        await put('a', 1, clock.now() + 10);
        clock.advance(10);
        expect(await repo.expireDue(10)).toHaveLength(1);
        expect((await repo.stats()).expiredTotal).toBe(1);
        await restart();
        expect((await repo.stats()).expiredTotal).toBe(0);
      });

      it('does not bring back keys that expired while closed', async () => {
        await put('short', 1, clock.now() + 100);
        await put('long', 1, clock.now() + 10_000);
        clock.advance(200);
        await restart();
        expect(await repo.listKeys()).toEqual(['long']);
        expect(await repo.get('short')).toBeUndefined();
      });

      it('recovers the data total exactly', async () => {
        await put('a', 'x'.repeat(500));
        await put('b', 'é'.repeat(50), clock.now() + 5000);
        await put('a', 'short');
        await put('c', [1, 2]);
        await repo.write({ op: 'delete', key: 'c' });
        await put('gone', 1, clock.now() + 100);
        clock.advance(200);
        const expected = sizeOf('a', 'short') + sizeOf('b', 'é'.repeat(50));
        expect(repo.dataUsage().usedBytes).toBe(expected + sizeOf('gone', 1));
        await restart();
        // Keys that expired while the store was closed are forgotten, and so are their bytes.
        expect(repo.dataUsage().usedBytes).toBe(expected);
      });

      it('starts over a lowered limit: reads and deletes work, growth is refused', async () => {
        for (const key of ['a', 'b', 'c']) await put(key, 'x'.repeat(100));
        const usedBytes = repo.dataUsage().usedBytes;
        repo = await harness.reopen!({ maxDataBytes: usedBytes - 100 });
        expect(repo.dataUsage()).toEqual({ usedBytes, maxBytes: usedBytes - 100 });
        expect((await repo.get('a'))?.value).toBe(JSON.stringify('x'.repeat(100)));
        await expect(put('d', 1)).rejects.toBeInstanceOf(StorageFullError);
        expect((await put('a', 'x')).ok).toBe(true);
        await expect(put('a', 'x'.repeat(100))).rejects.toBeInstanceOf(StorageFullError);
        expect((await repo.write({ op: 'delete', key: 'b' })).ok).toBe(true);
        expect((await put('d', 1)).ok).toBe(true);
      });

      it('resumes a scan cursor across a restart', async () => {
        for (const key of ['a', 'b', 'c', 'd']) await put(key, 1);
        const first = await repo.scan({ limit: 2 });
        await restart();
        const second = await repo.scan({ from: first.next!, limit: 2 });
        expect([...first.keys, ...second.keys]).toEqual(['a', 'b', 'c', 'd']);
      });
    });
  });
}
