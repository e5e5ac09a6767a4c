import { FileOps } from './file-ops';

/**
 * When the log is made durable (docs/STORAGE.md, "fsync policies"):
 * - `always`: a write resolves after its record is fdatasync'ed; concurrent writes share one sync.
 * - `everysec`: the log is fdatasync'ed at least once a second.
 * - `no`: the OS decides when to write back.
 * With every policy a record reaches the OS before the write resolves, so a process crash
 * loses no acknowledged write; the policies differ only on power loss or a kernel crash.
 */
export type FsyncPolicy = 'always' | 'everysec' | 'no';

export interface FileStorageOptions {
  /** Created if missing. One process at a time: guarded by a kernel lock on `<dataDir>/LOCK`. */
  readonly dataDir: string;
  readonly fsync: FsyncPolicy;
  /** Compaction never starts while the log is smaller than this. */
  readonly compactMinBytes: number;
  /** Compaction starts once the log is this many times the size of the last snapshot. */
  readonly compactRatio: number;
  /** Start by cutting a damaged log or snapshot at the first bad record (RECOVER_TRUNCATE). */
  readonly truncateCorrupt: boolean;
  /** Writes that would take the data past this many bytes are refused (MAX_DATA_BYTES). */
  readonly maxDataBytes?: number;
  /** Called with the duration of every log fsync, for metrics. */
  readonly onFsync?: (seconds: number) => void;
  /** The file system; tests substitute one that fails on demand. */
  readonly fileOps?: FileOps;
}

export const DEFAULT_FILE_STORAGE_OPTIONS: FileStorageOptions = {
  dataDir: './data',
  fsync: 'everysec',
  compactMinBytes: 64 * 1024 * 1024,
  compactRatio: 2,
  truncateCorrupt: false,
};

/** The subset of Nest's LoggerService the store uses, so any Nest logger can be passed in. */
export interface StorageLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
