import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { KvService } from '../kv/kv.service';
import { ExpirySweeper } from './expiry-sweeper';

const SWEEP_JOB = 'expiry-sweep';

/** Schedules the sweep every SWEEP_INTERVAL_MS through @nestjs/schedule. */
@Injectable()
export class ExpiryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ExpiryService.name);
  private readonly sweeper: ExpirySweeper;
  private readonly intervalMs: number;
  /** A follower never expires keys itself: it hides them and waits for the leader's expiry. */
  private readonly follower: boolean;

  constructor(
    kv: KvService,
    private readonly scheduler: SchedulerRegistry,
    config: ConfigService<AppConfig, true>,
  ) {
    this.sweeper = new ExpirySweeper(kv);
    this.intervalMs = config.get('sweepIntervalMs', { infer: true });
    this.follower = config.get('replicaOf', { infer: true }) !== null;
  }

  onApplicationBootstrap(): void {
    if (this.follower) return;
    const timer = setInterval(() => {
      this.sweeper.sweep().catch((error: unknown) => {
        // A failed sweep (storage unavailable) leaves the keys hidden; the next tick retries.
        this.logger.warn(`Expiry sweep failed: ${error instanceof Error ? error.message : error}`);
      });
    }, this.intervalMs);
    this.scheduler.addInterval(SWEEP_JOB, timer);
  }

  /** Stops before storage closes, letting a sweep under way finish its current slice. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.follower) return;
    this.scheduler.deleteInterval(SWEEP_JOB);
    await this.sweeper.stop();
  }

  /** Sweeps now; for tests and operators. */
  sweepNow(): Promise<number> {
    return this.sweeper.sweep();
  }
}
