import { Module } from '@nestjs/common';
import { StorageModule } from '../storage/storage.module';
import { KvService } from './kv.service';

@Module({
  imports: [StorageModule],
  providers: [KvService],
  exports: [KvService],
})
export class KvModule {}
