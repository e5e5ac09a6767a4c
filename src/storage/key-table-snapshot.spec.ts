import fc from 'fast-check';
import { FakeClock } from '../clock/fake-clock';
import { MemoryStorageRepository } from './memory-storage.repository';
import { StoredEntry, StoreSnapshot } from './storage.repository';

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];

type Step =
  | { kind: 'read' }
  | { kind: 'put'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'ttl'; key: string }
  | { kind: 'expire' };

const key = fc.constantFrom(...KEYS);
const write = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({ kind: fc.constant('ttl' as const), key }),
  fc.constant({ kind: 'expire' as const }),
);
const step = fc.oneof(fc.constant({ kind: 'read' as const }), write);

/** What a reader can compare: everything an entry holds but its bookkeeping size. */
const shown = ({ key, value, expiresAt, createRevision, modRevision, version }: StoredEntry) => ({
  key,
  value,
  expiresAt,
  createRevision,
  modRevision,
  version,
});

async function run(repo: MemoryStorageRepository, clock: FakeClock, s: Step): Promise<void> {
  switch (s.kind) {
    case 'put':
      await repo.write({ op: 'put', key: s.key, value: String(s.value), expiresAt: null });
      break;
    case 'delete':
      await repo.write({ op: 'delete', key: s.key });
      break;
    case 'ttl':
      await repo.write({ op: 'ttl', key: s.key, expiresAt: clock.now() + 1000 });
      break;
    case 'expire':
      clock.advance(1000);
      await repo.expireDue(100);
      break;
    case 'read':
      break;
  }
}

/** The table inside, for what a repository does not show: its entries now, its readers. */
const tableOf = (repo: MemoryStorageRepository) =>
  (
    repo as unknown as {
      table: { readers: Set<unknown>; storedEntries(): Iterable<StoredEntry> };
    }
  ).table;
const readersOf = (repo: MemoryStorageRepository) => tableOf(repo).readers;

describe('a snapshot read while the store keeps changing', () => {
  it('hands out the store exactly as it was when taken, in insertion order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(write, { maxLength: 30 }),
        fc.array(step, { maxLength: 60 }),
        async (before, during) => {
          const clock = new FakeClock(1_000_000);
          const repo = new MemoryStorageRepository(clock);
          for (const s of before) await run(repo, clock, s);
          const expected = [...tableOf(repo).storedEntries()].map(shown);
          const snapshot = repo.snapshot();
          const reading = snapshot.entries()[Symbol.iterator]();
          const got: StoredEntry[] = [];
          for (const s of during) {
            if (s.kind !== 'read') await run(repo, clock, s);
            else {
              const next = reading.next();
              if (!next.done) got.push(next.value);
            }
          }
          for (let next = reading.next(); !next.done; next = reading.next()) got.push(next.value);
          expect(got.map(shown)).toEqual(expected);
          expect(snapshot.keys).toBe(expected.length);
          expect(readersOf(repo).size).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is released when its reading stops early, and keeps nothing more', async () => {
    const clock = new FakeClock(1_000_000);
    const repo = new MemoryStorageRepository(clock);
    for (const k of KEYS) await repo.write({ op: 'put', key: k, value: '1', expiresAt: null });
    const snapshot: StoreSnapshot = repo.snapshot();
    expect(readersOf(repo).size).toBe(1);
    for (const entry of snapshot.entries()) if (entry.key === 'b') break;
    expect(readersOf(repo).size).toBe(0);
  });

  it('is released unread by release(), for a reader gone before it started', async () => {
    const repo = new MemoryStorageRepository(new FakeClock(0));
    await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
    const snapshot = repo.snapshot();
    expect(readersOf(repo).size).toBe(1);
    snapshot.release();
    expect(readersOf(repo).size).toBe(0);
  });

  it('is read once', () => {
    const repo = new MemoryStorageRepository(new FakeClock(0));
    const snapshot = repo.snapshot();
    expect([...snapshot.entries()]).toEqual([]);
    expect(() => snapshot.entries()).toThrow('A snapshot is read once');
  });
});
