import { Module } from '@nestjs/common';
import { KvModule } from '../kv/kv.module';
import { TxnController } from './txn.controller';

@Module({
  imports: [KvModule],
  controllers: [TxnController],
})
export class TxnModule {}
