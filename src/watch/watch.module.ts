import { Module } from '@nestjs/common';
import { KvModule } from '../kv/kv.module';
import { WATCH_HEARTBEAT_MS, WatchController } from './watch.controller';

@Module({
  imports: [KvModule],
  controllers: [WatchController],
  providers: [{ provide: WATCH_HEARTBEAT_MS, useValue: 15_000 }],
})
export class WatchModule {}
