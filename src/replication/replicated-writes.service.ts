import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app-config';
import { InvalidArgumentError } from '../kv/kv.errors';
import { NotEnoughReplicasError } from './not-enough-replicas.error';
import { ReadOnlyFollowerError } from './read-only-follower.error';
import { ReplicaAckTimeoutError } from './replica-ack-timeout.error';
import { ReplicationLeader } from './replication-leader.service';
import { ReplicationStatus } from './replication-status';

export const REPLICAS_HEADER = 'x-kv-replicas';
export const REPLICAS_ACKED_HEADER = 'X-Kv-Replicas-Acked';
const MAX_REPLICAS_ASKED = 100;

/** What a write route reads of its request, the same on Express and Fastify. */
export interface WriteRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  /** Express keeps the path as it arrived here; Fastify's `url` is the raw one. */
  readonly originalUrl?: string;
  readonly url: string;
}

/** Express's Response and Fastify's reply both set a header this way. */
export interface WriteAnswer {
  header(name: string, value: string): unknown;
}

/** What an admitted write still owes its client once it is committed. */
export interface AdmittedWrite {
  /**
   * Settles once the asked followers acknowledged `revision` (X-Kv-Replicas-Acked set on the
   * answer), or rejects with ReplicaAckTimeoutError, the write staying committed; undefined
   * when no acknowledgement is asked for, so that such a write awaits nothing.
   */
  acknowledged(revision: number, answer: WriteAnswer): Promise<void> | undefined;
}

const NOTHING_TO_WAIT_FOR: AdmittedWrite = Object.freeze({ acknowledged: () => undefined });

/**
 * The replication side of the four write routes (PUT/DELETE /key, PUT /ttl, POST /txn): each
 * calls `admit` before it writes and awaits `acknowledged` after. While the node follows, a
 * write is refused with the leader's address (answered 307 with the same path and query, which
 * keeps the method and the body). While it leads, MIN_REPLICAS refuses it while too few
 * followers are in reach and a bad X-Kv-Replicas is refused, nothing committed in either case;
 * once committed, the answer waits for the asked number of followers (WRITE_REPLICAS or
 * X-Kv-Replicas) up to REPLICA_ACK_TIMEOUT_MS. The role is read at each request, since it
 * changes at run time. Called from the handlers rather than run as a Nest guard and
 * interceptor, whose per-request machinery cost a PUT more than the store does (BENCHMARKS.md).
 */
@Injectable()
export class ReplicatedWrites {
  private readonly writeReplicas: number;
  private readonly timeoutMs: number;
  private readonly minReplicas: number;
  private readonly maxLagS: number;

  constructor(
    private readonly replication: ReplicationStatus,
    settings: ConfigService<AppConfig, true>,
  ) {
    this.writeReplicas = settings.get('writeReplicas', { infer: true });
    this.timeoutMs = settings.get('replicaAckTimeoutMs', { infer: true });
    this.minReplicas = settings.get('minReplicas', { infer: true });
    this.maxLagS = settings.get('minReplicasMaxLagS', { infer: true });
  }

  /** Throws ReadOnlyFollowerError, NotEnoughReplicasError or InvalidArgumentError to refuse. */
  admit(request: WriteRequest): AdmittedWrite {
    const follower = this.replication.follower;
    if (follower !== undefined) {
      const leaderUrl = follower.leaderUrl;
      throw new ReadOnlyFollowerError(leaderUrl, leaderUrl + (request.originalUrl ?? request.url));
    }
    const leader = this.replication.leader!;
    if (this.minReplicas > 0) {
      const inReach = leader.followersInReach(this.maxLagS * 1000);
      if (inReach < this.minReplicas) {
        throw new NotEnoughReplicasError(inReach, this.minReplicas, this.maxLagS);
      }
    }
    const wanted = this.wanted(leader, request.headers[REPLICAS_HEADER]);
    if (wanted === 0) return NOTHING_TO_WAIT_FOR;
    return { acknowledged: (revision, answer) => this.awaitAcks(leader, revision, wanted, answer) };
  }

  private async awaitAcks(
    leader: ReplicationLeader,
    revision: number,
    wanted: number,
    answer: WriteAnswer,
  ): Promise<void> {
    const outcome = await leader.acks.wait(revision, wanted, this.timeoutMs);
    answer.header(REPLICAS_ACKED_HEADER, String(outcome.acked));
    if (!outcome.met) throw new ReplicaAckTimeoutError(revision, outcome.acked, wanted);
  }

  /**
   * X-Kv-Replicas, when sent, replaces WRITE_REPLICAS for this write, either way (as
   * PostgreSQL's synchronous_commit per transaction), capped at the followers this leader
   * knows: a client cannot ask for followers that never connected. WRITE_REPLICAS itself is
   * not capped: an operator's requirement that the followers cannot meet answers 503.
   */
  private wanted(leader: ReplicationLeader, header: string | string[] | undefined): number {
    if (header === undefined) return this.writeReplicas;
    const asked =
      typeof header === 'string' && /^\s*\d{1,3}\s*$/.test(header) ? Number(header) : NaN;
    if (!(asked <= MAX_REPLICAS_ASKED)) {
      throw new InvalidArgumentError(
        `X-Kv-Replicas must be an integer from 0 to ${MAX_REPLICAS_ASKED}`,
      );
    }
    return Math.min(asked, leader.followers.length);
  }
}
