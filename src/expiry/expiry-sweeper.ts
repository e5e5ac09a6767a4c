import { Logger } from '@nestjs/common';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { KvService } from '../kv/kv.service';

/** Keys removed per slice: small enough that one slice takes well under a millisecond. */
export const SWEEP_BATCH = 256;
/** Longest a sweep keeps the event loop before it yields to waiting requests. */
export const SWEEP_SLICE_MS = 4;

/**
 * Physically removes expired keys. Work is proportional to the keys that expired (the storage
 * keeps them in an expiry index) and is cut into slices that yield between them, so a million
 * keys expiring at once delay concurrent requests by one slice at most.
 */
export class ExpirySweeper {
  private readonly logger = new Logger(ExpirySweeper.name);
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly kv: KvService,
    private readonly sliceMs = SWEEP_SLICE_MS,
  ) {}

  /** Runs one sweep to completion; a sweep already under way is joined, never doubled. */
  sweep(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    this.running ??= this.sweepAll().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Lets a sweep under way end after its current slice; no sweep starts afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async sweepAll(): Promise<number> {
    let removed = 0;
    while (!this.stopped) {
      const sliceStart = performance.now();
      let batch: number;
      do {
        batch = await this.kv.expireDue(SWEEP_BATCH);
        removed += batch;
      } while (batch === SWEEP_BATCH && performance.now() - sliceStart < this.sliceMs);
      if (batch < SWEEP_BATCH) break;
      await yieldToEventLoop();
    }
    if (removed > 0) this.logger.debug(`Swept ${removed} expired keys`);
    return removed;
  }
}
