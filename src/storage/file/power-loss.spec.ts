import { setImmediate as nextTurn } from 'timers/promises';
import { FakeClock } from '../../clock/fake-clock';
import { WriteCommand } from '../storage.repository';
import { FsyncPolicy } from './file-storage-options';
import { SimulatedDisk } from './testing/simulated-disk';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';
import { dumpStore, dumpsAtRevisions, expectSameDump } from './testing/store-dump';

describe('power loss (a simulated disk that keeps only what was synced)', () => {
  let dir: string;

  beforeEach(() => {
    // The lock lives on the real file system; the data on the simulated disk, under the same path.
    dir = makeTempDir();
  });

  afterEach(() => removeDir(dir));

  it.each(['always', 'everysec', 'no'] as FsyncPolicy[])(
    'recovers a prefix of the writes that holds every acknowledged one (fsync %s), across compactions',
    async (fsync) => {
      const clock = new FakeClock();
      const disk = new SimulatedDisk();
      const options = testOptions(dir, { fsync, compactMinBytes: 2048, compactRatio: 1 });
      const logger = new RecordingLogger();
      const repo = await openStore({ ...options, fileOps: disk }, clock, logger);

      let acknowledged = 0;
      const crashes: { disk: SimulatedDisk; acknowledged: number }[] = [];
      let calls = 0;
      disk.watch = () => {
        if (calls++ % 4 === 0) crashes.push({ disk: disk.crash(), acknowledged });
      };

      const commands: WriteCommand[] = [];
      for (let batch = 0; batch < 60; batch++) {
        const writes = batchOf(batch, clock.now()).map((command) => {
          commands.push(command);
          return repo.write(command).then((outcome) => {
            if (outcome.ok) acknowledged = Math.max(acknowledged, outcome.revision);
          });
        });
        await Promise.all(writes);
        await nextTurn();
      }
      await repo.close();
      disk.watch = undefined;
      expect(
        logger.at('log').filter((message) => message.startsWith('Compacted')).length,
      ).toBeGreaterThan(2);

      expect(crashes.length).toBeGreaterThan(50);
      const recovered: { revision: number; dump: Awaited<ReturnType<typeof dumpStore>> }[] = [];
      for (const crash of crashes) {
        const survivor = await openStore({ ...options, fileOps: crash.disk }, clock);
        const dump = await dumpStore(survivor);
        await survivor.close();
        if (fsync === 'always') expect(dump.revision).toBeGreaterThanOrEqual(crash.acknowledged);
        recovered.push({ revision: dump.revision, dump });
      }
      const expected = await dumpsAtRevisions(
        clock,
        commands,
        recovered.map((r) => r.revision),
      );
      for (const { revision, dump } of recovered) expectSameDump(dump, expected.get(revision)!);
    },
  );

  it('recovers a prefix when a snapshot written in slices already shows later writes', async () => {
    const clock = new FakeClock();
    const disk = new SimulatedDisk();
    const options = testOptions(dir, { fsync: 'everysec' });
    const repo = await openStore({ ...options, fileOps: disk }, clock);
    const commands: WriteCommand[] = [];
    const write = async (command: WriteCommand) => {
      commands.push(command);
      await repo.write(command);
    };
    for (let i = 0; i < 1500; i++) {
      await write({
        op: 'put',
        key: `key:${i}`,
        value: JSON.stringify('v'.repeat(200)),
        expiresAt: null,
      });
    }

    const crashes: SimulatedDisk[] = [];
    disk.watch = () => crashes.push(disk.crash());
    let done = false;
    const compaction = repo.compact().then(() => (done = true));
    for (let step = 0; !done; step++) {
      // Keys the snapshot has passed, and keys it has yet to reach.
      await write({
        op: 'put',
        key: `key:${(step * 7) % 1500}`,
        value: String(step),
        expiresAt: null,
      });
      await write({
        op: 'ttl',
        key: `key:${1499 - ((step * 11) % 1500)}`,
        expiresAt: clock.now() + 1000 + step,
      });
      await nextTurn();
    }
    await compaction;
    disk.watch = undefined;
    await repo.close();

    const recovered = [];
    for (const crashed of crashes) {
      const survivor = await openStore({ ...options, fileOps: crashed }, clock);
      recovered.push(await dumpStore(survivor));
      await survivor.close();
    }
    const expected = await dumpsAtRevisions(
      clock,
      commands,
      recovered.map((dump) => dump.revision),
    );
    for (const dump of recovered) expectSameDump(dump, expected.get(dump.revision)!);
  });
});

/** Four concurrent writes, so that 'always' shares syncs; enough churn to trigger compaction. */
function batchOf(batch: number, now: number): WriteCommand[] {
  const key = (n: number) => `k${(batch * 4 + n) % 13}`;
  return [
    {
      op: 'put',
      key: key(0),
      value: JSON.stringify({ batch, pad: 'p'.repeat(30) }),
      expiresAt: null,
    },
    { op: 'put', key: key(1), value: String(batch), expiresAt: now + 100_000 },
    { op: 'ttl', key: key(2), expiresAt: batch % 2 ? null : now + 200_000 + batch },
    { op: 'delete', key: key(3) },
  ];
}
