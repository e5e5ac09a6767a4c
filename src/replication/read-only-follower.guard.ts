import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ReadOnlyFollowerError } from './read-only-follower.error';
import { ReplicationController } from './replication.controller';
import { ReplicationFollower } from './replication-follower.service';

const WRITE_METHODS = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

/**
 * Installed on a follower only: every write route (PUT/DELETE /key, PUT /ttl, POST /txn) is
 * refused before its handler runs, so nothing is stored, and the client is sent to the leader
 * with the same path and query (307 keeps the method and the body).
 */
@Injectable()
export class ReadOnlyFollowerGuard implements CanActivate {
  constructor(private readonly follower: ReplicationFollower) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ method: string; originalUrl?: string; url: string }>();
    if (!WRITE_METHODS.has(request.method) || context.getClass() === ReplicationController) {
      return true;
    }
    const leader = this.follower.leaderUrl;
    // Express keeps the path as it arrived in originalUrl; Fastify's url is the raw one.
    throw new ReadOnlyFollowerError(leader, leader + (request.originalUrl ?? request.url));
  }
}
