import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Clock } from '../../../clock/clock';
import { FileStorageRepository } from '../file-storage.repository';
import { FileStorageOptions, StorageLogger } from '../file-storage-options';

/** A logger that keeps what it is told, so tests can assert on warnings and stay quiet. */
export class RecordingLogger implements StorageLogger {
  readonly messages: { level: 'log' | 'warn' | 'error'; message: string }[] = [];

  log(message: string): void {
    this.messages.push({ level: 'log', message });
  }

  warn(message: string): void {
    this.messages.push({ level: 'warn', message });
  }

  error(message: string): void {
    this.messages.push({ level: 'error', message });
  }

  at(level: 'log' | 'warn' | 'error'): string[] {
    return this.messages.filter((entry) => entry.level === level).map((entry) => entry.message);
  }
}

export function makeTempDir(prefix = 'kvstore-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Options for tests: a small compaction threshold is set by the tests that want one. */
export function testOptions(
  dataDir: string,
  overrides: Partial<FileStorageOptions> = {},
): FileStorageOptions {
  return {
    dataDir,
    fsync: 'everysec',
    compactMinBytes: 64 * 1024 * 1024,
    compactRatio: 2,
    truncateCorrupt: false,
    ...overrides,
  };
}

export async function openStore(
  options: FileStorageOptions,
  clock: Clock,
  logger: StorageLogger = new RecordingLogger(),
): Promise<FileStorageRepository> {
  const repository = new FileStorageRepository(options, clock, logger);
  await repository.open();
  return repository;
}
