import * as fs from 'fs';

/**
 * Every file-system call the store makes, behind one interface so that tests can fail the N-th
 * call, return a short write or run out of space (see testing/faulty-file-ops.ts).
 *
 * Log appends and reads are synchronous: a write is handed to the OS inside the request that
 * made it, as Redis does from its event loop, and recovery runs before the server accepts
 * requests. Whatever can take milliseconds while requests are being served runs on libuv's
 * pool instead: syncs, snapshot writes (the kernel throttles large writes when dirty pages
 * pile up) and unlinks (removing a large log can take tens of milliseconds).
 */
export interface FileOps {
  /** Creates the directory and its parents if missing. */
  mkdirp(dir: string): void;
  readdir(dir: string): string[];
  /** 'r' to read, 'r+' to read and write an existing file, 'wx' to create a new one. */
  open(path: string, flags: 'r' | 'r+' | 'wx'): number;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  /** Positional write; may write fewer bytes than asked. */
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  /** The same, off the event loop. */
  writeAsync(
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number>;
  truncate(fd: number, length: number): void;
  size(fd: number): number;
  close(fd: number): void;
  /** Makes the file's data (and the size needed to read it) durable. */
  datasync(fd: number): Promise<void>;
  /** Makes the directory's entries (creations, renames, removals) durable. */
  syncDir(dir: string): Promise<void>;
  rename(from: string, to: string): void;
  unlink(path: string): Promise<void>;
  /** True while `path` still names the open file `fd`: it was not removed, nor replaced. */
  sameFile(fd: number, path: string): boolean;
}

export const nodeFileOps: FileOps = {
  mkdirp: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  readdir: (dir) => fs.readdirSync(dir),
  open: (path, flags) => fs.openSync(path, flags),
  read: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  write: (fd, buffer, offset, length, position) =>
    fs.writeSync(fd, buffer, offset, length, position),
  writeAsync: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) =>
      fs.write(fd, buffer, offset, length, position, (err, written) =>
        err ? reject(err) : resolve(written),
      ),
    ),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  size: (fd) => fs.fstatSync(fd).size,
  close: (fd) => fs.closeSync(fd),
  datasync: (fd) =>
    new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  syncDir: async (dir) => {
    const handle = await fs.promises.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (path) => fs.promises.unlink(path),
  sameFile: (fd, path) => namesOpenFile(fd, path),
};

/**
 * An open file stays writable after its name is removed (`rm -rf DATA_DIR`): writes to it
 * succeed, fsync succeeds, and everything is gone when the process ends. A link count above zero
 * and the same device and inode at the path prove the file is still reachable where a restart
 * will look. One fstat and one stat, done once per group commit: far less than its fdatasync.
 */
export function namesOpenFile(fd: number, path: string): boolean {
  const open = fs.fstatSync(fd);
  if (open.nlink === 0) return false;
  let named: fs.Stats | undefined;
  try {
    named = fs.statSync(path, { throwIfNoEntry: false });
  } catch {
    return false; // ENOTDIR (DATA_DIR replaced by a file), EACCES...: a restart cannot read it either
  }
  return named !== undefined && named.ino === open.ino && named.dev === open.dev;
}
