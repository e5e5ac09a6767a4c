import { StorageRepository, StoreSnapshot } from '../storage/storage.repository';
import { ReplicationFollower } from './replication-follower.service';
import { ReplicationIdentity } from './replication-identity';
import { ReplicationLeader } from './replication-leader.service';

/**
 * What GET /replication, the readiness probe and the metrics report, for either role: exactly
 * one of `leader` (this node leads) and `follower` (it follows) is set.
 */
export class ReplicationStatus {
  constructor(
    private readonly storage: StorageRepository,
    readonly identity: ReplicationIdentity,
    readonly leader: ReplicationLeader | undefined,
    readonly follower: ReplicationFollower | undefined,
  ) {}

  /** The body of GET /replication (docs/REPLICATION.md lists the fields). */
  describe(): Record<string, unknown> {
    const common = {
      historyId: this.identity.historyId,
      revision: this.storage.currentRevision(),
      nodeId: this.identity.nodeId,
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
