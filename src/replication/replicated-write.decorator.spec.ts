import { GUARDS_METADATA, INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import { KeysController } from '../keys/keys.controller';
import { TxnController } from '../txn/txn.controller';
import { AcknowledgedWritesInterceptor } from './acknowledged-writes.interceptor';
import { ReadOnlyFollowerGuard } from './read-only-follower.guard';

const metadata = (key: string, target: object): unknown[] =>
  (Reflect.getMetadata(key, target) as unknown[] | undefined) ?? [];

describe('@ReplicatedWrite', () => {
  const keys = KeysController.prototype;

  it('puts the four write routes behind the role check and the acknowledgement wait', () => {
    for (const handler of [
      keys.put,
      keys.delete,
      keys.setTtl,
      TxnController.prototype.transaction,
    ]) {
      expect(metadata(GUARDS_METADATA, handler)).toEqual([ReadOnlyFollowerGuard]);
      expect(metadata(INTERCEPTORS_METADATA, handler)).toEqual([AcknowledgedWritesInterceptor]);
    }
  });

  it('leaves every read route and the controllers themselves without either', () => {
    for (const target of [
      keys.get,
      keys.list,
      keys.getTtl,
      keys.stats,
      KeysController,
      TxnController,
    ]) {
      expect(metadata(GUARDS_METADATA, target)).toEqual([]);
      expect(metadata(INTERCEPTORS_METADATA, target)).toEqual([]);
    }
  });
});
