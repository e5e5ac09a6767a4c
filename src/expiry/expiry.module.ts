import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { KvModule } from '../kv/kv.module';
import { ExpiryService } from './expiry.service';

@Module({
  imports: [ScheduleModule.forRoot(), KvModule],
  providers: [ExpiryService],
  exports: [ExpiryService],
})
export class ExpiryModule {}
