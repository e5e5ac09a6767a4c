import { Logger } from '@nestjs/common';
import { ChangeStream } from '../changes/change-stream';
import { FakeClock } from '../clock/fake-clock';
import { MemoryStorageRepository } from '../storage/memory-storage.repository';
import { DiscardedChangesRepository } from './discarded-changes.repository';
import { DiscardedRevisions } from './discarded-revisions';

describe('DiscardedRevisions', () => {
  let storage: MemoryStorageRepository;
  let saved: { from: number; to: number; lines: readonly string[] }[];
  const repository = {
    save: (from: number, to: number, lines: readonly string[]) => {
      saved.push({ from, to, lines });
      return Promise.resolve(`/data/discarded-revisions-${from}-to-${to}.jsonl`);
    },
  } as unknown as DiscardedChangesRepository;

  beforeEach(() => {
    storage = new MemoryStorageRepository(new FakeClock(0));
    saved = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  const stream = (startRevision: number) =>
    new ChangeStream({
      historySize: 100,
      historyBytes: 1e9,
      maxQueued: 100,
      maxQueuedBytes: 1e9,
      startRevision,
    });

  async function write(changes: ChangeStream | undefined, key: string, value: string) {
    const outcome = await storage.write({ op: 'put', key, value, expiresAt: null });
    if (outcome.ok) changes?.publish(outcome.changes);
  }

  it('saves the changes after the fork from the change history, once per fork', async () => {
    const changes = stream(0);
    await write(changes, 'a', '1');
    await write(changes, 'b', '2');
    const deleted = await storage.write({ op: 'delete', key: 'a' });
    if (deleted.ok) changes.publish(deleted.changes);
    const discarded = new DiscardedRevisions(storage, changes, repository);
    await discarded.save('h1', 1, 'http://new-leader');
    await discarded.save('h1', 1, 'http://new-leader');
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ from: 2, to: 3 });
    expect(saved[0].lines.map((line) => JSON.parse(line) as object)).toEqual([
      expect.objectContaining({ op: 'put', revision: 2, key: 'b', value: '2' }),
      { op: 'delete', revision: 3, key: 'a' },
    ]);
    expect(discarded.total).toBe(2);
    expect(discarded.lastFile).toBe('/data/discarded-revisions-2-to-3.jsonl');
  });

  it('saves the last state of the keys written after the fork when the history no longer holds them', async () => {
    await write(undefined, 'a', '1');
    await write(undefined, 'b', '2');
    await write(undefined, 'a', '3');
    // A restart: the history starts empty at the store's revision.
    const discarded = new DiscardedRevisions(storage, stream(3), repository);
    await discarded.save('h1', 1, 'http://new-leader');
    expect(saved[0]).toMatchObject({ from: 2, to: 3 });
    expect(saved[0].lines.map((line) => JSON.parse(line) as object)).toEqual([
      expect.objectContaining({ op: 'put', revision: 2, key: 'b', value: '2' }),
      expect.objectContaining({ op: 'put', revision: 3, key: 'a', value: '3', version: 2 }),
    ]);
    expect(discarded.total).toBe(2);
  });

  it('saves nothing for data at or before the fork', async () => {
    await write(undefined, 'a', '1');
    const discarded = new DiscardedRevisions(storage, stream(1), repository);
    await discarded.save('h1', 1, 'http://new-leader');
    expect(saved).toEqual([]);
    expect(discarded.total).toBe(0);
  });
});
