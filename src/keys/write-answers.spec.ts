import { KvService } from '../kv/kv.service';
import { createKvService } from '../kv/testing/create-kv-service';
import { ReplicatedWrites } from '../replication/replicated-writes.service';
import { TxnRequestDto } from '../txn/dto/txn-request.dto';
import { TxnController } from '../txn/txn.controller';
import { KeysController } from './keys.controller';

/** Writes whose followers take 400 ms to acknowledge, on the fake clock. */
function slowAcknowledgements(advance: (ms: number) => void): ReplicatedWrites {
  const write = { acknowledged: async () => advance(400) };
  return { admit: () => write } as unknown as ReplicatedWrites;
}

const answer = { header: () => undefined, status: () => undefined };
const request = { headers: {}, url: '/' };

describe('write answers under acknowledged writes', () => {
  let kv: KvService;
  let writes: ReplicatedWrites;

  beforeEach(async () => {
    const created = createKvService();
    kv = created.kv;
    writes = slowAcknowledgements((ms) => created.clock.advance(ms));
    await kv.put('k', '1', { ttlSeconds: 10 });
  });

  it('give the remaining ttl as of the write, not after the wait for the followers', async () => {
    const keys = new KeysController(kv, writes);
    const ttl = await keys.setTtl(request, 'k', { ttl: 10 }, {}, answer, {});
    expect(ttl.ttl).toBe(10);
    const kept = await keys.put(request, 'k', Buffer.from('2'), {}, answer, { keepTtl: true });
    expect(JSON.parse(kept)).toMatchObject({ ttl: 9.6 });
  });

  it('give a transaction its results as of the transaction', async () => {
    const txn = new TxnController(kv, writes);
    const body = { success: [{ op: 'put', key: 'n', value: 1, ttl: 5 }] } as TxnRequestDto;
    const answered = JSON.parse(await txn.transaction(request, body, answer, {}));
    expect(answered.results[0]).toMatchObject({ ttl: 5 });
  });
});
