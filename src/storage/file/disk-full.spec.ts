import { execFileSync } from 'child_process';
import { readdirSync, rmSync, statfsSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeClock } from '../../clock/fake-clock';
import { FileStorageRepository } from './file-storage.repository';
import { StorageUnavailableError } from '../storage.repository';
import { makeTempDir, openStore, removeDir, testOptions } from './testing/file-storage-fixture';
import { dumpStore } from './testing/store-dump';

/**
 * A real full file system: a 1 MiB tmpfs. Mounting needs privileges; where the machine does not
 * allow it the test is skipped, and write-faults.spec.ts covers ENOSPC by fault injection.
 */
const mountPoint = makeTempDir('kvstore-full-');
const mountFailure = tryMount(mountPoint);
const whenMounted = mountFailure ? it.skip : it;

describe(`a full disk (tmpfs${mountFailure ? `: skipped, ${mountFailure}` : ''})`, () => {
  const dataDir = join(mountPoint, 'data');
  const filler = join(mountPoint, 'filler');
  let repo: FileStorageRepository | undefined;

  afterAll(async () => {
    await repo?.close().catch(() => undefined);
    if (!mountFailure) execFileSync('umount', [mountPoint]);
    removeDir(mountPoint);
  });

  /** Leaves about `bytes` free. */
  const fill = (bytes: number) => {
    const { bavail, bsize } = statfsSync(mountPoint);
    writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - bytes)));
  };

  whenMounted(
    'rejects writes while the disk is full, keeps serving reads, and recovers',
    async () => {
      const clock = new FakeClock();
      repo = await openStore(testOptions(dataDir), clock);
      await repo.write({ op: 'put', key: 'before', value: '"kept"', expiresAt: null });
      fill(16 * 1024);

      const value = JSON.stringify('x'.repeat(1000));
      let failure: unknown;
      for (let i = 0; i < 1000 && !failure; i++) {
        const before = await dumpStore(repo);
        failure = await repo.write({ op: 'put', key: `k${i}`, value, expiresAt: null }).then(
          () => undefined,
          (error) => error,
        );
        if (failure) expect(await dumpStore(repo)).toEqual(before);
      }
      expect(failure).toBeInstanceOf(StorageUnavailableError);
      expect((failure as Error).message).toMatch(
        /no space left on device \(ENOSPC\)\. The write was not applied/,
      );
      expect((await repo.get('before'))?.value).toBe('"kept"');
      expect(repo.health()).toEqual({ writable: true });

      // Compaction cannot run either, and cleans up after itself.
      await expect(repo.compact()).rejects.toThrow(/no space left on device/);
      expect(readdirSync(dataDir).filter((name) => name.endsWith('.tmp'))).toEqual([]);

      rmSync(filler);
      expect((await repo.write({ op: 'put', key: 'after', value, expiresAt: null })).ok).toBe(true);
      await repo.compact();
      const expected = await dumpStore(repo);
      await repo.close();
      repo = await openStore(testOptions(dataDir), clock);
      expect(await dumpStore(repo)).toEqual(expected);
    },
  );
});

function tryMount(dir: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    return `cannot mount a tmpfs here (${stderr || (error as Error).message})`;
  }
}
