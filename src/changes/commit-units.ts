/** The revisions of one transaction's changes, committed and published together. */
export interface CommitUnit {
  readonly firstRevision: number;
  readonly lastRevision: number;
}

/**
 * Which published revisions belong to a transaction, for the changes the history still holds:
 * readers of the feed (/watch, a replication module) deliver or apply such a unit whole.
 */
export class CommitUnits {
  private readonly byRevision = new Map<number, CommitUnit>();
  /** In publication order, for forgetting the oldest. */
  private readonly units: CommitUnit[] = [];
  private oldest = 0;

  add(unit: CommitUnit): void {
    this.units.push(unit);
    for (let revision = unit.firstRevision; revision <= unit.lastRevision; revision++) {
      this.byRevision.set(revision, unit);
    }
  }

  of(revision: number): CommitUnit | undefined {
    return this.byRevision.get(revision);
  }

  /** Forgets the units that ended before `revision` (the history no longer holds them). */
  forgetBefore(revision: number): void {
    while (this.oldest < this.units.length && this.units[this.oldest].lastRevision < revision) {
      const unit = this.units[this.oldest++];
      for (let at = unit.firstRevision; at <= unit.lastRevision; at++) this.byRevision.delete(at);
    }
    // Compact the array once most of it is forgotten.
    if (this.oldest > 1024 && this.oldest * 2 > this.units.length) {
      this.units.splice(0, this.oldest);
      this.oldest = 0;
    }
  }
}
