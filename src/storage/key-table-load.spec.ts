import fc from 'fast-check';
import { FakeClock } from '../clock/fake-clock';
import { KeyTable } from './key-table';
import { Change, SnapshotEntry } from './storage.repository';

/**
 * `loadSized` is recovery's fast way to load a snapshot entry; `load` (a put change through
 * `apply`) is the general one. Whatever the entries, both must leave the same table behind.
 */

// Multibyte UTF-8 (2, 3 and 4 bytes) and a lone surrogate, which the log stores as UTF-16.
const KEYS = ['a', 'b', 'é', '鍵', '😀', 'x\uD800', 'k-1'];
const VALUES = ['1', '"text"', '"é鍵😀"', '"\uDC00"', '{"pad":"xxxxxxxxxxxxxxxx"}'];
const START = 1_000_000;

const entryArb = fc.record({
  key: fc.constantFrom(...KEYS),
  value: fc.constantFrom(...VALUES),
  // Some due at once, some later, some sharing an instant; none for the rest.
  ttl: fc.option(fc.constantFrom(-5, 0, 10, 10, 250, 5000), { nil: undefined }),
  version: fc.integer({ min: 1, max: 5 }),
  modAhead: fc.integer({ min: 0, max: 3 }),
});

/** Entries as a snapshot holds them: each key once, createRevision rising; optionally a key twice. */
const entriesArb = fc
  .record({ picks: fc.array(entryArb, { maxLength: 30 }), duplicate: fc.boolean() })
  .map(({ picks, duplicate }) => {
    const entries: SnapshotEntry[] = [];
    const seen = new Set<string>();
    let revision = 0;
    for (const pick of picks) {
      // A well-formed snapshot never repeats a key; a damaged one (checksums intact) could.
      if (seen.has(pick.key) && !(duplicate && entries.length % 2 === 0)) continue;
      seen.add(pick.key);
      revision += 1 + pick.modAhead;
      entries.push({
        key: pick.key,
        value: pick.value,
        expiresAt: pick.ttl === undefined ? null : START + pick.ttl,
        createRevision: revision,
        modRevision: revision + pick.modAhead,
        version: pick.version,
      });
    }
    return entries;
  });

/** Everything the table shows, bookkeeping included. */
function observe(table: KeyTable) {
  return {
    revision: table.currentRevision,
    entries: [...table.storedEntries()],
    listed: table.listKeys(),
    page: table.scan({ limit: 3 }),
    usage: table.dataUsage(),
    keySizes: table.storedKeySizes(),
    stats: table.stats(),
  };
}

function twoTables() {
  const clock = new FakeClock(START);
  return { clock, general: new KeyTable(clock), fast: new KeyTable(clock) };
}

function loadBoth(general: KeyTable, fast: KeyTable, entries: readonly SnapshotEntry[]) {
  for (const entry of entries) {
    general.load(entry);
    fast.loadSized(entry, Buffer.byteLength(entry.key), Buffer.byteLength(entry.value));
  }
}

describe('KeyTable.loadSized', () => {
  it('leaves the same table as load: entries, order, sizes, counters, expiries and later writes', () => {
    fc.assert(
      fc.property(
        entriesArb,
        fc.array(fc.constantFrom(...KEYS), { maxLength: 6 }),
        (entries, writes) => {
          const { clock, general, fast } = twoTables();
          loadBoth(general, fast, entries);
          expect(observe(fast)).toEqual(observe(general));

          // What recovery does next, then time passing and the sweep.
          general.finishRecovery();
          fast.finishRecovery();
          expect(observe(fast)).toEqual(observe(general));
          clock.advance(300);
          expect(observe(fast)).toEqual(observe(general));
          const dueGeneral = general.takeDueExpiries(2);
          const dueFast = fast.takeDueExpiries(2);
          expect(dueFast).toEqual(dueGeneral);
          dueGeneral.forEach((change) => general.apply(change));
          dueFast.forEach((change) => fast.apply(change));
          expect(observe(fast)).toEqual(observe(general));

          // Writes after loading see the same entries (versions, revisions, kept TTLs).
          for (const key of writes) {
            const command = { op: 'put' as const, key, value: '"w"', expiresAt: 'keep' as const };
            const planGeneral = general.planWrite(command);
            const planFast = fast.planWrite(command);
            expect(planFast).toEqual(planGeneral);
            if (planGeneral.ok) planGeneral.changes.forEach((change) => general.apply(change));
            if (planFast.ok) planFast.changes.forEach((change) => fast.apply(change));
          }
          clock.advance(10_000);
          expect(fast.takeDueExpiries(100)).toEqual(general.takeDueExpiries(100));
          expect(observe(fast)).toEqual(observe(general));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps what it replaces for a snapshot being read, as load does', () => {
    fc.assert(
      fc.property(entriesArb, entriesArb, (before, after) => {
        const { general, fast } = twoTables();
        loadBoth(general, fast, before);
        const snapshots = [general.snapshot(), fast.snapshot()];
        // Later entries replace the earlier ones' keys while the snapshots are open.
        const shifted = after.map((entry): SnapshotEntry => {
          const offset = general.currentRevision;
          return {
            ...entry,
            createRevision: entry.createRevision + offset,
            modRevision: entry.modRevision + offset,
          };
        });
        loadBoth(general, fast, shifted);
        const [readGeneral, readFast] = snapshots.map((snapshot) => [...snapshot.entries()]);
        expect(readFast).toEqual(readGeneral);
        expect(observe(fast)).toEqual(observe(general));
      }),
      { numRuns: 200 },
    );
  });

  it('counts the same revision as apply for a key met twice', () => {
    const { general, fast } = twoTables();
    const first: SnapshotEntry = {
      key: 'é',
      value: '1',
      expiresAt: START + 10,
      createRevision: 1,
      modRevision: 2,
      version: 2,
    };
    const again: SnapshotEntry = { ...first, value: '"two"', expiresAt: null, modRevision: 5 };
    loadBoth(general, fast, [first, again]);
    const applied: Change = { op: 'ttl', revision: 6, key: 'é', expiresAt: START + 1 };
    general.apply(applied);
    fast.apply(applied);
    expect(observe(fast)).toEqual(observe(general));
    expect(fast.storedKeySizes()).toEqual({ count: 1, bytes: 2 });
  });
});
