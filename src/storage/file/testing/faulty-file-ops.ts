import { FileOps, nodeFileOps } from '../file-ops';

export type FileOp = keyof FileOps;

/**
 * What an intercepted call does instead of succeeding:
 * - an errno code: the call fails with it, having done nothing;
 * - `partial`: a write puts half of its bytes in the file, then fails with ENOSPC;
 * - `short`: a write puts half of its bytes in the file and reports that (no error).
 */
export type Fault = 'ENOSPC' | 'EIO' | 'EACCES' | 'partial' | 'short';

export interface FileCall {
  readonly op: FileOp;
  /** The file or directory the call is about, when known. */
  readonly path: string | undefined;
  /** 1-based position among all calls since the last `reset`. */
  readonly index: number;
}

/**
 * The real file system, with faults on demand: fail the N-th call, the next calls of one kind,
 * or whatever a rule decides. It also counts calls and can watch each one before it runs (a
 * test copies DATA_DIR there to see what a crash at that point would leave).
 */
export class FaultyFileOps implements FileOps {
  private readonly paths = new Map<number, string>();
  private readonly counts = new Map<FileOp, number>();
  private calls = 0;
  private rule: ((call: FileCall) => Fault | undefined) | undefined;
  /** Runs before each call. */
  watch: ((call: FileCall) => void) | undefined;

  constructor(private readonly inner: FileOps = nodeFileOps) {}

  /** Calls of `op` since the last reset. */
  count(op: FileOp): number {
    return this.counts.get(op) ?? 0;
  }

  get total(): number {
    return this.calls;
  }

  reset(): void {
    this.counts.clear();
    this.calls = 0;
    this.rule = undefined;
  }

  /** Fails the next `times` calls of `op` with `fault`. */
  failNext(op: FileOp, fault: Fault, times = 1): void {
    let left = times;
    this.rule = (call) => (call.op === op && left-- > 0 ? fault : undefined);
  }

  /** Fails the `n`-th call from now (any kind) with the fault that suits it. */
  failNth(n: number, fault: (op: FileOp) => Fault): void {
    const target = this.calls + n;
    this.rule = (call) => (call.index === target ? fault(call.op) : undefined);
  }

  failWhen(rule: (call: FileCall) => Fault | undefined): void {
    this.rule = rule;
  }

  clearFaults(): void {
    this.rule = undefined;
  }

  mkdirp(dir: string): void {
    this.check('mkdirp', dir);
    this.inner.mkdirp(dir);
  }

  readdir(dir: string): string[] {
    this.check('readdir', dir);
    return this.inner.readdir(dir);
  }

  open(path: string, flags: 'r' | 'r+' | 'wx'): number {
    this.check('open', path);
    const fd = this.inner.open(path, flags);
    this.paths.set(fd, path);
    return fd;
  }

  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    this.check('read', this.paths.get(fd));
    return this.inner.read(fd, buffer, offset, length, position);
  }

  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    const fault = this.intercept('write', this.paths.get(fd));
    if (fault === 'partial' || fault === 'short') {
      const half = Math.max(1, Math.floor(length / 2));
      const wrote = this.inner.write(fd, buffer, offset, half, position);
      if (fault === 'short') return wrote;
      throw errno('ENOSPC', 'write');
    }
    if (fault) throw errno(fault, 'write');
    return this.inner.write(fd, buffer, offset, length, position);
  }

  async writeAsync(
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    const fault = this.intercept('writeAsync', this.paths.get(fd));
    if (fault === 'partial' || fault === 'short') {
      const half = Math.max(1, Math.floor(length / 2));
      const wrote = await this.inner.writeAsync(fd, buffer, offset, half, position);
      if (fault === 'short') return wrote;
      throw errno('ENOSPC', 'write');
    }
    if (fault) throw errno(fault, 'write');
    return this.inner.writeAsync(fd, buffer, offset, length, position);
  }

  truncate(fd: number, length: number): void {
    this.check('truncate', this.paths.get(fd));
    this.inner.truncate(fd, length);
  }

  size(fd: number): number {
    this.check('size', this.paths.get(fd));
    return this.inner.size(fd);
  }

  close(fd: number): void {
    this.check('close', this.paths.get(fd));
    this.paths.delete(fd);
    this.inner.close(fd);
  }

  async datasync(fd: number): Promise<void> {
    this.check('datasync', this.paths.get(fd));
    await this.inner.datasync(fd);
  }

  async syncDir(dir: string): Promise<void> {
    this.check('syncDir', dir);
    await this.inner.syncDir(dir);
  }

  rename(from: string, to: string): void {
    this.check('rename', from);
    this.inner.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    await this.inner.unlink(path);
  }

  /** Not intercepted: a query that changes nothing, and the real one never throws. */
  sameFile(fd: number, path: string): boolean {
    return this.inner.sameFile(fd, path);
  }

  private check(op: FileOp, path: string | undefined): void {
    const fault = this.intercept(op, path);
    if (fault) throw errno(fault === 'partial' || fault === 'short' ? 'EIO' : fault, op);
  }

  private intercept(op: FileOp, path: string | undefined): Fault | undefined {
    this.calls++;
    this.counts.set(op, this.count(op) + 1);
    const call = { op, path, index: this.calls };
    this.watch?.(call);
    return this.rule?.(call);
  }
}

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated failure, ${syscall}`), { code, syscall });
}
