import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { KvService } from '../kv/kv.service';
import { ReplicationStatus } from '../replication/replication-status';

/** Liveness and readiness for orchestrators; open even when AUTH_TOKEN is set. */
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly kv: KvService,
    private readonly replication: ReplicationStatus,
  ) {}

  /** The process answers: restart it if this fails. */
  @Get()
  @HealthCheck()
  liveness(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /**
   * The store can take writes: route traffic elsewhere if this fails. A store at its data
   * limit stays ready, since it still serves reads and the deletes that make room (taking it
   * out of rotation would stop those too); the `data` detail says that growth is refused.
   */
  @Get('ready')
  @HealthCheck()
  readiness(): Promise<HealthCheckResult> {
    return this.health.check([
      // A follower serves reads once it holds the leader's data and keeps up with it.
      () => {
        const replication = this.indicators.check('replication');
        if (this.replication.follower === undefined) return replication.up({ role: 'leader' });
        const reason = this.replication.notReadyReason();
        return reason === undefined
          ? replication.up({ role: 'follower' })
          : replication.down({ role: 'follower', reason });
      },
      () => {
        const storage = this.indicators.check('storage');
        const state = this.kv.storageHealth();
        return state.writable ? storage.up() : storage.down({ reason: state.reason });
      },
      () => {
        const { usedBytes, maxBytes, full } = this.kv.dataUsage();
        return this.indicators.check('data').up({
          usedBytes,
          maxBytes,
          full,
          ...(full && { reason: FULL_STORE }),
        });
      },
    ]);
  }
}

const FULL_STORE =
  'MAX_DATA_BYTES is (nearly) reached: writes that add data may answer 507; reads, deletes ' +
  'and writes that shrink the data work';
