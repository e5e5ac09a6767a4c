import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ReadOnlyFollowerError } from './read-only-follower.error';
import { ReplicationStatus } from './replication-status';

/**
 * On the write routes (`@ReplicatedWrite()`): while the node follows, a write is refused before
 * its handler runs, so nothing is stored, and the client is sent to the leader with the same
 * path and query (307 keeps the method and the body). The role is read at each request.
 */
@Injectable()
export class ReadOnlyFollowerGuard implements CanActivate {
  constructor(private readonly replication: ReplicationStatus) {}

  canActivate(context: ExecutionContext): boolean {
    const follower = this.replication.follower;
    if (follower === undefined) return true;
    const request = context.switchToHttp().getRequest<{ originalUrl?: string; url: string }>();
    const leader = follower.leaderUrl;
    // Express keeps the path as it arrived in originalUrl; Fastify's url is the raw one.
    throw new ReadOnlyFollowerError(leader, leader + (request.originalUrl ?? request.url));
  }
}
