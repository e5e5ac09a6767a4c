import { randomUUID } from 'node:crypto';
import { StorageRepository } from '../storage/storage.repository';
import { PreviousHistory } from './replication-protocol';

/**
 * What a node records with its data (StorageRepository.replicationState), as JSON.
 * `clean` and `revision`: a leader that shut down cleanly at `revision`.
 */
interface RecordedState {
  readonly role: 'leader' | 'follower';
  readonly nodeId: string;
  readonly historyId: string | null;
  readonly previous: PreviousHistory | null;
  readonly clean?: boolean;
  readonly revision?: number;
}

/**
 * Which history the node's data belongs to, as Redis's replication id: the pair (history id,
 * revision) names one exact dataset.
 *
 * A leader keeps its history id across a clean restart of a durable store, so followers that
 * were caught up resume. After anything else (a crash, which may have lost writes that
 * followers already have; a follower started as a leader; an in-memory store) it starts a new
 * history that keeps the old id and the revision it recovered as `previous`: followers at or
 * before that revision continue without a full copy, and a follower ahead of it (it holds
 * writes the leader lost) is given a full copy instead of a history that forked.
 */
export class ReplicationIdentity {
  readonly nodeId: string;
  private current: string | null;
  private before: PreviousHistory | null;

  private constructor(
    private readonly storage: StorageRepository,
    recorded: RecordedState | undefined,
  ) {
    this.nodeId = recorded?.nodeId ?? randomUUID();
    this.current = recorded?.historyId ?? null;
    this.before = recorded?.previous ?? null;
  }

  static read(storage: StorageRepository): ReplicationIdentity {
    return new ReplicationIdentity(storage, parseState(storage.replicationState()));
  }

  /** The history the data belongs to; null for a follower that never loaded a leader's data. */
  get historyId(): string | null {
    return this.current;
  }

  get previous(): PreviousHistory | null {
    return this.before;
  }

  /** Takes the leader's role: keeps or starts the history (see the class), and records it. */
  async lead(): Promise<void> {
    const recorded = parseState(this.storage.replicationState());
    const revision = this.storage.currentRevision();
    const resumed =
      recorded?.role === 'leader' && recorded.clean === true && recorded.revision === revision;
    if (!resumed) {
      this.before = this.current === null ? null : { historyId: this.current, revision };
      this.current = randomUUID();
    }
    await this.record('leader', { clean: false });
  }

  /** Records a clean shutdown at the store's revision now: the next start keeps the history. */
  async leaveCleanly(): Promise<void> {
    await this.record('leader', { clean: true, revision: this.storage.currentRevision() });
  }

  /** The text a follower records with a full copy of the leader's data in `historyId`. */
  followerState(historyId: string): string {
    return JSON.stringify(this.state('follower', historyId, null, {}));
  }

  /** A follower's data now belongs to `historyId` (after a copy, or continuing into it). */
  adopted(historyId: string): void {
    this.current = historyId;
    this.before = null;
  }

  /** Records that the follower's data continues into the leader's `historyId`. */
  async follow(historyId: string): Promise<void> {
    this.adopted(historyId);
    await this.storage.saveReplicationState(this.followerState(historyId));
  }

  private async record(role: 'leader', extra: Pick<RecordedState, 'clean' | 'revision'>) {
    const state = this.state(role, this.current, this.before, extra);
    await this.storage.saveReplicationState(JSON.stringify(state));
  }

  private state(
    role: RecordedState['role'],
    historyId: string | null,
    previous: PreviousHistory | null,
    extra: Pick<RecordedState, 'clean' | 'revision'>,
  ): RecordedState {
    return { role, nodeId: this.nodeId, historyId, previous, ...extra };
  }
}

function parseState(text: string | undefined): RecordedState | undefined {
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as RecordedState;
    return typeof state?.nodeId === 'string' ? state : undefined;
  } catch {
    // An unreadable record is treated as none: the worst case is a full copy.
    return undefined;
  }
}
