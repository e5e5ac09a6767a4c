import { createKvService } from '../kv/testing/create-kv-service';
import { ExpirySweeper } from './expiry-sweeper';

describe('ExpirySweeper', () => {
  it('removes every expired key and nothing else', async () => {
    const { kv, clock } = createKvService();
    for (let i = 0; i < 1000; i++) await kv.put(`short${i}`, '1', { ttlSeconds: 1 });
    await kv.put('long', '1', { ttlSeconds: 60 });
    await kv.put('forever', '1');
    clock.advance(1000);
    const removed = await new ExpirySweeper(kv).sweep();
    expect(removed).toBe(1000);
    expect(await kv.stats()).toEqual({
      totalKeys: 2,
      storedKeys: 2,
      keysWithExpiry: 1,
      expiredTotal: 1000,
    });
  });

  it('yields to the event loop between slices', async () => {
    const { kv, clock } = createKvService();
    for (let i = 0; i < 2000; i++) await kv.put(`k${i}`, '1', { ttlSeconds: 1 });
    clock.advance(1000);
    let storedWhenOthersRan: number | undefined;
    setImmediate(() => {
      void kv.stats().then((stats) => (storedWhenOthersRan = stats.storedKeys));
    });
    await new ExpirySweeper(kv, 0).sweep();
    // With a zero budget every batch is a slice: the callback ran mid-sweep.
    expect(storedWhenOthersRan).toBeGreaterThan(0);
    expect(storedWhenOthersRan).toBeLessThan(2000);
    expect((await kv.stats()).storedKeys).toBe(0);
  });

  it('joins a sweep already under way instead of starting a second', async () => {
    const { kv, clock } = createKvService();
    for (let i = 0; i < 600; i++) await kv.put(`k${i}`, '1', { ttlSeconds: 1 });
    clock.advance(1000);
    const sweeper = new ExpirySweeper(kv, 0);
    const [first, second] = await Promise.all([sweeper.sweep(), sweeper.sweep()]);
    expect(first).toBe(600);
    expect(second).toBe(600);
  });

  it('starts no sweep after stop', async () => {
    const { kv, clock } = createKvService();
    await kv.put('k', '1', { ttlSeconds: 1 });
    clock.advance(1000);
    const sweeper = new ExpirySweeper(kv);
    await sweeper.stop();
    expect(await sweeper.sweep()).toBe(0);
    expect((await kv.stats()).storedKeys).toBe(1);
  });
});
