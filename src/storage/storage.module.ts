import { Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { CLOCK, Clock } from '../clock/clock';
import { AppConfig } from '../config/app-config';
import { FileStorageRepository } from './file/file-storage.repository';
import { MemoryStorageRepository } from './memory-storage.repository';
import { StorageTelemetry } from './storage-telemetry';
import { STORAGE_REPOSITORY, StorageRepository } from './storage.repository';

function createRepository(
  config: ConfigService<AppConfig, true>,
  clock: Clock,
  telemetry: StorageTelemetry,
): StorageRepository {
  switch (config.get('storage', { infer: true })) {
    case 'memory':
      return new MemoryStorageRepository(clock, {
        maxDataBytes: config.get('maxDataBytes', { infer: true }),
      });
    case 'file': {
      const repository = new FileStorageRepository(
        {
          dataDir: config.get('dataDir', { infer: true }),
          fsync: config.get('fsync', { infer: true }),
          compactMinBytes: config.get('compactMinBytes', { infer: true }),
          compactRatio: config.get('compactRatio', { infer: true }),
          truncateCorrupt: config.get('recoverTruncate', { infer: true }),
          maxDataBytes: config.get('maxDataBytes', { infer: true }),
          onFsync: (seconds) => telemetry.recordFsync(seconds),
        },
        clock,
      );
      telemetry.reportLogBytes(() => repository.logBytes());
      return repository;
    }
  }
}

/** Binds STORAGE_REPOSITORY to the implementation STORAGE names, opened before use. */
@Module({
  providers: [
    StorageTelemetry,
    {
      provide: STORAGE_REPOSITORY,
      inject: [ConfigService, CLOCK, StorageTelemetry],
      useFactory: async (
        config: ConfigService<AppConfig, true>,
        clock: Clock,
        telemetry: StorageTelemetry,
      ) => {
        const repository = createRepository(config, clock, telemetry);
        await repository.open();
        return repository;
      },
    },
  ],
  exports: [STORAGE_REPOSITORY, StorageTelemetry],
})
export class StorageModule implements OnApplicationShutdown {
  private readonly logger = new Logger(StorageModule.name);

  constructor(@Inject(STORAGE_REPOSITORY) private readonly storage: StorageRepository) {}

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close();
    this.logger.log('Storage closed');
  }
}
