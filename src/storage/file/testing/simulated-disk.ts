import { basename, dirname } from 'path';
import { FileOps } from '../file-ops';

interface Inode {
  /** What reads see now. */
  data: Buffer;
  /** What survives a power loss: the data as of the last datasync. */
  durable: Buffer;
}

/**
 * An in-memory file system that remembers what was made durable, to test power loss: `crash()`
 * returns the disk as it would be found after one, where every write not followed by a datasync
 * of its file, and every creation, rename or removal not followed by a sync of its directory, is
 * gone. This is the most pessimistic outcome the POSIX rules allow; real file systems keep more.
 */
export class SimulatedDisk implements FileOps {
  private readonly names = new Map<string, Inode>();
  /** Directory entries as of the last syncDir of their directory. */
  private readonly durableNames = new Map<string, Inode>();
  private readonly fds = new Map<number, Inode>();
  private nextFd = 1000;
  /** Runs before each call, like FaultyFileOps.watch. */
  watch: ((op: keyof FileOps) => void) | undefined;

  /** The disk after a power loss at this moment. */
  crash(): SimulatedDisk {
    const disk = new SimulatedDisk();
    for (const [path, inode] of this.durableNames) {
      const survivor = { data: Buffer.from(inode.durable), durable: Buffer.from(inode.durable) };
      disk.names.set(path, survivor);
      disk.durableNames.set(path, survivor);
    }
    return disk;
  }

  mkdirp(): void {
    this.watch?.('mkdirp');
  }

  readdir(dir: string): string[] {
    this.watch?.('readdir');
    return [...this.names.keys()]
      .filter((path) => dirname(path) === dir)
      .map((path) => basename(path));
  }

  open(path: string, flags: 'r' | 'r+' | 'wx'): number {
    this.watch?.('open');
    let inode = this.names.get(path);
    if (flags === 'wx') {
      if (inode) throw errno('EEXIST', path);
      inode = { data: Buffer.alloc(0), durable: Buffer.alloc(0) };
      this.names.set(path, inode);
    }
    if (!inode) throw errno('ENOENT', path);
    const fd = this.nextFd++;
    this.fds.set(fd, inode);
    return fd;
  }

  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    this.watch?.('read');
    return this.inode(fd).data.copy(buffer, offset, position, position + length);
  }

  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    this.watch?.('write');
    const inode = this.inode(fd);
    if (position + length > inode.data.length) {
      const grown = Buffer.alloc(position + length);
      inode.data.copy(grown);
      inode.data = grown;
    }
    return buffer.copy(inode.data, position, offset, offset + length);
  }

  async writeAsync(
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    await turn();
    return this.write(fd, buffer, offset, length, position);
  }

  truncate(fd: number, length: number): void {
    this.watch?.('truncate');
    const inode = this.inode(fd);
    const resized = Buffer.alloc(length);
    inode.data.copy(resized, 0, 0, length);
    inode.data = resized;
  }

  size(fd: number): number {
    return this.inode(fd).data.length;
  }

  close(fd: number): void {
    this.watch?.('close');
    this.inode(fd);
    this.fds.delete(fd);
  }

  async datasync(fd: number): Promise<void> {
    this.watch?.('datasync');
    await turn();
    const inode = this.inode(fd);
    inode.durable = Buffer.from(inode.data);
  }

  async syncDir(dir: string): Promise<void> {
    this.watch?.('syncDir');
    await turn();
    for (const path of [...this.durableNames.keys()]) {
      if (dirname(path) === dir) this.durableNames.delete(path);
    }
    for (const [path, inode] of this.names) {
      if (dirname(path) === dir) this.durableNames.set(path, inode);
    }
  }

  rename(from: string, to: string): void {
    this.watch?.('rename');
    const inode = this.names.get(from);
    if (!inode) throw errno('ENOENT', from);
    this.names.delete(from);
    this.names.set(to, inode);
  }

  async unlink(path: string): Promise<void> {
    this.watch?.('unlink');
    await turn();
    if (!this.names.delete(path)) throw errno('ENOENT', path);
  }

  sameFile(fd: number, path: string): boolean {
    return this.names.get(path) === this.inode(fd);
  }

  private inode(fd: number): Inode {
    const inode = this.fds.get(fd);
    if (!inode) throw errno('EBADF', String(fd));
    return inode;
  }
}

/** Asynchronous calls complete on a later turn of the event loop, as real ones do. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, ${path}`), { code, path });
}
