import { Module } from '@nestjs/common';
import { ChangesModule } from '../changes/changes.module';
import { StorageModule } from '../storage/storage.module';
import { KvService } from './kv.service';

@Module({
  imports: [StorageModule, ChangesModule],
  providers: [KvService],
  exports: [KvService],
})
export class KvModule {}
