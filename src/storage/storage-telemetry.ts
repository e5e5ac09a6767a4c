import { Injectable } from '@nestjs/common';

/**
 * Figures a repository reports about its own workings (fsync latency, log size), for the
 * metrics module. Repositories push to it; nothing here knows about Prometheus.
 */
@Injectable()
export class StorageTelemetry {
  private readonly fsyncListeners: Array<(seconds: number) => void> = [];
  private logBytesSource: () => number | undefined = () => undefined;

  onFsync(listener: (seconds: number) => void): void {
    this.fsyncListeners.push(listener);
  }

  recordFsync(seconds: number): void {
    for (const listener of this.fsyncListeners) listener(seconds);
  }

  /** Bytes in the durable log, or undefined for a store without one. */
  logBytes(): number | undefined {
    return this.logBytesSource();
  }

  reportLogBytes(source: () => number): void {
    this.logBytesSource = source;
  }
}
