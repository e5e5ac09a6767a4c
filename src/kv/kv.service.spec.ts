import { StorageRepository, WriteOutcome } from '../storage/storage.repository';
import {
  InvalidArgumentError,
  InvalidKeyError,
  KeyNotFoundError,
  KeyTooLongError,
  PreconditionFailedError,
  RevisionNotAppliedError,
} from './kv.errors';
import { MAX_PATTERN_SEARCH_COST, PAGE_MATCH_STEPS, SCAN_MIN_KEYS, SLICE_KEYS } from './kv.service';
import { createKvService } from './testing/create-kv-service';

/** A repository double that records what the service asks of it. */
function fakeStorage(outcome: WriteOutcome = { ok: false, current: null }) {
  const storage = {
    get: jest.fn().mockResolvedValue(undefined),
    write: jest.fn().mockResolvedValue(outcome),
    scan: jest.fn().mockResolvedValue({ keys: ['a'], next: null }),
    stats: jest.fn().mockResolvedValue({
      liveKeys: 2,
      storedKeys: 3,
      keysWithExpiry: 1,
      expiredTotal: 4,
      revision: 9,
    }),
    expireDue: jest.fn().mockResolvedValue([]),
    currentRevision: jest.fn().mockReturnValue(9),
    open: jest.fn(),
    close: jest.fn(),
  };
  return storage as typeof storage & StorageRepository;
}

