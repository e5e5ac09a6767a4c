/**
 * Errors of the file-backed store that stop it from starting; each message says what happened
 * and what to do. A refused write is the port's StorageUnavailableError (HTTP 503).
 */

/** A log or snapshot holds damaged data that is not a torn final write; the store will not open. */
export class StorageCorruptError extends Error {
  override readonly name = 'StorageCorruptError';

  constructor(
    message: string,
    readonly file: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Another live process holds the data directory. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';

  constructor(
    readonly dataDir: string,
    readonly lockPath: string,
  ) {
    super(
      `DATA_DIR ${dataDir} is locked by another kvstore process (lock file ${lockPath}). ` +
        `Stop the other process, or point DATA_DIR elsewhere. The lock is held by the kernel ` +
        `for as long as that process lives, and ends with it however it ends.`,
    );
  }
}

/** The data directory cannot be created, read or written. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';

  constructor(
    readonly dataDir: string,
    cause: unknown,
  ) {
    super(`DATA_DIR ${dataDir} cannot be used: ${describeIoError(cause)}`, { cause });
  }
}

/** "no space left on device (ENOSPC)" rather than Node's "ENOSPC: no space left on device, write". */
export function describeIoError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
      return 'no space left on device (ENOSPC)';
    case 'EDQUOT':
      return 'disk quota exceeded (EDQUOT)';
    case 'EIO':
      return 'input/output error (EIO)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EROFS':
      return 'read-only file system (EROFS)';
    case 'ENOTDIR':
      return 'a path component is not a directory (ENOTDIR)';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
