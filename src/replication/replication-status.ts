import { StorageRepository, StoreSnapshot } from '../storage/storage.repository';
import { DiscardedRevisions } from './discarded-revisions';
import { ReplicationFollower } from './replication-follower.service';
import { ReplicationIdentity } from './replication-identity';
import { ReplicationLeader } from './replication-leader.service';

export type ReplicationRole = 'leader' | 'follower';

/** Told of every role change, and awaited before the change is complete (the expiry sweep). */
export type RoleListener = (role: ReplicationRole) => Promise<void> | void;

/**
 * The node's current role, for everything that depends on it (the write routes, the expiry
 * sweep, readiness, /replication, the metrics): exactly one of `leader` (this node leads) and
 * `follower` (it follows) is set. The role changes at run time (ReplicationRoles), so it is
 * read when needed, never kept.
 */
export class ReplicationStatus {
  private node: ReplicationLeader | ReplicationFollower;
  private readonly listeners: RoleListener[] = [];

  constructor(
    private readonly storage: StorageRepository,
    readonly identity: ReplicationIdentity,
    readonly discarded: DiscardedRevisions,
    initial: ReplicationLeader | ReplicationFollower,
  ) {
    this.node = initial;
  }

  get role(): ReplicationRole {
    return this.node instanceof ReplicationLeader ? 'leader' : 'follower';
  }

  get leader(): ReplicationLeader | undefined {
    return this.node instanceof ReplicationLeader ? this.node : undefined;
  }

  get follower(): ReplicationFollower | undefined {
    return this.node instanceof ReplicationFollower ? this.node : undefined;
  }

  onRoleChange(listener: RoleListener): void {
    this.listeners.push(listener);
  }

  /** Takes the new role at once (writes are accepted or refused by it from now), then tells the listeners. */
  async become(node: ReplicationLeader | ReplicationFollower): Promise<void> {
    this.node = node;
    for (const listener of this.listeners) await listener(this.role);
  }

  /** The body of GET /replication (docs/REPLICATION.md lists the fields). */
  describe(): Record<string, unknown> {
    const common = {
      historyId: this.identity.historyId,
      epoch: this.identity.epoch,
      revision: this.storage.currentRevision(),
      nodeId: this.identity.nodeId,
      discardedRevisions: this.discarded.total,
      ...(this.discarded.lastFile !== null && { discardedFile: this.discarded.lastFile }),
    };
    const { follower, leader } = this;
    if (follower) {
      return {
        role: 'follower',
        ...common,
        state: follower.state,
        leader: {
          url: follower.leaderUrl,
          connected: follower.connected,
          revision: follower.leaderRevision,
          lagRevisions: follower.lagRevisions,
          lagSeconds: follower.lagSeconds,
        },
        fullResyncs: follower.fullResyncs,
        partialResyncs: follower.partialResyncs,
        bytesReceived: follower.bytesReceived,
        ...(follower.refusal !== undefined && { refusal: follower.refusal }),
        ...(follower.lastError !== undefined && { lastError: follower.lastError }),
      };
    }
    const revision = common.revision;
    return {
      role: 'leader',
      ...common,
      previous: this.identity.previous,
      followers: leader!.followers.map((record) => ({
        id: record.id,
        connected: record.connected,
        appliedRevision: record.appliedRevision,
        lagRevisions: Math.max(0, revision - record.appliedRevision),
      })),
      ...leader!.counters,
    };
  }

  /** The node's data now, for GET /replication/snapshot. */
  snapshot(): StoreSnapshot {
    return this.storage.snapshot();
  }

  /** Why a follower is not ready for reads; undefined on a ready follower and on a leader. */
  notReadyReason(): string | undefined {
    return this.follower?.notReadyReason();
  }
}
