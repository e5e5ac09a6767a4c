import { KvService, KvStats } from '../kv/kv.service';
import { StorageTelemetry } from '../storage/storage-telemetry';
import { MetricsService } from './metrics.service';

describe('MetricsService', () => {
  const figures: KvStats = { totalKeys: 3, storedKeys: 5, keysWithExpiry: 2, expiredTotal: 7 };
  let stats: jest.Mock<Promise<KvStats>, []>;
  let metrics: MetricsService;

  beforeEach(() => {
    stats = jest.fn(() => Promise.resolve(figures));
    const kv = {
      stats,
      dataUsage: () => ({ usedBytes: 1234, maxBytes: 4096 }),
      watchHistoryBytes: () => 567,
    };
    metrics = new MetricsService(kv as unknown as KvService, new StorageTelemetry());
  });

  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('asks the store for its figures once per scrape, whatever the number of gauges', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^kv_keys 5$/m);
    expect(text).toMatch(/^kv_live_keys 3$/m);
    expect(text).toMatch(/^kv_expired_keys_total 7$/m);
    expect(stats).toHaveBeenCalledTimes(1);
  });

  it('reports the data against its limit and the bytes the watch history holds', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^kv_data_bytes 1234$/m);
    expect(text).toMatch(/^kv_data_max_bytes 4096$/m);
    expect(text).toMatch(/^kv_watch_history_bytes 567$/m);
  });

  it('asks again on the next scrape: figures are never stale', async () => {
    await metrics.registry.metrics();
    await nextTurn();
    stats.mockResolvedValue({ ...figures, storedKeys: 9 });
    expect(await metrics.registry.metrics()).toMatch(/^kv_keys 9$/m);
    expect(stats).toHaveBeenCalledTimes(2);
  });

  it('counts requests and their latency under one series per method, route and status', async () => {
    const observe = metrics.observerFor('GET', '/key/{key}');
    observe(200, 0.0004);
    observe(200, 0.002);
    observe(404, 0.0001);
    metrics.observerFor('PUT', '/key/{key}')(200, 0.003);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\/key\/\{key\}",status="200"\} 2$/m,
    );
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\/key\/\{key\}",status="404"\} 1$/m,
    );
    expect(text).toMatch(
      /^http_requests_total\{method="PUT",route="\/key\/\{key\}",status="200"\} 1$/m,
    );
    expect(text).toMatch(
      /^http_request_duration_seconds_bucket\{le="0\.0005",method="GET",route="\/key\/\{key\}",status="200"\} 1$/m,
    );
    expect(text).toMatch(
      /^http_request_duration_seconds_bucket\{le="0\.0025",method="GET",route="\/key\/\{key\}",status="200"\} 2$/m,
    );
  });
});
