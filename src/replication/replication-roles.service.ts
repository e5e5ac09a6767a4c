import { Logger } from '@nestjs/common';
import { ChangeStream } from '../changes/change-stream';
import { StorageRepository } from '../storage/storage.repository';
import { DiscardedRevisions } from './discarded-revisions';
import { FollowRefusedError } from './follow-refused.error';
import { PromotionRefusedError } from './promotion-refused.error';
import { FollowerOptions, ReplicationFollower } from './replication-follower.service';
import { ReplicationIdentity } from './replication-identity';
import { ReplicationLeader } from './replication-leader.service';
import { ReplicationStatus } from './replication-status';

/** How long POST /replication/follow waits to learn whether it names this node. */
const FOLLOW_CHECK_TIMEOUT_MS = 2000;

export interface RoleSettings {
  /** ADVERTISE_URL, which a leader sends its followers. */
  readonly advertiseUrl: string | null;
  /** REPLICATION_BUFFER_BYTES. */
  readonly bufferBytes: number;
  /** How every follower this node becomes connects; the leader's URL comes with the role. */
  readonly follower: Omit<FollowerOptions, 'leaderUrl'>;
}

/**
 * Changes the node's role at run time (docs/REPLICATION.md, "Failover"): promotion makes a
 * follower the leader of a new history (POST /replication/promote), and any node follows a
 * leader named at run time (POST /replication/follow) as it does one named by REPLICA_OF at
 * start. One change at a time: a second waits for the first to complete.
 */
export class ReplicationRoles {
  private readonly logger = new Logger('Replication');
  readonly status: ReplicationStatus;
  private changing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly storage: StorageRepository,
    private readonly changes: ChangeStream,
    private readonly identity: ReplicationIdentity,
    private readonly discarded: DiscardedRevisions,
    private readonly settings: RoleSettings,
    replicaOf: string | null,
  ) {
    const initial = replicaOf === null ? this.newLeader() : this.newFollower(replicaOf);
    this.status = new ReplicationStatus(storage, identity, discarded, initial);
  }

  start(): void {
    this.status.follower?.start();
  }

  /**
   * The follower stops following and leads a new history, one epoch up, that continues the
   * one it followed at the revision it had applied (ReplicationIdentity.promote); the expiry
   * sweep starts. A node that already leads stays as it is.
   */
  promote(): Promise<void> {
    return this.oneAtATime(async () => {
      const follower = this.status.follower;
      if (follower === undefined) return;
      if (this.identity.historyId === null) throw new PromotionRefusedError();
      await follower.stop();
      await this.identity.promote();
      await this.status.become(this.newLeader());
      const previous = this.identity.previous!;
      this.logger.log(
        `Promoted to leader: history ${this.identity.historyId} (epoch ${this.identity.epoch}) ` +
          `continues ${previous.historyId} from revision ${previous.revision}`,
      );
    });
  }

  /**
   * Follows `leaderUrl` from now on. A leader first stops taking writes and sweeping expired
   * keys (the sweep under way finishes), then ends the streams it serves; the new follower
   * then resumes, resyncs, or fences this node's own writes (DiscardedRevisions). Following
   * the leader already followed changes nothing.
   */
  follow(leaderUrl: string): Promise<void> {
    return this.oneAtATime(async () => {
      const current = this.status.follower;
      if (current?.followsUrl === leaderUrl) return;
      if (await this.isThisNode(leaderUrl)) throw new FollowRefusedError(leaderUrl);
      await current?.stop();
      const leader = this.status.leader;
      const follower = this.newFollower(leaderUrl);
      await this.status.become(follower);
      leader?.close();
      follower.start();
      this.logger.log(
        `Following the leader at ${leaderUrl} from revision ${this.storage.currentRevision()}` +
          (leader ? ' (this node led until now)' : ''),
      );
    });
  }

  /** At shutdown: a follower stops following; a leader records a clean stop (it keeps its history). */
  async stop(): Promise<void> {
    await this.changing.catch(() => undefined);
    await this.status.follower?.stop();
    if (this.status.leader) await this.identity.leaveCleanly();
  }

  private oneAtATime(change: () => Promise<void>): Promise<void> {
    const next = this.changing.catch(() => undefined).then(change);
    this.changing = next;
    return next;
  }

  /**
   * Whether `url` reaches this very node, by the node id its GET /replication reports, so
   * that no spelling of its own address (localhost, 127.0.0.1, a DNS name) gets through. A
   * node that does not answer now is not this one (it is not serving): it may be followed,
   * as REPLICA_OF may name a leader that is down, and the follower connects once it is up.
   */
  private async isThisNode(url: string): Promise<boolean> {
    const { token } = this.settings.follower;
    try {
      const response = await fetch(new URL('/replication', `${url}/`), {
        headers: token === null ? {} : { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(FOLLOW_CHECK_TIMEOUT_MS),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return false;
      }
      const status = (await response.json()) as { nodeId?: unknown };
      return status.nodeId === this.identity.nodeId;
    } catch {
      return false;
    }
  }

  private newLeader(): ReplicationLeader {
    const { advertiseUrl, bufferBytes } = this.settings;
    return new ReplicationLeader(
      this.storage,
      this.changes,
      this.identity,
      advertiseUrl,
      bufferBytes,
    );
  }

  private newFollower(leaderUrl: string): ReplicationFollower {
    return new ReplicationFollower(this.storage, this.changes, this.identity, this.discarded, {
      ...this.settings.follower,
      leaderUrl,
    });
  }
}
