import { Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { CLOCK, Clock } from '../clock/clock';
import { AppConfig } from '../config/app-config';
import { MemoryStorageRepository } from './memory-storage.repository';
import { STORAGE_REPOSITORY, StorageRepository } from './storage.repository';

function createRepository(config: ConfigService<AppConfig, true>, clock: Clock): StorageRepository {
  switch (config.get('storage', { infer: true })) {
    case 'memory':
      return new MemoryStorageRepository(clock);
    case 'file':
      throw new Error('STORAGE=file is not available in this build');
  }
}

/** Binds STORAGE_REPOSITORY to the implementation STORAGE names, opened before use. */
@Module({
  providers: [
    {
      provide: STORAGE_REPOSITORY,
      inject: [ConfigService, CLOCK],
      useFactory: async (config: ConfigService<AppConfig, true>, clock: Clock) => {
        const repository = createRepository(config, clock);
        await repository.open();
        return repository;
      },
    },
  ],
  exports: [STORAGE_REPOSITORY],
})
export class StorageModule implements OnApplicationShutdown {
  private readonly logger = new Logger(StorageModule.name);

  constructor(@Inject(STORAGE_REPOSITORY) private readonly storage: StorageRepository) {}

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close();
    this.logger.log('Storage closed');
  }
}
