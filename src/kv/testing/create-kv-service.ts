import { ConfigService } from '@nestjs/config';
import { ChangeStream } from '../../changes/change-stream';
import { FakeClock } from '../../clock/fake-clock';
import { AppConfig, parseConfig } from '../../config/app-config';
import { MemoryStorageRepository } from '../../storage/memory-storage.repository';
import { StorageRepository } from '../../storage/storage.repository';
import { KvService } from '../kv.service';

/** A KvService over the given repository (in-memory by default), a fake clock and a change feed. */
export function createKvService(
  options: { storage?: StorageRepository; clock?: FakeClock; env?: Record<string, string> } = {},
) {
  const clock = options.clock ?? new FakeClock();
  const storage = options.storage ?? new MemoryStorageRepository(clock);
  const appConfig = parseConfig(options.env ?? {});
  const changes = new ChangeStream({
    historySize: appConfig.watchHistory,
    historyBytes: appConfig.watchHistoryBytes,
    maxQueued: appConfig.watchQueue,
    maxQueuedBytes: appConfig.watchQueueBytes,
    startRevision: storage.currentRevision(),
  });
  const config = new ConfigService<AppConfig, true>(appConfig);
  return { kv: new KvService(storage, clock, config, changes), storage, clock, changes };
}
