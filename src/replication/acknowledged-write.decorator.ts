import { UseInterceptors } from '@nestjs/common';
import { AcknowledgedWritesInterceptor } from './acknowledged-writes.interceptor';

/**
 * Marks a write route (PUT/DELETE /key, PUT /ttl, POST /txn): MIN_REPLICAS, WRITE_REPLICAS and
 * X-Kv-Replicas apply to it. Route by route rather than a global interceptor, because an
 * interceptor costs more than the store on small requests (BENCHMARKS.md) and reads need none.
 */
export const AcknowledgedWrite = () => UseInterceptors(AcknowledgedWritesInterceptor);
