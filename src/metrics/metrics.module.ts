import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { KvModule } from '../kv/kv.module';
import { StorageModule } from '../storage/storage.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { RequestMetricsInterceptor } from './request-metrics.interceptor';

@Module({
  imports: [KvModule, StorageModule],
  controllers: [MetricsController],
  providers: [MetricsService, { provide: APP_INTERCEPTOR, useClass: RequestMetricsInterceptor }],
  exports: [MetricsService],
})
export class MetricsModule {}
