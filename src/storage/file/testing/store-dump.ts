import { StorageRepository, StoredEntry, WriteCommand } from '../../storage.repository';
import { MemoryStorageRepository } from '../../memory-storage.repository';
import { Clock } from '../../../clock/clock';

/** Everything a client can observe of a store, for comparing two stores. */
export interface StoreDump {
  readonly revision: number;
  readonly entries: (StoredEntry | undefined)[];
}

export async function dumpStore(repository: StorageRepository): Promise<StoreDump> {
  const keys = await repository.listKeys();
  return {
    revision: repository.currentRevision(),
    entries: await Promise.all(keys.map((key) => repository.get(key))),
  };
}

/** What a store holds after exactly `commands`, computed by the in-memory twin. */
export async function expectedDump(
  clock: Clock,
  commands: readonly WriteCommand[],
): Promise<StoreDump> {
  const model = new MemoryStorageRepository(clock);
  for (const command of commands) await model.write(command);
  return dumpStore(model);
}

/** A varied workload: every JSON type, updates, deletes, re-creation, TTL changes. */
export function sampleCommands(now: number, count = 24): WriteCommand[] {
  const values = [
    '"text"',
    '42',
    '1.5',
    'true',
    'false',
    'null',
    '[1,"two"]',
    '{"nested":{"a":[]}}',
  ];
  const commands: WriteCommand[] = [];
  for (let i = 0; i < count; i++) {
    const key = `k${i % 7}`;
    switch (i % 6) {
      case 3:
        commands.push({ op: 'delete', key: `k${(i + 3) % 7}` });
        break;
      case 4:
        commands.push({ op: 'ttl', key, expiresAt: now + 10_000 + i });
        break;
      default:
        commands.push({
          op: 'put',
          key,
          value: values[i % values.length],
          expiresAt: i % 5 === 0 ? now + 60_000 : i % 5 === 1 ? 'keep' : null,
        });
    }
  }
  return commands;
}

/** The state after the commands that committed up to each revision, per the in-memory twin. */
export async function dumpsAtRevisions(
  clock: Clock,
  commands: readonly WriteCommand[],
  revisions: readonly number[],
): Promise<Map<number, StoreDump>> {
  const wanted = [...new Set(revisions)].sort((a, b) => a - b);
  const model = new MemoryStorageRepository(clock);
  const dumps = new Map<number, StoreDump>();
  let next = 0;
  for (const command of [...commands, undefined]) {
    while (next < wanted.length && model.currentRevision() >= wanted[next]) {
      dumps.set(wanted[next++], await dumpStore(model));
    }
    if (command) await model.write(command);
  }
  return dumps;
}

/** toEqual, but fast for thousands of entries when they match (the usual case). */
export function expectSameDump(actual: StoreDump, expected: StoreDump): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
}
