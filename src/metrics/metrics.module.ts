import { Module } from '@nestjs/common';
import { KvModule } from '../kv/kv.module';
import { StorageModule } from '../storage/storage.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  imports: [KvModule, StorageModule],
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
