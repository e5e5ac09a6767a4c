import { Logger } from '@nestjs/common';
import { ChangeStream } from '../changes/change-stream';
import { Change, putOf, StorageRepository } from '../storage/storage.repository';
import { DiscardedChangesRepository } from './discarded-changes.repository';

/**
 * Fencing a deposed leader: before a node replaces its data with the copy of a leader whose
 * history forked from its own at revision S (the leader was promoted at S while this node went
 * on taking writes), it saves the revisions after S to a file in DATA_DIR and counts them. The
 * copy then makes its store the leader's exactly (docs/REPLICATION.md, "Fencing").
 */
export class DiscardedRevisions {
  private readonly logger = new Logger('Replication');
  /** Revisions discarded since the process started (`discardedRevisions` in /replication). */
  total = 0;
  /** The file the last discarded revisions were saved to. */
  lastFile: string | null = null;
  /** Forks already saved: a copy that fails and is retried does not save or count them again. */
  private readonly saved = new Set<string>();

  constructor(
    private readonly storage: StorageRepository,
    private readonly changes: ChangeStream,
    private readonly repository: DiscardedChangesRepository,
  ) {}

  /** Saves this node's revisions after `sharedUpTo`, of history `historyId`, if it has any. */
  async save(historyId: string, sharedUpTo: number, leaderUrl: string): Promise<void> {
    const revision = this.storage.currentRevision();
    const fork = `${historyId}:${sharedUpTo}:${revision}`;
    if (revision <= sharedUpTo || this.saved.has(fork)) return;
    const from = sharedUpTo + 1;
    const changes = this.changes.changesBetween(from, revision);
    const lines = (changes ?? this.lastStates(sharedUpTo)).map((change) => JSON.stringify(change));
    const path = await this.repository.save(from, revision, lines, Date.now());
    const count = revision - sharedUpTo;
    this.saved.add(fork);
    this.total += count;
    this.lastFile = path;
    this.logger.warn(
      `Discarding ${count} revisions (${from} to ${revision}) this node committed in history ` +
        `${historyId} after revision ${sharedUpTo}, where the history of the leader at ` +
        `${leaderUrl} continues it; saved to ${path}` +
        (changes
          ? ''
          : `: the change history no longer holds them (a restart since?), so the file holds ` +
            `the last state of the ${lines.length} keys written after revision ${sharedUpTo}; ` +
            'deletions among the discarded changes are not listed'),
    );
  }

  /** The keys written after `revision`, each as a put of its value now, in revision order. */
  private lastStates(revision: number): Change[] {
    const puts: Change[] = [];
    for (const entry of this.storage.snapshot().entries()) {
      if (entry.modRevision > revision) puts.push(putOf(entry));
    }
    return puts.sort((a, b) => a.revision - b.revision);
  }
}