describe('KvService', () => {
  describe('keys', () => {
    it.each([
      ['', InvalidKeyError],
      ['a\u0000b', InvalidKeyError],
      ['lone \ud800 high surrogate', InvalidKeyError],
      ['lone \udc00 low surrogate', InvalidKeyError],
      ['x'.repeat(1025), KeyTooLongError],
      ['é'.repeat(513), KeyTooLongError],
    ])('refuses %j before touching storage', async (key, error) => {
      const storage = fakeStorage();
      const { kv } = createKvService({ storage });
      await expect(kv.put(key, '1')).rejects.toBeInstanceOf(error);
      await expect(kv.get(key)).rejects.toBeInstanceOf(error);
      expect(storage.write).not.toHaveBeenCalled();
      expect(storage.get).not.toHaveBeenCalled();
    });

    it.each([
      'tab\there',
      'line\r\nbreak',
      '\u001b[31m',
      'a\u007fb',
      '\u0085\u2028',
      '😀',
      '\uffff',
    ])('accepts the key %j: any Unicode text but U+0000', async (key) => {
      const { kv } = createKvService();
      await kv.put(key, '1');
      expect((await kv.get(key)).record.value).toBe('1');
    });

    it('accepts a key of exactly MAX_KEY_BYTES bytes', async () => {
      const { kv } = createKvService({ env: { MAX_KEY_BYTES: '4' } });
      await expect(kv.put('éé', '1')).resolves.toBeDefined();
      await expect(kv.put('ééx', '1')).rejects.toBeInstanceOf(KeyTooLongError);
    });
  });

  describe('writes', () => {
    it('turns a ttl into an absolute expiry at millisecond resolution', async () => {
      const storage = fakeStorage();
      const { kv, clock } = createKvService({ storage });
      await kv.put('k', '1', { ttlSeconds: 1.2345 }).catch(() => undefined);
      expect(storage.write).toHaveBeenCalledWith(
        { op: 'put', key: 'k', value: '1', expiresAt: clock.now() + 1235 },
        undefined,
      );
    });

    it('asks storage to keep the expiry with keepTtl and to drop it otherwise', async () => {
      const storage = fakeStorage();
      const { kv } = createKvService({ storage });
      await kv.put('k', '1', { keepTtl: true }).catch(() => undefined);
      await kv.put('k', '1').catch(() => undefined);
      expect(storage.write.mock.calls.map(([command]) => command.expiresAt)).toEqual([
        'keep',
        null,
      ]);
    });

    it.each([0, -1, 0.0004, Infinity, NaN, 10 * 365 * 86400 + 1])(
      'refuses ttl %p',
      async (ttlSeconds) => {
        const storage = fakeStorage();
        const { kv } = createKvService({ storage });
        await expect(kv.put('k', '1', { ttlSeconds })).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(kv.setTtl('k', ttlSeconds)).rejects.toBeInstanceOf(InvalidArgumentError);
        expect(storage.write).not.toHaveBeenCalled();
      },
    );

    it('refuses ttl together with keepTtl', async () => {
      const { kv } = createKvService();
      await expect(kv.put('k', '1', { ttlSeconds: 5, keepTtl: true })).rejects.toThrow(
        'ttl and keepTtl cannot be used together',
      );
    });

    it('reports a missing key for an unconditional delete or ttl change', async () => {
      const { kv } = createKvService({ storage: fakeStorage() });
      await expect(kv.delete('k')).rejects.toEqual(new KeyNotFoundError('k'));
      await expect(kv.setTtl('k', null)).rejects.toBeInstanceOf(KeyNotFoundError);
    });

    it('reports a failed condition with the current modRevision', async () => {
      const current = {
        key: 'k',
        value: '1',
        expiresAt: null,
        createRevision: 1,
        modRevision: 5,
        version: 2,
        size: 202,
      };
      const storage = fakeStorage({ ok: false, current });
      const { kv } = createKvService({ storage });
      const condition = { require: 'modRevision', modRevision: 4 } as const;
      await expect(kv.put('k', '2', { condition })).rejects.toEqual(
        new PreconditionFailedError('k', 5),
      );
      expect(storage.write).toHaveBeenCalledWith(expect.anything(), condition);
    });
  });

  describe('listing', () => {
    it('lists everything with a count when no limit is given', async () => {
      const { kv } = createKvService();
      for (const key of ['a', 'b', 'c']) await kv.put(key, '1');
      expect(await kv.listKeys({})).toEqual({ totalKeys: 3, keys: ['a', 'b', 'c'] });
      expect(await kv.listKeys({ pattern: '[ac]' })).toEqual({ totalKeys: 2, keys: ['a', 'c'] });
    });

    it('assembles the unpaged listing in slices of SLICE_KEYS keys examined', async () => {
      const { kv } = createKvService();
      const keys = Array.from({ length: SLICE_KEYS * 2 + 1 }, (_, i) => `k${i}`);
      for (const key of keys) await kv.put(key, '1');
      const slices: string[][] = [];
      for await (const slice of kv.listAllKeys()) slices.push(slice);
      expect(slices.map((slice) => slice.length)).toEqual([SLICE_KEYS, SLICE_KEYS, 1]);
      expect(slices.flat()).toEqual(keys);
    });

    it('examines at most max(limit x 10, 1000) keys per page, matching or not', async () => {
      const { kv } = createKvService();
      for (let i = 0; i < 2500; i++) await kv.put(`miss${i}`, '1');
      await kv.put('hit', '1');
      const pages: string[][] = [];
      let cursor: string | null | undefined;
      do {
        const page = await kv.listKeys({ limit: 1, pattern: 'h*t', cursor: cursor ?? undefined });
        pages.push(page.keys);
        cursor = page.nextCursor;
      } while (cursor !== null && pages.length < 10);
      expect(pages).toEqual([[], [], ['hit']]);
      // limit x 10 when that is more: 150 keys examined per page of 15.
      const wide = await kv.listKeys({ limit: 15, pattern: 'nomatch*x' });
      expect(wide.keys).toEqual([]);
      const second = await kv.listKeys({ limit: 150, pattern: '*', cursor: wide.nextCursor! });
      expect(second.keys[0]).toBe(`miss${SCAN_MIN_KEYS}`);
    });

    it('bounds the key characters a costly pattern examines per page', async () => {
      const { kv } = createKvService();
      const long = 'a'.repeat(1000);
      for (let i = 0; i < 200; i++) await kv.put(`${long}${String(i).padStart(3, '0')}`, '1');
      const pattern = '*' + '?'.repeat(MAX_PATTERN_SEARCH_COST - 1) + 'b';
      const page = await kv.listKeys({ limit: 10, pattern });
      expect(page.keys).toEqual([]);
      expect(page.nextCursor).not.toBeNull();
      const charsPerPage = Math.floor(PAGE_MATCH_STEPS / MAX_PATTERN_SEARCH_COST);
      const next = await kv.listKeys({ limit: 10, pattern: '*', cursor: page.nextCursor! });
      // The first page stopped after the key that crossed its budget of characters.
      expect(next.keys[0]).toBe(
        `${long}${String(Math.ceil(charsPerPage / 1003)).padStart(3, '0')}`,
      );
    });

    it('refuses a pattern whose matching cost is unbounded, to listings and watchers alike', async () => {
      const { kv } = createKvService();
      const costly = '*' + '?'.repeat(MAX_PATTERN_SEARCH_COST) + 'b';
      await expect(kv.listKeys({ pattern: costly })).rejects.toThrow(
        /^Pattern too costly to match: a run after '\*' counts 33 /,
      );
      await expect(kv.listKeys({ pattern: costly, limit: 1 })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      expect(() => kv.watch({ pattern: costly })).toThrow(InvalidArgumentError);
      // Long literal runs are matched with string searches, whatever their length.
      const literal = '*' + 'a'.repeat(512) + 'b';
      expect(await kv.listKeys({ pattern: literal })).toEqual({ totalKeys: 0, keys: [] });
      kv.watch({ pattern: literal }).close();
    });

    it('pages with a cursor and counts live keys only without a pattern', async () => {
      const storage = fakeStorage();
      const { kv } = createKvService({ storage });
      expect(await kv.listKeys({ limit: 10 })).toEqual({
        totalKeys: 2,
        keys: ['a'],
        nextCursor: null,
      });
      expect(await kv.listKeys({ limit: 10, pattern: 'a*' })).toEqual({
        keys: ['a'],
        nextCursor: null,
      });
    });

    it.each([0, 10_001, 1.5])('refuses limit %p', async (limit) => {
      const { kv } = createKvService();
      await expect(kv.listKeys({ limit })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('refuses a cursor without a limit, a forged cursor and a malformed pattern', async () => {
      const { kv } = createKvService();
      await expect(kv.listKeys({ cursor: 'abc' })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(kv.listKeys({ limit: 1, cursor: 'abc' })).rejects.toThrow('Invalid cursor');
      await expect(kv.listKeys({ pattern: 'a[b' })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('hands out cursors that resume where the page ended', async () => {
      const { kv } = createKvService();
      for (const key of ['a', 'b', 'c']) await kv.put(key, '1');
      const first = await kv.listKeys({ limit: 2 });
      expect(first.keys).toEqual(['a', 'b']);
      const second = await kv.listKeys({ limit: 2, cursor: first.nextCursor! });
      expect(second).toEqual({ totalKeys: 3, keys: ['c'], nextCursor: null });
    });
  });

  describe('revisions and the change feed', () => {
    it('reads a key with the store revision the read saw', async () => {
      const { kv } = createKvService();
      await kv.put('a', '1');
      await kv.put('b', '2');
      const { record, revision } = await kv.get('a');
      expect([record.modRevision, revision]).toEqual([1, 2]);
    });

    it('publishes every committed change, expiries included, and nothing for a failed write', async () => {
      const { kv, changes, clock } = createKvService();
      const subscription = changes.subscribe();
      await kv.put('a', '1', { ttlSeconds: 1 });
      await kv.setTtl('a', 5);
      await expect(kv.delete('a', { require: 'modRevision', modRevision: 1 })).rejects.toEqual(
        new PreconditionFailedError('a', 2),
      );
      clock.advance(5000);
      expect(await kv.expireDue(10)).toBe(1);
      await kv.put('b', '1');
      await kv.delete('b', { require: 'modRevision', modRevision: 4 });
      const ops: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { value } = await subscription.next();
        ops.push(`${value.revision}:${value.op}`);
      }
      expect(ops).toEqual(['1:put', '2:ttl', '3:expire', '4:put', '5:delete']);
      expect(changes.lastRevision).toBe(5);
    });

    it('passes a condition on a ttl change to storage', async () => {
      const { kv } = createKvService();
      await kv.put('a', '1');
      await expect(
        kv.setTtl('a', 5, { require: 'modRevision', modRevision: 9 }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      await expect(kv.setTtl('a', 5, { require: 'modRevision', modRevision: 1 })).resolves.toEqual(
        expect.objectContaining({ revision: 2 }),
      );
    });

    it('watches with a pattern from a revision, refusing bad ones', async () => {
      const { kv } = createKvService();
      await kv.put('user:1', '1');
      await kv.put('order:1', '1');
      const subscription = kv.watch({ pattern: 'user:*', fromRevision: 0 });
      expect((await subscription.next()).value).toMatchObject({ revision: 1, key: 'user:1' });
      expect(() => kv.watch({ pattern: 'a[b' })).toThrow(InvalidArgumentError);
      expect(() => kv.watch({ fromRevision: -1 })).toThrow(InvalidArgumentError);
      expect(() => kv.watch({ fromRevision: 1.5 })).toThrow(InvalidArgumentError);
    });
  });

  it('maps storage statistics to the domain view', async () => {
    const { kv } = createKvService({ storage: fakeStorage() });
    expect(await kv.stats()).toEqual({
      totalKeys: 2,
      storedKeys: 3,
      keysWithExpiry: 1,
      expiredTotal: 4,
    });
  });

  describe('awaitRevision (read your writes)', () => {
    it('answers at once for every revision the node has acknowledged', async () => {
      const { kv, changes } = createKvService({ env: { REPLICA_READ_WAIT_MS: '60000' } });
      const { revision } = await kv.put('a', '1');
      await kv.put('b', '2');
      await kv.transaction({ success: [{ op: 'put', key: 'c', value: '3' }] });
      for (const minRevision of [0, 1, revision, changes.lastRevision]) {
        await expect(kv.awaitRevision(minRevision)).resolves.toBeUndefined();
      }
    });

    it('waits for a later revision until a write reaches it', async () => {
      const { kv } = createKvService({ env: { REPLICA_READ_WAIT_MS: '60000' } });
      await kv.put('a', '1');
      let done = false;
      const wait = kv.awaitRevision(3).then(() => (done = true));
      await kv.put('a', '2');
      await new Promise((resolve) => setImmediate(resolve));
      expect(done).toBe(false);
      await kv.delete('a');
      await wait;
      expect(done).toBe(true);
    });

    it('gives up after REPLICA_READ_WAIT_MS with the revision the node has', async () => {
      const { kv } = createKvService({ env: { REPLICA_READ_WAIT_MS: '20' } });
      await kv.put('a', '1');
      const refusal = await kv.awaitRevision(5).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(RevisionNotAppliedError);
      expect(refusal).toMatchObject({
        minRevision: 5,
        revision: 1,
        message: 'Revision 5 is not applied on this node (waited 20 ms)',
      });
    });

    it.each([-1, 1.5, Number.MAX_SAFE_INTEGER + 1])('refuses %p', async (minRevision) => {
      const { kv } = createKvService();
      await expect(kv.awaitRevision(minRevision)).rejects.toThrow(
        new InvalidArgumentError('minRevision must be a revision: an integer from 0'),
      );
    });
  });
});
