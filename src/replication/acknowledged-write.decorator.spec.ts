import { INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import { KeysController } from '../keys/keys.controller';
import { TxnController } from '../txn/txn.controller';
import { AcknowledgedWritesInterceptor } from './acknowledged-writes.interceptor';

const interceptorsOf = (handler: object): unknown[] =>
  (Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[] | undefined) ?? [];

describe('@AcknowledgedWrite', () => {
  const keys = KeysController.prototype;

  it('wraps the four write routes in the acknowledgement wait', () => {
    for (const handler of [
      keys.put,
      keys.delete,
      keys.setTtl,
      TxnController.prototype.transaction,
    ]) {
      expect(interceptorsOf(handler)).toEqual([AcknowledgedWritesInterceptor]);
    }
  });

  it('leaves every read route and the controllers themselves without an interceptor', () => {
    for (const handler of [keys.get, keys.list, keys.getTtl, keys.stats]) {
      expect(interceptorsOf(handler)).toEqual([]);
    }
    expect(interceptorsOf(KeysController)).toEqual([]);
    expect(interceptorsOf(TxnController)).toEqual([]);
  });
});
