import { join } from 'path';
import { FileOps } from './file-ops';

/**
 * The names of the files in DATA_DIR. A log segment and the snapshot that replaces everything
 * before it share a sequence number: `snapshot-0000000007` holds the state as of the moment
 * `log-0000000007` was started, so recovery loads it and replays logs 7, 8, ...
 */
const LOG = /^log-(\d{10})$/;
const SNAPSHOT = /^snapshot-(\d{10})$/;
const TEMPORARY = /^snapshot-\d{10}\.tmp$/;

export const LOCK_NAME = 'LOCK';

export function logFileName(seq: number): string {
  return `log-${pad(seq)}`;
}

export function snapshotFileName(seq: number): string {
  return `snapshot-${pad(seq)}`;
}

export function temporarySnapshotName(seq: number): string {
  return `${snapshotFileName(seq)}.tmp`;
}

export interface DataFiles {
  /** Sequence numbers, ascending. */
  readonly logs: number[];
  readonly snapshots: number[];
  /** Snapshots a crash interrupted before they were renamed into place. */
  readonly temporary: string[];
}

export function listDataFiles(ops: FileOps, dir: string): DataFiles {
  const names = ops.readdir(dir);
  const logs: number[] = [];
  const snapshots: number[] = [];
  const temporary: string[] = [];
  for (const name of names) {
    const log = LOG.exec(name);
    const snapshot = SNAPSHOT.exec(name);
    if (log) logs.push(Number(log[1]));
    else if (snapshot) snapshots.push(Number(snapshot[1]));
    else if (TEMPORARY.test(name)) temporary.push(name);
  }
  const ascending = (a: number, b: number) => a - b;
  return {
    logs: logs.sort(ascending),
    snapshots: snapshots.sort(ascending),
    temporary,
  };
}

/**
 * Where recovery keeps bytes it cut from a damaged file: `log-0000000003.corrupt-20260101T120000Z`
 * (with a counter if that name is taken). The operator decides what to do with it.
 */
export function corruptCopyPath(ops: FileOps, dir: string, name: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const existing = new Set(ops.readdir(dir));
  let candidate = `${name}.corrupt-${stamp}`;
  for (let n = 2; existing.has(candidate); n++) candidate = `${name}.corrupt-${stamp}-${n}`;
  return join(dir, candidate);
}

function pad(seq: number): string {
  return String(seq).padStart(10, '0');
}
