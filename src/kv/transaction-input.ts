import { Transaction, TxnCompare, TxnOp } from '../storage/storage.repository';
import { InvalidArgumentError, KvError } from './kv.errors';

/** One compare of POST /txn: a key and exactly one of the targets. Values are canonical JSON. */
export interface TxnCompareInput {
  readonly key: string;
  readonly modRevision?: number;
  readonly createRevision?: number;
  readonly version?: number;
  readonly exists?: boolean;
  readonly value?: string;
}

export type TxnOpInput =
  | {
      readonly op: 'put';
      readonly key: string;
      /** Canonical JSON text. */
      readonly value: string;
      readonly ttlSeconds?: number;
      readonly keepTtl?: boolean;
    }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'get'; readonly key: string };

export interface TxnInput {
  readonly compare?: readonly TxnCompareInput[];
  readonly success?: readonly TxnOpInput[];
  readonly failure?: readonly TxnOpInput[];
}

/** The single-key rules a transaction applies to each of its entries. */
export interface TxnRules {
  readonly maxOps: number;
  /** Throws a KvError for a key the store refuses. */
  checkKey(key: string): void;
  /** The absolute expiry of a ttl; throws a KvError for a ttl out of range. */
  expiresAt(ttlSeconds: number): number;
}

/** A transaction refused before anything ran; the message names the entry and the field. */
export class InvalidTransactionError extends InvalidArgumentError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

const TARGETS = ['modRevision', 'createRevision', 'version', 'exists', 'value'] as const;

/** Checks a transaction with the rules of the single-key routes and turns it into storage terms. */
export function buildTransaction(input: TxnInput, rules: TxnRules): Transaction {
  return {
    compare: (input.compare ?? []).map((compare, i) =>
      buildCompare(compare, `compare[${i}]`, rules),
    ),
    success: buildBranch(input.success ?? [], 'success', rules),
    failure: buildBranch(input.failure ?? [], 'failure', rules),
  };
}

function buildCompare(compare: TxnCompareInput, path: string, rules: TxnRules): TxnCompare {
  checkKey(compare.key, `${path}.key`, rules);
  const given = TARGETS.filter((target) => compare[target] !== undefined);
  if (given.length !== 1) {
    throw new InvalidTransactionError(
      path,
      `a compare needs exactly one of ${TARGETS.join(', ')} (got ${given.length === 0 ? 'none' : given.join(', ')})`,
    );
  }
  const [target] = given;
  const { key } = compare;
  switch (target) {
    case 'exists':
      if (typeof compare.exists !== 'boolean') {
        throw new InvalidTransactionError(`${path}.exists`, 'must be true or false');
      }
      return { key, target, equals: compare.exists };
    case 'value':
      return { key, target, equals: compare.value! };
    default: {
      const equals = compare[target]!;
      if (!Number.isSafeInteger(equals) || equals < 0) {
        throw new InvalidTransactionError(`${path}.${target}`, 'must be an integer from 0');
      }
      return { key, target, equals };
    }
  }
}

function buildBranch(ops: readonly TxnOpInput[], branch: string, rules: TxnRules): TxnOp[] {
  if (ops.length > rules.maxOps) {
    throw new InvalidTransactionError(
      branch,
      `a branch holds at most ${rules.maxOps} ops (MAX_TXN_OPS), got ${ops.length}`,
    );
  }
  const written = new Map<string, number>();
  return ops.map((op, i) => {
    const path = `${branch}[${i}]`;
    checkKey(op.key, `${path}.key`, rules);
    if (op.op === 'get') return { op: 'get', key: op.key };
    const earlier = written.get(op.key);
    if (earlier !== undefined) {
      throw new InvalidTransactionError(
        `${path}.key`,
        `the key is already written by ${branch}[${earlier}]; a branch writes a key at most once`,
      );
    }
    written.set(op.key, i);
    if (op.op === 'delete') return { op: 'delete', key: op.key };
    if (op.ttlSeconds !== undefined && op.keepTtl) {
      throw new InvalidTransactionError(`${path}.ttl`, 'ttl and keepTtl cannot be used together');
    }
    let expiresAt: number | null | 'keep' = op.keepTtl ? 'keep' : null;
    if (op.ttlSeconds !== undefined) {
      try {
        expiresAt = rules.expiresAt(op.ttlSeconds);
      } catch (error) {
        throw withPath(error, `${path}.ttl`);
      }
    }
    return { op: 'put', key: op.key, value: op.value, expiresAt };
  });
}

function checkKey(key: string, path: string, rules: TxnRules): void {
  try {
    rules.checkKey(key);
  } catch (error) {
    throw withPath(error, path);
  }
}

/** A single-key rule's error, as a 400 naming the entry (a long key is not a 414 here). */
function withPath(error: unknown, path: string): unknown {
  return error instanceof KvError ? new InvalidTransactionError(path, error.message) : error;
}
