import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app-config';
import { StorageModule } from '../storage/storage.module';
import { STORAGE_REPOSITORY, StorageRepository } from '../storage/storage.repository';
import { ChangeStream } from './change-stream';

/** The change feed, starting at the revision the opened store recovered. */
@Module({
  imports: [StorageModule],
  providers: [
    {
      provide: ChangeStream,
      inject: [ConfigService, STORAGE_REPOSITORY],
      useFactory: (config: ConfigService<AppConfig, true>, storage: StorageRepository) =>
        new ChangeStream({
          historySize: config.get('watchHistory', { infer: true }),
          historyBytes: config.get('watchHistoryBytes', { infer: true }),
          maxQueued: config.get('watchQueue', { infer: true }),
          maxQueuedBytes: config.get('watchQueueBytes', { infer: true }),
          startRevision: storage.currentRevision(),
        }),
    },
  ],
  exports: [ChangeStream],
})
export class ChangesModule {}
