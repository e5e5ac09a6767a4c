import fc from 'fast-check';
import { FakeClock } from '../clock/fake-clock';
import {
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from '../storage/file/testing/file-storage-fixture';
import { MemoryStorageRepository } from '../storage/memory-storage.repository';
import { Change, StorageRepository } from '../storage/storage.repository';
import { createKvService } from './testing/create-kv-service';
import { TxnCompareInput, TxnOpInput } from './transaction-input';

const KEYS = ['a', 'b', 'c', 'd'];

type Command =
  | { kind: 'put'; key: string; value: number; ifModRevision?: number }
  | { kind: 'delete'; key: string }
  | { kind: 'txn'; compare: TxnCompareInput[]; success: TxnOpInput[]; failure: TxnOpInput[] };

interface ModelEntry {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

/** The store as a plain Map, changed one command at a time in call order. */
class Model {
  readonly entries = new Map<string, ModelEntry>();
  revision = 0;

  run(command: Command): unknown {
    switch (command.kind) {
      case 'put': {
        const current = this.entries.get(command.key);
        if (command.ifModRevision !== undefined && current?.modRevision !== command.ifModRevision) {
          return 'refused';
        }
        this.put(command.key, String(command.value));
        return 'ok';
      }
      case 'delete':
        if (!this.entries.delete(command.key)) return 'refused';
        this.revision++;
        return 'ok';
      case 'txn': {
        const holds = command.compare.every((compare) => this.holds(compare));
        const results = (holds ? command.success : command.failure).map((op) => {
          const current = this.entries.get(op.key);
          if (op.op === 'get') return current?.value ?? null;
          if (op.op === 'delete') {
            if (current === undefined) return false;
            this.entries.delete(op.key);
            this.revision++;
            return true;
          }
          this.put(op.key, op.value);
          return this.entries.get(op.key)!.modRevision;
        });
        return { holds, results };
      }
    }
  }

  private put(key: string, value: string): void {
    const current = this.entries.get(key);
    const revision = ++this.revision;
    if (current === undefined) {
      this.entries.set(key, { value, createRevision: revision, modRevision: revision, version: 1 });
    } else {
      this.entries.set(key, {
        ...current,
        value,
        modRevision: revision,
        version: current.version + 1,
      });
    }
  }

  private holds(compare: TxnCompareInput): boolean {
    const current = this.entries.get(compare.key);
    if (compare.exists !== undefined) return (current !== undefined) === compare.exists;
    if (compare.value !== undefined) return current?.value === compare.value;
    if (compare.version !== undefined) return (current?.version ?? 0) === compare.version;
    if (compare.createRevision !== undefined) {
      return (current?.createRevision ?? 0) === compare.createRevision;
    }
    return (current?.modRevision ?? 0) === compare.modRevision;
  }
}

const key = fc.constantFrom(...KEYS);
const small = fc.integer({ min: 0, max: 6 });
const compare: fc.Arbitrary<TxnCompareInput> = fc.oneof(
  fc.record({ key, modRevision: small }),
  fc.record({ key, createRevision: small }),
  fc.record({ key, version: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ key, exists: fc.boolean() }),
  fc.record({ key, value: small.map(String) }),
);
const write: fc.Arbitrary<TxnOpInput> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, value: small.map(String) }),
  fc.record({ op: fc.constant('delete' as const), key }),
);
const get: fc.Arbitrary<TxnOpInput> = fc.record({ op: fc.constant('get' as const), key });
/** Writes to distinct keys (the rule of a branch), with gets anywhere among them. */
const branch = fc
  .tuple(
    fc.uniqueArray(write, { selector: (op) => op.key, maxLength: 4 }),
    fc.array(fc.tuple(fc.nat(), get), { maxLength: 2 }),
  )
  .map(([writes, gets]) => {
    const ops = [...writes];
    for (const [at, op] of gets) ops.splice(at % (ops.length + 1), 0, op);
    return ops;
  });
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record(
    { kind: fc.constant('put' as const), key, value: small, ifModRevision: small },
    { requiredKeys: ['kind', 'key', 'value'] },
  ),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({
    kind: fc.constant('txn' as const),
    compare: fc.array(compare, { maxLength: 3 }),
    success: branch,
    failure: branch,
  }),
);

async function dump(storage: StorageRepository) {
  const entries = [];
  for (const name of await storage.listKeys()) {
    const { key: k, value, createRevision, modRevision, version } = (await storage.get(name))!;
    entries.push([k, { value, createRevision, modRevision, version }]);
  }
  return entries;
}

/** What a watcher that saw `changes` would hold: a replica's replay. */
function replay(changes: readonly Change[]) {
  const entries = new Map<string, ModelEntry>();
  for (const change of changes) {
    if (change.op !== 'put') {
      entries.delete(change.key);
      continue;
    }
    const { value, createRevision, version } = change;
    if (entries.get(change.key)?.createRevision !== createRevision) entries.delete(change.key);
    entries.set(change.key, { value, createRevision, modRevision: change.revision, version });
  }
  return [...entries];
}

describe.each(['memory', 'file'] as const)('transactions against a model (%s)', (storageKind) => {
  it('keeps the store equal to the model under concurrent transactions and writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(command, { minLength: 1, maxLength: 6 }), { maxLength: 8 }),
        async (batches) => {
          const clock = new FakeClock();
          const dir = storageKind === 'file' ? makeTempDir() : undefined;
          const storage =
            dir === undefined
              ? new MemoryStorageRepository(clock)
              : await openStore(testOptions(dir), clock);
          try {
            const { kv, changes } = createKvService({ storage, clock });
            const watcher = changes.subscribe({ fromRevision: 1 });
            const model = new Model();
            for (const batch of batches) {
              // Started together, committed in call order: the model runs them in that order.
              const outcomes = await Promise.all(
                batch.map((cmd) => runCommand(kv, cmd).catch(() => 'refused')),
              );
              expect(outcomes).toEqual(batch.map((cmd) => model.run(cmd)));
              expect(await dump(storage)).toEqual([...model.entries]);
            }
            expect(replay(watcher.takeThrough(changes.lastRevision))).toEqual([...model.entries]);
            watcher.close();
          } finally {
            await storage.close();
            if (dir) removeDir(dir);
          }
        },
      ),
      { numRuns: storageKind === 'file' ? 25 : 100 },
    );
  }, 60_000);
});

async function runCommand(
  kv: ReturnType<typeof createKvService>['kv'],
  cmd: Command,
): Promise<unknown> {
  switch (cmd.kind) {
    case 'put': {
      const condition =
        cmd.ifModRevision === undefined
          ? undefined
          : { require: 'modRevision' as const, modRevision: cmd.ifModRevision };
      await kv.put(cmd.key, String(cmd.value), { condition });
      return 'ok';
    }
    case 'delete':
      await kv.delete(cmd.key);
      return 'ok';
    case 'txn': {
      const receipt = await kv.transaction(cmd);
      const results = receipt.results.map((result) =>
        result.op === 'get'
          ? (result.entry?.value ?? null)
          : result.op === 'delete'
            ? result.deleted
            : result.entry.modRevision,
      );
      return { holds: receipt.succeeded, results };
    }
  }
}
