import { applyDecorators, UseGuards, UseInterceptors } from '@nestjs/common';
import { AcknowledgedWritesInterceptor } from './acknowledged-writes.interceptor';
import { ReadOnlyFollowerGuard } from './read-only-follower.guard';

/**
 * Marks a write route (PUT/DELETE /key, PUT /ttl, POST /txn): on a follower it answers 307 to
 * the leader; on a leader MIN_REPLICAS, WRITE_REPLICAS and X-Kv-Replicas apply. Both read the
 * node's role at each request, since it changes at run time. Route by route rather than global,
 * because a guard and an interceptor cost more than the store on small requests
 * (BENCHMARKS.md) and reads need neither.
 */
export const ReplicatedWrite = () =>
  applyDecorators(UseGuards(ReadOnlyFollowerGuard), UseInterceptors(AcknowledgedWritesInterceptor));
