import { StoredEntry } from './storage.repository';

/**
 * What a snapshot being read still owes its reader: the state at `revision` of the entries it
 * has not reached yet but that writes have replaced or removed since (copy-on-write). The
 * table reads everything else from its live entries, which are immutable objects, so taking a
 * snapshot costs nothing up front and the store keeps serving while a follower reads a million
 * keys from it.
 */
export class SnapshotReader {
  /** The createRevision of the last entry handed out: entries are read in that order. */
  visited = 0;
  /** Entries replaced since the snapshot, by createRevision, as they were at `revision`. */
  private readonly replaced = new Map<number, StoredEntry>();
  /** Entries removed since the snapshot, as they were at `revision`, by createRevision. */
  private readonly removed: StoredEntry[] = [];

  constructor(readonly revision: number) {}

  /** Called before a write replaces (`removing` false) or removes `entry`. */
  keep(entry: StoredEntry, removing: boolean): void {
    const { createRevision } = entry;
    if (createRevision <= this.visited || createRevision > this.revision) return;
    const atSnapshot = this.replaced.get(createRevision) ?? entry;
    if (!removing) {
      this.replaced.set(createRevision, atSnapshot);
      return;
    }
    this.replaced.delete(createRevision);
    let at = this.removed.length;
    while (at > 0 && this.removed[at - 1].createRevision > createRevision) at--;
    this.removed.splice(at, 0, atSnapshot);
  }

  /** The next entry removed since the snapshot, if it comes before `createRevision`. */
  removedBefore(createRevision: number): StoredEntry | undefined {
    if (this.removed.length === 0 || this.removed[0].createRevision >= createRevision) return;
    const entry = this.removed.shift()!;
    this.visited = entry.createRevision;
    return entry;
  }

  /** `live`, an entry the snapshot holds, as it was at the snapshot. */
  atSnapshot(live: StoredEntry): StoredEntry {
    const entry = this.replaced.get(live.createRevision) ?? live;
    this.replaced.delete(live.createRevision);
    this.visited = live.createRevision;
    return entry;
  }
}
