import { dumpStore } from '../storage/file/testing/store-dump';
import { TxnInput } from './transaction-input';
import { InvalidTransactionError } from './transaction-input';
import { createKvService } from './testing/create-kv-service';

describe('KvService.transaction', () => {
  const setup = async () => {
    const service = createKvService({ env: { MAX_TXN_OPS: '3', MAX_KEY_BYTES: '8' } });
    await service.kv.put('a', '1');
    await service.kv.put('exp', '1', { ttlSeconds: 1 });
    return service;
  };

  it('answers the branch that ran, one result per op, and the revision after it', async () => {
    const { kv } = await setup();
    const receipt = await kv.transaction({
      compare: [
        { key: 'a', modRevision: 1 },
        { key: 'b', exists: false },
      ],
      success: [
        { op: 'put', key: 'a', value: '2', keepTtl: true },
        { op: 'put', key: 'b', value: '"x"', ttlSeconds: 5 },
        { op: 'get', key: 'b' },
      ],
    });
    expect(receipt).toMatchObject({ succeeded: true, revision: 4 });
    expect(receipt.results).toEqual([
      { op: 'put', entry: expect.objectContaining({ key: 'a', modRevision: 3, version: 2 }) },
      {
        op: 'put',
        entry: expect.objectContaining({ key: 'b', modRevision: 4, expiresAt: expect.any(Number) }),
      },
      { op: 'get', key: 'b', entry: expect.objectContaining({ value: '"x"' }) },
    ]);
  });

  it('publishes the changes of a transaction as one unit, once committed', async () => {
    const { kv, changes } = await setup();
    const subscription = changes.subscribe();
    await kv.transaction({
      success: [
        { op: 'put', key: 'x', value: '1' },
        { op: 'delete', key: 'a' },
      ],
    });
    const first = await subscription.next();
    const second = await subscription.next();
    expect([first.value, second.value].map((change) => [change.op, change.revision])).toEqual([
      ['put', 3],
      ['delete', 4],
    ]);
    subscription.close();
  });

  it('starts a watch from inside a transaction at its first change, and forgets old units', async () => {
    const { kv, changes } = await setup();
    await kv.transaction({
      success: [
        { op: 'put', key: 'x', value: '1' },
        { op: 'put', key: 'y', value: '1' },
      ],
    });
    expect(kv.commitUnitOf(4)).toEqual({ firstRevision: 3, lastRevision: 4 });
    expect(kv.commitUnitOf(2)).toBeUndefined();
    const subscription = kv.watch({ fromRevision: 4 });
    expect((await subscription.next()).value.revision).toBe(3);
    subscription.close();
    // The history of this service holds WATCH_HISTORY (10,000) changes.
    for (let i = 0; i < 10_000; i++) changes.publish([{ op: 'delete', revision: 5 + i, key: 'z' }]);
    expect(kv.commitUnitOf(4)).toBeUndefined();
  });

  it('records the expiry of a stale key a put meets, in the same unit', async () => {
    const { kv, clock, storage } = await setup();
    clock.advance(1000);
    const receipt = await kv.transaction({ success: [{ op: 'put', key: 'exp', value: '2' }] });
    expect(receipt.revision).toBe(4);
    expect(await storage.get('exp')).toMatchObject({ createRevision: 4, version: 1 });
    expect((await storage.stats()).expiredTotal).toBe(1);
  });

  it.each<[string, TxnInput, string]>([
    [
      'an empty key',
      { success: [{ op: 'get', key: '' }] },
      'success[0].key: Key must not be empty',
    ],
    [
      'a long key',
      { compare: [{ key: 'x'.repeat(9), exists: true }] },
      'compare[0].key: Key is longer than 8 bytes',
    ],
    [
      'U+0000',
      { failure: [{ op: 'delete', key: 'a\u0000b' }] },
      'failure[0].key: Key must not contain U+0000 (NUL)',
    ],
    [
      'no compare target',
      { compare: [{ key: 'a' }] },
      'compare[0]: a compare needs exactly one of modRevision, createRevision, version, exists, value (got none)',
    ],
    [
      'two compare targets',
      { compare: [{ key: 'a', version: 1, value: '1' }] },
      'compare[0]: a compare needs exactly one of modRevision, createRevision, version, exists, value (got version, value)',
    ],
    [
      'a negative revision',
      { compare: [{ key: 'a', modRevision: -1 }] },
      'compare[0].modRevision: must be an integer from 0',
    ],
    [
      'a fractional version',
      { compare: [{ key: 'a', version: 1.5 }] },
      'compare[0].version: must be an integer from 0',
    ],
    [
      'a ttl out of range',
      { success: [{ op: 'put', key: 'a', value: '1', ttlSeconds: 0 }] },
      'success[0].ttl: ttl must be a number of seconds from 0.001',
    ],
    [
      'ttl with keepTtl',
      { success: [{ op: 'put', key: 'a', value: '1', ttlSeconds: 1, keepTtl: true }] },
      'success[0].ttl: ttl and keepTtl cannot be used together',
    ],
    [
      'too many ops',
      { failure: Array.from({ length: 4 }, () => ({ op: 'get' as const, key: 'a' })) },
      'failure: a branch holds at most 3 ops (MAX_TXN_OPS), got 4',
    ],
    [
      'a key written twice',
      {
        success: [
          { op: 'put', key: 'a', value: '1' },
          { op: 'get', key: 'a' },
          { op: 'delete', key: 'a' },
        ],
      },
      'success[2].key: the key is already written by success[0]',
    ],
  ])('refuses %s, naming the entry and field, and changes nothing', async (_, input, message) => {
    const { kv, storage, changes } = await setup();
    const before = await dumpStore(storage);
    const error = await kv.transaction(input).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidTransactionError);
    expect((error as Error).message).toContain(message);
    expect(await dumpStore(storage)).toEqual(before);
    expect(changes.lastRevision).toBe(before.revision);
  });
});
