import { Module } from '@nestjs/common';
import { KvModule } from '../kv/kv.module';
import { KeysController } from './keys.controller';

@Module({
  imports: [KvModule],
  controllers: [KeysController],
})
export class KeysModule {}
