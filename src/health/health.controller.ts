import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { KvService } from '../kv/kv.service';

/** Liveness and readiness for orchestrators; open even when AUTH_TOKEN is set. */
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly kv: KvService,
  ) {}

  /** The process answers: restart it if this fails. */
  @Get()
  @HealthCheck()
  liveness(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** The store can take writes: route traffic elsewhere if this fails. */
  @Get('ready')
  @HealthCheck()
  readiness(): Promise<HealthCheckResult> {
    return this.health.check([
      () => {
        const storage = this.indicators.check('storage');
        const state = this.kv.storageHealth();
        return state.writable ? storage.up() : storage.down({ reason: state.reason });
      },
    ]);
  }
}
