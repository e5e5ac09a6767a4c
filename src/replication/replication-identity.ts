import { randomUUID } from 'node:crypto';
import { StorageRepository } from '../storage/storage.repository';
import { LeaderHistory, PreviousHistory } from './replication-protocol';

/**
 * What a node records with its data (StorageRepository.replicationState), as JSON.
 * `clean` and `revision`: a leader that shut down cleanly at `revision`.
 */
interface RecordedState {
  readonly role: 'leader' | 'follower';
  readonly nodeId: string;
  readonly historyId: string | null;
  readonly previous: PreviousHistory | null;
  /** The histories before `previous`, newest first; absent in states recorded before them. */
  readonly ancestors?: readonly PreviousHistory[];
  /** Absent in states recorded before issue 16: 1 for a leader's, 0 for a follower's. */
  readonly epoch?: number;
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
 *
 * Histories are ordered by their **epoch**, as Raft orders terms: a promotion starts a history
 * one epoch above the one the node followed, a leader's own restart keeps its epoch, and a
 * follower takes the epoch of the history it continues. A follower never follows a history of
 * a lower epoch than its own (a deposed leader still running).
 */
export class ReplicationIdentity {
  readonly nodeId: string;
  private current: string | null;
  private before: PreviousHistory | null;
  private older: readonly PreviousHistory[];
  private generation: number;

  private constructor(
    private readonly storage: StorageRepository,
    recorded: RecordedState | undefined,
  ) {
    this.nodeId = recorded?.nodeId ?? randomUUID();
    this.current = recorded?.historyId ?? null;
    this.before = recorded?.previous ?? null;
    this.older = recorded?.ancestors ?? [];
    this.generation = recorded?.epoch ?? (recorded?.role === 'leader' ? 1 : 0);
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

  /** The histories before `previous`, newest first, at most MAX_ANCESTORS. */
  get ancestors(): readonly PreviousHistory[] {
    return this.older;
  }

  /** The epoch of the history the data belongs to; 0 before any. */
  get epoch(): number {
    return this.generation;
  }

  /** Takes the leader's role at start: keeps or starts the history (see the class), and records it. */
  async lead(): Promise<void> {
    const recorded = parseState(this.storage.replicationState());
    const revision = this.storage.currentRevision();
    const resumed =
      recorded?.role === 'leader' && recorded.clean === true && recorded.revision === revision;
    if (!resumed) {
      this.older = this.olderAfterSwitch();
      this.before = this.current === null ? null : { historyId: this.current, revision };
      this.current = randomUUID();
    }
    this.generation = Math.max(this.generation, 1);
    await this.record('leader', { clean: false });
  }

  /**
   * A follower becomes the leader (POST /replication/promote): a new history one epoch above
   * the one it followed, continuing it up to the revision the follower had applied, which is
   * the switch point other followers of the old leader may continue from.
   */
  async promote(): Promise<void> {
    const revision = this.storage.currentRevision();
    const before = this.current === null ? null : { historyId: this.current, revision };
    const older = this.olderAfterSwitch();
    const current = randomUUID();
    const generation = this.generation + 1;
    // Saved first: a promotion that cannot be recorded (a full disk) leaves the node as it
    // was, and a retry still continues the history it followed.
    const state = this.state('leader', current, before, older, generation, { clean: false });
    await this.storage.saveReplicationState(JSON.stringify(state));
    this.older = older;
    this.before = before;
    this.current = current;
    this.generation = generation;
  }

  /** Records a clean shutdown at the store's revision now: the next start keeps the history. */
  async leaveCleanly(): Promise<void> {
    await this.record('leader', { clean: true, revision: this.storage.currentRevision() });
  }

  /** The text a follower records with a full copy of the leader's data in `history`. */
  followerState(history: LeaderHistory): string {
    const { historyId, previous, ancestors, epoch } = history;
    return JSON.stringify(this.state('follower', historyId, previous, ancestors, epoch, {}));
  }

  /**
   * A follower's data now belongs to the leader's history (after a copy, or continuing into
   * it). Its ancestry is the leader's too: it tells where a later leader's history forked.
   */
  adopted(history: LeaderHistory): void {
    this.current = history.historyId;
    this.before = history.previous;
    this.older = history.ancestors;
    this.generation = history.epoch;
  }

  /** Records that the follower's data continues into the leader's history. */
  async follow(history: LeaderHistory): Promise<void> {
    this.adopted(history);
    await this.storage.saveReplicationState(this.followerState(history));
  }

  private async record(role: 'leader', extra: Pick<RecordedState, 'clean' | 'revision'>) {
    const state = this.state(role, this.current, this.before, this.older, this.generation, extra);
    await this.storage.saveReplicationState(JSON.stringify(state));
  }

  /** The ancestors once the current history becomes `previous`: its own previous joins them. */
  private olderAfterSwitch(): readonly PreviousHistory[] {
    if (this.before === null) return this.older;
    return [this.before, ...this.older].slice(0, MAX_ANCESTORS);
  }

  private state(
    role: RecordedState['role'],
    historyId: string | null,
    previous: PreviousHistory | null,
    ancestors: readonly PreviousHistory[],
    epoch: number,
    extra: Pick<RecordedState, 'clean' | 'revision'>,
  ): RecordedState {
    return { role, nodeId: this.nodeId, historyId, previous, ancestors, epoch, ...extra };
  }
}

/**
 * How many histories back a node remembers beyond `previous`: enough for a few failovers and
 * crashed restarts between a deposed leader's last write and its repointing, and a bounded
 * hello line. Past it, two nodes' data look unrelated, as without any record.
 */
const MAX_ANCESTORS = 16;

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
