import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeClock } from '../../clock/fake-clock';
import { StorageUnavailableError } from '../storage.repository';
import { FileStorageRepository } from './file-storage.repository';
import { FsyncPolicy } from './file-storage-options';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';

const put = (key: string) => ({ op: 'put' as const, key, value: `"${key}"`, expiresAt: null });

/** Waits in real time, bounded: the store notices and recovers on its own timer and I/O. */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!condition() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (!condition()) throw new Error(`timed out waiting until ${what}`);
}

describe('DATA_DIR removed while the store runs', () => {
  let dir: string;
  let repo: FileStorageRepository | undefined;
  const clock = new FakeClock();

  const open = (fsync: FsyncPolicy, logger = new RecordingLogger()) =>
    openStore(testOptions(dir, { fsync }), clock, logger);

  beforeEach(() => {
    dir = join(makeTempDir(), 'data');
  });

  afterEach(async () => {
    await repo?.close();
    repo = undefined;
    removeDir(join(dir, '..'));
  });

  it('acknowledges no write into the removed log, saves memory into a new DATA_DIR and resumes (always)', async () => {
    repo = await open('always');
    for (const key of ['a', 'b', 'c']) expect((await repo.write(put(key))).ok).toBe(true);
    rmSync(dir, { recursive: true });

    const refused = await repo.write(put('d')).catch((error) => error);
    expect(refused).toBeInstanceOf(StorageUnavailableError);
    expect(refused.message).toMatch(/^The log log-0000000001 is no longer in DATA_DIR/);
    await waitUntil(() => repo!.health().writable, 'the store is writable again');
    expect((await repo.write(put('e'))).ok).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['LOCK', 'log-0000000002', 'snapshot-0000000002']);

    await repo.close();
    repo = await open('always');
    // 'd' was applied to memory before its sync was refused: a 503 leaves the outcome open.
    expect(await repo.listKeys()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('answers 503 and reports why until a new DATA_DIR can be made, then saves everything', async () => {
    repo = await open('always');
    for (const key of ['a', 'b']) expect((await repo.write(put(key))).ok).toBe(true);
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a directory');

    await expect(repo.write(put('c'))).rejects.toThrow(/no longer in DATA_DIR/);
    await waitUntil(() => /failed/.test(repo!.health().reason ?? ''), 'the rescue failed');
    expect(repo.health()).toEqual({
      writable: false,
      reason: expect.stringMatching(
        /^The log log-0000000001 is no longer in DATA_DIR .* Saving the data held in memory into a re-created DATA_DIR failed \(EEXIST: file already exists, mkdir\); retrying every 1 s/,
      ),
    });
    await expect(repo.write(put('x'))).rejects.toThrow(StorageUnavailableError);
    expect(await repo.listKeys()).not.toContain('x');

    rmSync(dir);
    await waitUntil(() => repo!.health().writable, 'the store is writable again');
    expect((await repo.write(put('d'))).ok).toBe(true);
    await repo.close();
    repo = await open('always');
    expect(await repo.listKeys()).toEqual(['a', 'b', 'c', 'd']);
  });

  it.each(['everysec', 'no'] as const)(
    'notices within about a second with FSYNC=%s and keeps every acknowledged write',
    async (fsync) => {
      const logger = new RecordingLogger();
      repo = await open(fsync, logger);
      for (const key of ['a', 'b']) expect((await repo.write(put(key))).ok).toBe(true);
      rmSync(dir, { recursive: true });
      // Acknowledged after write(2), before the once-a-second check can have run.
      expect((await repo.write(put('c'))).ok).toBe(true);
      await waitUntil(
        () => logger.at('warn').some((message) => message.includes('writes resume')),
        'the data was saved',
      );
      expect(logger.at('error')[0]).toMatch(/^The log log-0000000001 is no longer in DATA_DIR/);
      await repo.close();
      repo = await open(fsync);
      expect(await repo.listKeys()).toEqual(['a', 'b', 'c']);
    },
  );

  it('leaves a re-created DATA_DIR that holds other log files alone', async () => {
    repo = await open('always');
    expect((await repo.write(put('a'))).ok).toBe(true);
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    writeFileSync(join(dir, 'log-0000000001'), '');

    await expect(repo.write(put('b'))).rejects.toThrow(StorageUnavailableError);
    await waitUntil(() => /failed/.test(repo!.health().reason ?? ''), 'the rescue declined');
    expect(repo.health().reason).toContain('DATA_DIR holds log or snapshot files again');
    expect(readdirSync(dir).sort()).toEqual(['log-0000000001']);
  });
});
