import { Socket } from 'node:net';
import { BufferBudget, BufferBudgetFullError } from '../http/buffer-budget';
import { KeyListingSlices } from '../kv/kv.service';
import { streamedListing } from './listing-stream';

/** Slices of keys that record whether anyone asked for them. */
function slicesOf(keys: string[][], keyCharsBound: number | undefined) {
  const asked = { count: 0 };
  const slices: KeyListingSlices = {
    keyCharsBound,
    async *[Symbol.asyncIterator]() {
      for (const slice of keys) {
        asked.count++;
        yield slice;
      }
    },
  };
  return { slices, asked };
}

const bodyOf = async (listing: Awaited<ReturnType<typeof streamedListing>>) => {
  const chunks: Buffer[] = [];
  for await (const chunk of listing.getStream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

describe('streamedListing', () => {
  const budgetOf = (maxBytes: number) => {
    const budget = new BufferBudget(maxBytes, 1024);
    return { budget, hold: budget.holdFor(new Socket()) };
  };

  it('refuses a listing whose bound does not fit before looking at a key', async () => {
    const { budget, hold } = budgetOf(256 * 1024);
    const { slices, asked } = slicesOf([['a', 'b']], 10 * 1024 * 1024);
    await expect(streamedListing(slices, hold)).rejects.toBeInstanceOf(BufferBudgetFullError);
    expect(asked.count).toBe(0);
    expect(budget.usedBytes()).toBe(0);
  });

  it('holds what the body takes once gathered, not the bound, until the stream closes', async () => {
    const { budget, hold } = budgetOf(1024 * 1024);
    const { slices } = slicesOf([['a', 'bb'], ['ccc']], 500 * 1024);
    const listing = await streamedListing(slices, hold);
    // The first chunk's 64 KiB plus `"key",` per key.
    expect(budget.usedBytes()).toBe(64 * 1024 + 4 + 5 + 6);
    expect(await bodyOf(listing)).toBe('{"totalKeys":3,"keys":["a","bb","ccc"]}');
    await new Promise((resolve) => setImmediate(resolve));
    expect(budget.usedBytes()).toBe(0);
  });

  it('gathers a pattern listing, whose size is not known, before reserving its body', async () => {
    const { budget, hold } = budgetOf(64 * 1024);
    const { slices, asked } = slicesOf([['a'], ['b']], undefined);
    await expect(streamedListing(slices, hold)).rejects.toBeInstanceOf(BufferBudgetFullError);
    expect(asked.count).toBe(2);
    expect(budget.usedBytes()).toBe(0);
  });
});
