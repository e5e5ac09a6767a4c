import { readFileSync, readlinkSync, rmSync, writeFileSync } from 'fs';

/**
 * Who holds a data directory's lock, precisely enough to tell, on the same machine, that the
 * holder is gone: a SIGKILLed process cannot remove its lock, and waiting for the lock to go
 * stale would block every restart for the stale period.
 *
 * A PID alone is not enough: PIDs are reused, and in containers every server is PID 1. So the
 * owner also records the kernel's boot id, its PID namespace and its start time (in clock
 * ticks since boot, /proc/<pid>/stat field 22): the same PID, namespace, boot and start time
 * can only be the same process.
 */
export interface LockOwner {
  readonly pid: number;
  readonly pidNamespace: string;
  readonly bootId: string;
  readonly startTime: string;
}

/**
 * Beside the lock directory, not inside it: proper-lockfile treats any change of the lock
 * directory's mtime (a file created in it) as the lock being compromised.
 */
const ownerFile = (lockPath: string) => `${lockPath}.owner`;

export function currentOwner(): LockOwner | undefined {
  try {
    return {
      pid: process.pid,
      pidNamespace: readlinkSync('/proc/self/ns/pid'),
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      startTime: startTimeOf(process.pid)!,
    };
  } catch {
    return undefined; // no /proc (not Linux): only the lock's staleness can free it
  }
}

export function writeOwner(lockPath: string, owner: LockOwner): void {
  writeFileSync(ownerFile(lockPath), JSON.stringify(owner));
}

export function removeOwner(lockPath: string): void {
  rmSync(ownerFile(lockPath), { force: true });
}

export function readOwner(lockPath: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(ownerFile(lockPath), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * True only when the owner certainly no longer runs. An owner on another machine, another
 * boot or in another PID namespace cannot be checked: it counts as alive.
 */
export function ownerIsGone(owner: LockOwner, self: LockOwner): boolean {
  if (owner.bootId !== self.bootId || owner.pidNamespace !== self.pidNamespace) return false;
  // A dead PID has no start time; a reused one (a restarted container's PID 1) has another.
  return startTimeOf(owner.pid) !== owner.startTime;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
