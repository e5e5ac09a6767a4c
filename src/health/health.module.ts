import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { KvModule } from '../kv/kv.module';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), KvModule],
  controllers: [HealthController],
})
export class HealthModule {}
