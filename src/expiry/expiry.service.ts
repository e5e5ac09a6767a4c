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
import { ReplicationStatus } from '../replication/replication-status';
import { ExpirySweeper } from './expiry-sweeper';

const SWEEP_JOB = 'expiry-sweep';

/**
 * Schedules the sweep every SWEEP_INTERVAL_MS through @nestjs/schedule, while the node leads:
 * a follower never expires keys itself (it hides them and waits for the leader's expiry), so
 * the sweep starts on promotion and stops, its run under way finished, when the node follows.
 */
@Injectable()
export class ExpiryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ExpiryService.name);
  private readonly intervalMs: number;
  /** Set while the sweep is scheduled; a stopped sweeper never sweeps again. */
  private sweeper: ExpirySweeper | undefined;

  constructor(
    private readonly kv: KvService,
    private readonly scheduler: SchedulerRegistry,
    private readonly replication: ReplicationStatus,
    config: ConfigService<AppConfig, true>,
  ) {
    this.intervalMs = config.get('sweepIntervalMs', { infer: true });
  }

  onApplicationBootstrap(): void {
    this.replication.onRoleChange((role) => (role === 'leader' ? this.start() : this.stop()));
    if (this.replication.role === 'leader') this.start();
  }

  /** Stops before storage closes, letting a sweep under way finish its current slice. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Sweeps now, on a leader; for tests and operators. */
  sweepNow(): Promise<number> {
    return this.sweeper?.sweep() ?? Promise.resolve(0);
  }

  private start(): void {
    if (this.sweeper) return;
    const sweeper = new ExpirySweeper(this.kv);
    this.sweeper = sweeper;
    const timer = setInterval(() => {
      sweeper.sweep().catch((error: unknown) => {
        // A failed sweep (storage unavailable) leaves the keys hidden; the next tick retries.
        this.logger.warn(`Expiry sweep failed: ${error instanceof Error ? error.message : error}`);
      });
    }, this.intervalMs);
    this.scheduler.addInterval(SWEEP_JOB, timer);
  }

  private async stop(): Promise<void> {
    const sweeper = this.sweeper;
    if (sweeper === undefined) return;
    this.sweeper = undefined;
    this.scheduler.deleteInterval(SWEEP_JOB);
    await sweeper.stop();
  }
}
