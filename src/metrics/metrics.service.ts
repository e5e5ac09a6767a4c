import { Injectable, Optional } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KvService, KvStats } from '../kv/kv.service';
import { registerReplicationMetrics } from '../replication/replication-metrics';
import { ReplicationStatus } from '../replication/replication-status';
import { RouteObserver } from '../http/response-observer';
import { StorageTelemetry } from '../storage/storage-telemetry';

/** HTTP latency buckets in seconds: a key-value request is expected in well under 10 ms. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RequestSeries {
  readonly labels: Record<'method' | 'route' | 'status', string>;
  count: number;
  readonly latency: Histogram.Internal<string>;
}

/**
 * One registry per application (not prom-client's global one), so tests can run several
 * applications in one process. Store figures are read when Prometheus scrapes, not kept
 * up to date on the hot path.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly latency: Histogram<string>;
  private readonly series: RequestSeries[] = [];
  private readonly observers = new Map<string, RouteObserver>();
  private scrapeStats: Promise<KvStats> | undefined;

  constructor(
    private readonly kv: KvService,
    storage: StorageTelemetry,
    @Optional() replication?: ReplicationStatus,
  ) {
    collectDefaultMetrics({ register: this.registry });
    const stats = () => this.statsForScrape();
    const labelNames = ['method', 'route', 'status'];
    const series = this.series;
    new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames,
      registers: [this.registry],
      // Counted in a plain number per series on the hot path; prom-client's inc() would hash
      // the labels of every request.
      collect() {
        this.reset();
        for (const { labels, count } of series) this.inc(labels, count);
      },
    });
    this.latency = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the arrival of a request to the last byte of its answer',
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    new Gauge({
      name: 'kv_keys',
      help: 'Keys physically stored, including expired ones not swept yet',
      registers: [this.registry],
      async collect() {
        this.set((await stats()).storedKeys);
      },
    });
    new Gauge({
      name: 'kv_live_keys',
      help: 'Keys that are live now',
      registers: [this.registry],
      async collect() {
        this.set((await stats()).totalKeys);
      },
    });
    new Counter({
      name: 'kv_expired_keys_total',
      help: 'Keys removed by expiry since the process started',
      registers: [this.registry],
      async collect() {
        // The store keeps the running total; the counter mirrors it at scrape time.
        this.reset();
        this.inc((await stats()).expiredTotal);
      },
    });
    this.registerStorageMetrics(storage);
    if (replication) registerReplicationMetrics(this.registry, replication);
    this.registerMemoryMetrics();
  }

  /** What the byte limits bound (MAX_DATA_BYTES, WATCH_HISTORY_BYTES); O(1) to read. */
  private registerMemoryMetrics(): void {
    const kv = this.kv;
    new Gauge({
      name: 'kv_data_bytes',
      help: 'Bytes of keys, values and per-key overhead counted against MAX_DATA_BYTES',
      registers: [this.registry],
      collect() {
        this.set(kv.dataUsage().usedBytes);
      },
    });
    new Gauge({
      name: 'kv_data_max_bytes',
      help: 'MAX_DATA_BYTES: writes that would take kv_data_bytes beyond it answer 507',
      registers: [this.registry],
      collect() {
        this.set(kv.dataUsage().maxBytes);
      },
    });
    new Gauge({
      name: 'kv_watch_history_bytes',
      help: 'Bytes of changes held for /watch replay, bounded by WATCH_HISTORY_BYTES',
      registers: [this.registry],
      collect() {
        this.set(kv.watchHistoryBytes());
      },
    });
  }

  /**
   * The store's figures, computed once per scrape rather than once per gauge: counting live keys
   * visits every key that expired and is not swept yet, a million just after a mass expiry.
   * Every gauge of one scrape asks in the same turn of the event loop.
   */
  private statsForScrape(): Promise<KvStats> {
    if (this.scrapeStats === undefined) {
      this.scrapeStats = this.kv.stats();
      setImmediate(() => (this.scrapeStats = undefined));
    }
    return this.scrapeStats;
  }

  /** Durable-storage figures; a volatile store reports no log and no fsyncs. */
  private registerStorageMetrics(storage: StorageTelemetry): void {
    new Gauge({
      name: 'kv_log_bytes',
      help: 'Bytes in the append-only log since the last snapshot (0 without durable storage)',
      registers: [this.registry],
      collect() {
        this.set(storage.logBytes() ?? 0);
      },
    });
    const fsync = new Histogram({
      name: 'kv_fsync_duration_seconds',
      help: 'Duration of each fsync of the log',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [this.registry],
    });
    storage.onFsync((seconds) => fsync.observe(seconds));
  }

  /**
   * The observer of one method and route template, made once per route by the HTTP platform:
   * per request it finds its series by the status alone (a small number-keyed map), where one
   * shared observer would build and hash a `method route status` key for every request.
   */
  observerFor(method: string, route: string): RouteObserver {
    // Fastify registers `/key` and `/key/*` for one template: they share the observer.
    const name = `${method} ${route}`;
    let observer = this.observers.get(name);
    if (observer === undefined)
      this.observers.set(name, (observer = this.newObserver(method, route)));
    return observer;
  }

  private newObserver(method: string, route: string): RouteObserver {
    const byStatus = new Map<number, RequestSeries>();
    return (status, seconds) => {
      let series = byStatus.get(status);
      if (series === undefined) {
        const labels = { method, route, status: String(status) };
        // Label lookups hash their values; bind each series once instead of on every request.
        series = { labels, count: 0, latency: this.latency.labels(labels) };
        byStatus.set(status, series);
        this.series.push(series);
      }
      series.count++;
      series.latency.observe(seconds);
    };
  }
}
