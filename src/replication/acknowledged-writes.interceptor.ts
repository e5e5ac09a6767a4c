import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { mergeMap, Observable } from 'rxjs';
import { AppConfig } from '../config/app-config';
import { InvalidArgumentError } from '../kv/kv.errors';
import { NotEnoughReplicasError } from './not-enough-replicas.error';
import { ReplicaAckTimeoutError } from './replica-ack-timeout.error';
import { ReplicationLeader } from './replication-leader.service';
import { ReplicationStatus } from './replication-status';

export const REPLICAS_HEADER = 'x-kv-replicas';
export const REPLICAS_ACKED_HEADER = 'X-Kv-Replicas-Acked';

interface WriteRequest {
  headers: Record<string, string | string[] | undefined>;
}

/** Express's Response and Fastify's reply both read back and set headers this way. */
interface WriteAnswer {
  getHeader(name: string): unknown;
  header(name: string, value: string): unknown;
}

/**
 * Around the four write routes only (PUT/DELETE /key, PUT /ttl, POST /txn, through
 * `@ReplicatedWrite()`): reads never pay for an interceptor. It acts while the node leads,
 * whatever its role was at start; on a follower the read-only guard has already refused the
 * write. Before the handler: MIN_REPLICAS refuses the write while too few followers are in
 * reach, and a bad X-Kv-Replicas is refused, so nothing is committed in either case. After it:
 * the answer waits until the asked number of followers acknowledged the write's revision
 * (X-Kv-Revision, which every write route sets), or answers 503 after REPLICA_ACK_TIMEOUT_MS
 * with the write committed.
 */
@Injectable()
export class AcknowledgedWritesInterceptor implements NestInterceptor {
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

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const leader = this.replication.leader;
    if (leader === undefined) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<WriteRequest>();
    if (this.minReplicas > 0) {
      const inReach = leader.followersInReach(this.maxLagS * 1000);
      if (inReach < this.minReplicas) {
        throw new NotEnoughReplicasError(inReach, this.minReplicas, this.maxLagS);
      }
    }
    const wanted = this.wanted(leader, request.headers[REPLICAS_HEADER]);
    if (wanted === 0) return next.handle();
    const answer = http.getResponse<WriteAnswer>();
    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        const revision = Number(answer.getHeader('X-Kv-Revision'));
        const outcome = await leader.acks.wait(revision, wanted, this.timeoutMs);
        answer.header(REPLICAS_ACKED_HEADER, String(outcome.acked));
        if (!outcome.met) throw new ReplicaAckTimeoutError(revision, outcome.acked, wanted);
        return body;
      }),
    );
  }

  /**
   * X-Kv-Replicas, when sent, replaces WRITE_REPLICAS for this write, either way (as
   * PostgreSQL's synchronous_commit per transaction), capped at the followers this leader
   * knows: a client cannot ask for followers that never connected. WRITE_REPLICAS itself is
   * not capped: an operator's requirement that the followers cannot meet answers 503.
   */
  private wanted(leader: ReplicationLeader, header: string | string[] | undefined): number {
    if (header === undefined) return this.writeReplicas;
    if (typeof header !== 'string' || !/^\d{1,3}$/.test(header.trim())) {
      throw new InvalidArgumentError('X-Kv-Replicas must be an integer from 0 to 100');
    }
    const asked = Number(header.trim());
    if (asked > 100)
      throw new InvalidArgumentError('X-Kv-Replicas must be an integer from 0 to 100');
    return Math.min(asked, leader.followers.length);
  }
}
