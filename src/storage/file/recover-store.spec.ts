import { existsSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeClock } from '../../clock/fake-clock';
import { StorageRepository, WriteCommand } from '../storage.repository';
import { lockDataDir } from './data-dir-lock';
import { FileStorageRepository } from './file-storage.repository';
import { FileStorageOptions } from './file-storage-options';
import { StorageCorruptError } from './storage-errors';
import { FaultyFileOps } from './testing/faulty-file-ops';
import {
  RecordingLogger,
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './testing/file-storage-fixture';
import { StoreDump, dumpStore, sampleCommands } from './testing/store-dump';
import { MemoryStorageRepository } from '../memory-storage.repository';

const LOG_1 = 'log-0000000001';
const LOG_2 = 'log-0000000002';

describe('recovery at start', () => {
  let dir: string;
  let clock: FakeClock;
  let logger: RecordingLogger;
  const opened: FileStorageRepository[] = [];

  const open = async (overrides: Partial<FileStorageOptions> = {}) => {
    const repo = await openStore(testOptions(dir, overrides), clock, logger);
    opened.push(repo);
    return repo;
  };

  /** Runs the commands; returns the log size and the store's state after each write. */
  const writeAll = async (repo: FileStorageRepository, commands: readonly WriteCommand[]) => {
    const states: { logBytes: number; dump: StoreDump }[] = [
      { logBytes: repo.logBytes(), dump: await dumpStore(repo) },
    ];
    for (const command of commands) {
      await repo.write(command);
      states.push({ logBytes: repo.logBytes(), dump: await dumpStore(repo) });
    }
    await repo.close();
    return states;
  };

  const flipByte = (file: string, offset: number) => {
    const bytes = readFileSync(join(dir, file));
    bytes[offset] ^= 0x20;
    writeFileSync(join(dir, file), bytes);
  };

  beforeEach(() => {
    dir = makeTempDir();
    clock = new FakeClock();
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    for (const repo of opened.splice(0)) await repo.close();
    removeDir(dir);
  });

  it('recovers exactly a prefix of the writes when the log is cut at any byte of its last records', async () => {
    const states = await writeAll(await open(), sampleCommands(clock.now()));
    const full = readFileSync(join(dir, LOG_1));
    const from = states[states.length - 5].logBytes;
    for (let cut = from; cut <= full.length; cut++) {
      writeFileSync(join(dir, LOG_1), full.subarray(0, cut));
      logger.messages.length = 0;
      const repo = await open();
      const prefix = [...states].reverse().find((state) => state.logBytes <= cut)!;
      expect(await dumpStore(repo)).toEqual(prefix.dump);
      const torn = prefix.logBytes !== cut;
      expect(logger.at('warn')).toEqual(
        torn
          ? [
              expect.stringContaining(
                `ends with an incomplete record at byte offset ${prefix.logBytes}`,
              ),
            ]
          : [],
      );
      expect(statSync(join(dir, LOG_1)).size).toBe(prefix.logBytes);
      await repo.close();
      opened.pop();
    }
    // Hundreds of opens, each taking the lock with a flock(1) process.
  }, 60_000);

  it('recovers a prefix of whole transactions when the log is cut at any byte of their records', async () => {
    const repo = await open();
    const states = [{ logBytes: repo.logBytes(), dump: await dumpStore(repo) }];
    const value = (i: number) => JSON.stringify({ i });
    for (let i = 0; i < 3; i++) {
      const outcome = await repo.transact({
        compare: [],
        success: [
          { op: 'put', key: `a${i}`, value: value(i), expiresAt: null },
          { op: 'put', key: 'shared', value: value(i), expiresAt: clock.now() + 60_000 },
          ...(i > 0 ? [{ op: 'delete' as const, key: `a${i - 1}` }] : []),
        ],
        failure: [],
      });
      expect(outcome.changes.length).toBeGreaterThan(1);
      states.push({ logBytes: repo.logBytes(), dump: await dumpStore(repo) });
    }
    await repo.close();
    opened.pop();
    const full = readFileSync(join(dir, LOG_1));
    for (let cut = 0; cut <= full.length; cut++) {
      writeFileSync(join(dir, LOG_1), full.subarray(0, cut));
      const reopened = await open();
      const prefix = [...states].reverse().find((state) => state.logBytes <= cut)!;
      expect(await dumpStore(reopened)).toEqual(prefix.dump);
      await reopened.close();
      opened.pop();
    }
  }, 60_000);

  it('refuses to start on a damaged record followed by good ones, naming file and offset', async () => {
    const states = await writeAll(await open(), sampleCommands(clock.now()));
    const damagedAt = states[3].logBytes;
    flipByte(LOG_1, damagedAt + 12);

    const failure = await open().catch((error) => error);
    expect(failure).toBeInstanceOf(StorageCorruptError);
    expect(failure).toMatchObject({ file: join(dir, LOG_1), offset: damagedAt });
    expect(failure.message).toContain(
      `The log ${join(dir, LOG_1)} is damaged at byte offset ${damagedAt} (checksum mismatch)`,
    );
    expect(failure.message).toContain('RECOVER_TRUNCATE=true');
    // A refused start releases the lock.
    const lock = await lockDataDir(dir);
    lock.release();
  });

  it('treats a damaged length field in the middle as damage, not as a torn tail', async () => {
    const states = await writeAll(await open(), sampleCommands(clock.now()));
    const damagedAt = states[3].logBytes;
    flipByte(LOG_1, damagedAt + 7); // the high byte of the length: the record now runs past the end
    await expect(open()).rejects.toThrow(StorageCorruptError);
  });

  it('cuts at the first damaged record on request, keeping a copy of what was cut', async () => {
    const states = await writeAll(await open(), sampleCommands(clock.now()));
    const damagedAt = states[3].logBytes;
    const size = statSync(join(dir, LOG_1)).size;
    flipByte(LOG_1, damagedAt + 12);

    const repo = await open({ truncateCorrupt: true });
    expect(await dumpStore(repo)).toEqual(states[3].dump);
    expect(logger.at('warn')).toEqual([
      expect.stringContaining(
        `RECOVER_TRUNCATE: cut the damaged log ${join(dir, LOG_1)} at byte offset ${damagedAt}`,
      ),
    ]);
    const copies = readdirSync(dir).filter((name) => name.startsWith(`${LOG_1}.corrupt-`));
    expect(copies).toEqual([`${LOG_1}.corrupt-20260101T000000Z`]);
    expect(statSync(join(dir, copies[0])).size).toBe(size - damagedAt);

    expect((await repo.write({ op: 'put', key: 'after', value: '1', expiresAt: null })).ok).toBe(
      true,
    );
    const expected = await dumpStore(repo);
    await repo.close();
    opened.pop();
    logger.messages.length = 0;
    expect(await dumpStore(await open())).toEqual(expected);
    expect(logger.at('warn')).toEqual([]);
  });

  it('cuts a torn tail of a segment when the later segment is empty', async () => {
    const repo = await open();
    const states = await writeAll(repo, sampleCommands(clock.now(), 6));
    truncateSync(join(dir, LOG_1), states[6].logBytes - 3);
    writeFileSync(join(dir, LOG_2), '');
    const reopened = await open();
    expect(await dumpStore(reopened)).toEqual(states[5].dump);
    expect(logger.at('warn')).toEqual([expect.stringContaining('incomplete record')]);
    expect(existsSync(join(dir, LOG_2))).toBe(false);
  });

  it('treats a damaged tail of a segment followed by a segment with records as damage', async () => {
    const ops = new FaultyFileOps();
    const repo = await open({ fileOps: ops });
    await repo.write({ op: 'put', key: 'a', value: '1', expiresAt: null });
    await repo.write({ op: 'put', key: 'b', value: '2', expiresAt: null });
    // A compaction that fails after switching logs leaves two live segments.
    ops.failNext('rename', 'EIO');
    await expect(repo.compact()).rejects.toThrow();
    await repo.write({ op: 'put', key: 'c', value: '3', expiresAt: null });
    await repo.close();
    opened.pop();
    const firstSize = statSync(join(dir, LOG_1)).size;
    truncateSync(join(dir, LOG_1), firstSize - 2);

    await expect(open()).rejects.toThrow(/log-0000000001 is damaged at byte offset/);
    const recovered = await open({ truncateCorrupt: true });
    expect(await recovered.listKeys()).toEqual(['a']);
    expect(
      readdirSync(dir)
        .filter((name) => name.includes('.corrupt-'))
        .sort(),
    ).toEqual([`${LOG_1}.corrupt-20260101T000000Z`, `${LOG_2}.corrupt-20260101T000000Z`]);
  });

  it('refuses a log sequence with a gap', async () => {
    await writeAll(await open(), sampleCommands(clock.now(), 3));
    writeFileSync(join(dir, 'log-0000000003'), '');
    await expect(open()).rejects.toThrow(`The log ${join(dir, LOG_2)} is missing`);
  });

  it('removes snapshots that a crash left under their temporary name', async () => {
    await writeAll(await open(), sampleCommands(clock.now(), 3));
    writeFileSync(join(dir, 'snapshot-0000000002.tmp'), 'half a snapshot');
    await open();
    expect(readdirSync(dir).sort()).toEqual(['LOCK', LOG_1]);
  });

  it('refuses a damaged snapshot, and on request keeps the entries before the damage', async () => {
    const repo = await open();
    for (let i = 0; i < 20; i++)
      await repo.write({ op: 'put', key: `k${i}`, value: String(i), expiresAt: null });
    await repo.compact();
    await repo.write({ op: 'put', key: 'later', value: '1', expiresAt: null });
    await repo.close();
    opened.pop();
    const snapshot = readdirSync(dir).find((name) => name.startsWith('snapshot-'))!;
    const size = statSync(join(dir, snapshot)).size;
    flipByte(snapshot, Math.floor(size / 2));

    const failure = await open().catch((error) => error);
    expect(failure).toBeInstanceOf(StorageCorruptError);
    expect(failure.message).toMatch(
      /The snapshot .*snapshot-0000000002 is damaged at byte offset \d+ \(checksum mismatch\)/,
    );

    const recovered = await open({ truncateCorrupt: true });
    const keys = await recovered.listKeys();
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.length).toBeLessThan(20);
    expect(keys).toEqual([...keys.slice(0, -1).map((_, i) => `k${i}`), 'later']);
    expect(readdirSync(dir)).toContain(`${snapshot}.corrupt-20260101T000000Z`);
    const expected = await dumpStore(recovered);
    await recovered.close();
    opened.pop();
    // A fresh snapshot replaced the damaged one: the next start needs no operator setting.
    expect(await dumpStore(await open())).toEqual(expected);
  });

  it('replays a snapshot and the log after it to the state before the restart', async () => {
    // Multibyte keys and values, one with a lone surrogate (stored as UTF-16), and TTLs.
    const keys = ['ascii', 'é', '鍵', '😀', 'lone\uD800', 'gone', 'ttl'];
    const now = clock.now();
    const before: WriteCommand[] = keys.map((key, i) => ({
      op: 'put',
      key,
      value: JSON.stringify(`${key}-é鍵😀-${i}`),
      expiresAt: i % 3 === 0 ? now + 60_000 + i : null,
    }));
    // Changes logged after the snapshot to keys it holds, and keys it does not.
    const after: WriteCommand[] = [
      { op: 'put', key: '鍵', value: '"updated"', expiresAt: 'keep' },
      { op: 'ttl', key: 'ttl', expiresAt: now + 5_000 },
      { op: 'delete', key: 'gone' },
      { op: 'put', key: 'gone', value: '"re-created"', expiresAt: null },
      { op: 'put', key: 'new 😀', value: '{"n":1}', expiresAt: now + 1_000 },
      { op: 'ttl', key: 'ascii', expiresAt: null },
    ];
    const observe = async (repo: StorageRepository) => ({
      dump: await dumpStore(repo),
      usage: repo.dataUsage(),
      keySizes: repo.storedKeySizes(),
      stats: await repo.stats(),
      scan: await repo.scan({ limit: 100 }),
    });

    const repo = await open();
    for (const command of before) await repo.write(command);
    await repo.compact();
    for (const command of after) await repo.write(command);
    const expected = await observe(repo);
    await repo.close();
    opened.pop();
    expect(readdirSync(dir).sort()).toEqual(['LOCK', LOG_2, 'snapshot-0000000002']);

    const reopened = await open();
    expect(logger.at('log').at(-1)).toMatch(/, 6 log records replayed,/);
    expect(await observe(reopened)).toEqual(expected);
    // The same as a store that never restarted, and whose entries all came from writes.
    const model = new MemoryStorageRepository(clock);
    for (const command of [...before, ...after]) await model.write(command);
    expect(await observe(reopened)).toEqual({ ...(await observe(model)), stats: expected.stats });
    expect(expected.stats).toEqual(await model.stats());

    // Expiry after recovery works from what the snapshot and the log said.
    clock.advance(5_000);
    await reopened.expireDue(100);
    await model.expireDue(100);
    expect(await dumpStore(reopened)).toEqual(await dumpStore(model));
    expect(reopened.dataUsage()).toEqual(model.dataUsage());
  });

  it('refuses to start when DATA_DIR cannot be created, naming it', async () => {
    writeFileSync(join(dir, 'file'), '');
    await expect(open({ dataDir: join(dir, 'file', 'data') })).rejects.toThrow(
      `DATA_DIR ${join(dir, 'file', 'data')} cannot be used: a path component is not a directory (ENOTDIR)`,
    );
  });
});
