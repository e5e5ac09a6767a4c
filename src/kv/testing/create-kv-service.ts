import { ConfigService } from '@nestjs/config';
import { FakeClock } from '../../clock/fake-clock';
import { AppConfig, parseConfig } from '../../config/app-config';
import { MemoryStorageRepository } from '../../storage/memory-storage.repository';
import { StorageRepository } from '../../storage/storage.repository';
import { KvService } from '../kv.service';

/** A KvService over the given repository (in-memory by default) and a fake clock. */
export function createKvService(
  options: { storage?: StorageRepository; clock?: FakeClock; env?: Record<string, string> } = {},
) {
  const clock = options.clock ?? new FakeClock();
  const storage = options.storage ?? new MemoryStorageRepository(clock);
  const config = new ConfigService<AppConfig, true>(parseConfig(options.env ?? {}));
  return { kv: new KvService(storage, clock, config), storage, clock };
}
