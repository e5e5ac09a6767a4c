import { getBody } from '../keys/key-responses';
import { KeyRecord, TxnReceipt } from '../kv/kv.service';
import { TxnOpDto } from './dto/txn-request.dto';

/**
 * The answer of POST /txn, assembled as text like the keys routes' bodies: stored values are
 * canonical JSON already. `ops` is the branch that ran, for what each op asked to see.
 */
export function txnBody(
  receipt: TxnReceipt,
  ops: readonly TxnOpDto[],
  remainingTtl: (record: KeyRecord) => number | null,
): string {
  const results = receipt.results.map((result, i) => {
    switch (result.op) {
      case 'put': {
        const { key, modRevision, version, expiresAt } = result.entry;
        const expiry =
          expiresAt === null
            ? ''
            : `,"ttl":${remainingTtl(result.entry)},"expiresAt":"${new Date(expiresAt).toISOString()}"`;
        return `{"key":${JSON.stringify(key)},"modRevision":${modRevision},"version":${version}${expiry}}`;
      }
      case 'delete':
        return `{"key":${JSON.stringify(result.key)},"deleted":${result.deleted}}`;
      case 'get':
        return result.entry === null
          ? `{"key":${JSON.stringify(result.key)},"found":false}`
          : getBody(result.entry, remainingTtl(result.entry), ops[i].meta === true);
    }
  });
  return `{"succeeded":${receipt.succeeded},"revision":${receipt.revision},"results":[${results.join(',')}]}`;
}
