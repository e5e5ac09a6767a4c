import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { setImmediate } from 'node:timers/promises';
import { CLOCK, Clock } from '../clock/clock';
import { ChangeStream } from '../changes/change-stream';
import { ChangeSubscription } from '../changes/change-subscription';
import { CommitUnit } from '../changes/commit-units';
import { AppConfig } from '../config/app-config';
import { ENTRY_OVERHEAD_BYTES } from '../storage/data-size';
import {
  DataUsage,
  ScanPosition,
  ScanRequest,
  STORAGE_REPOSITORY,
  StorageHealth,
  StorageRepository,
  StoredEntry,
  TxnOpResult,
  WriteCommand,
  WriteGuard,
} from '../storage/storage.repository';
import { GlobPattern, InvalidPatternError } from './glob-pattern';
import {
  InvalidArgumentError,
  InvalidKeyError,
  KeyNotFoundError,
  KeyTooLongError,
  PreconditionFailedError,
  RevisionNotAppliedError,
} from './kv.errors';
import { RevisionWaiters } from './revision-waiters';
import { decodeCursor, encodeCursor } from './scan-cursor';
import { buildTransaction, TxnInput } from './transaction-input';

/** A key as clients see it: the value is canonical JSON text, times are epoch milliseconds. */
export type KeyRecord = StoredEntry;

/** What a conditional write requires (HTTP's If-Match / If-None-Match, in domain terms). */
export type WriteCondition =
  | { readonly require: 'exists' }
  | { readonly require: 'absent' }
  | { readonly require: 'modRevision'; readonly modRevision: number };

export interface PutOptions {
  /** Seconds until the key expires; without it (and without keepTtl) any expiry is removed. */
  readonly ttlSeconds?: number;
  /** Keeps the key's current expiry (Redis KEEPTTL). */
  readonly keepTtl?: boolean;
  readonly condition?: WriteCondition;
}

export interface ReadReceipt {
  readonly record: KeyRecord;
  /** The store revision the read saw: watching from the next one misses no later change. */
  readonly revision: number;
}

export interface WriteReceipt {
  /** The key after the write; null after a delete. */
  readonly record: KeyRecord | null;
  /** The store revision after the write. */
  readonly revision: number;
}

export interface TxnReceipt {
  /** Whether every compare held, so that the success branch ran. */
  readonly succeeded: boolean;
  /** The store revision after the transaction (the revision its reads saw, if it wrote nothing). */
  readonly revision: number;
  /** One result per op of the branch that ran, in order; entries are KeyRecords. */
  readonly results: readonly TxnOpResult[];
}

export interface WatchQuery {
  /** Only keys matching this glob (the syntax of listing patterns). */
  readonly pattern?: string;
  /** The first revision wanted, inclusive; without it, the next change. */
  readonly fromRevision?: number;
}

export interface ListQuery {
  readonly pattern?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** The unpaged listing's keys, slice by slice. */
export interface KeyListingSlices extends AsyncIterable<string[]> {
  /**
   * Without a pattern, at most how many characters the keys take in the listing's body, JSON
   * escapes aside (`"key",` each): known before any key is looked at. Undefined with a pattern,
   * whose matches are only known once they are looked for.
   */
  readonly keyCharsBound: number | undefined;
}

export interface KeyListing {
  /** Live keys (or matches of the pattern); absent on a page of a pattern listing. */
  readonly totalKeys?: number;
  readonly keys: string[];
  /** Present when the listing was paged: the cursor of the next page, or null at the end. */
  readonly nextCursor?: string | null;
}

export interface KvStats {
  readonly totalKeys: number;
  readonly storedKeys: number;
  readonly keysWithExpiry: number;
  readonly expiredTotal: number;
}

export interface DataLimitState extends DataUsage {
  /** Less room is left than the largest write takes: writes that add data may answer 507. */
  readonly full: boolean;
}

export const MAX_PAGE_SIZE = 10_000;

/**
 * The work of one page of `GET /keys?limit=N`, as Redis SCAN's COUNT: it examines at most
 * max(N x SCAN_KEYS_PER_RESULT, SCAN_MIN_KEYS) keys, matching or not, and hands patterns at
 * most PAGE_MATCH_STEPS / searchCost key characters; then it ends, with fewer matches (even
 * none) and a cursor. The unpaged listing runs in slices of the same kind, SLICE_KEYS keys each.
 */
export const SCAN_KEYS_PER_RESULT = 10;
export const SCAN_MIN_KEYS = 1000;
export const PAGE_MATCH_STEPS = 2_000_000;
export const SLICE_KEYS = 1000;

/**
 * The costliest pattern accepted, in matcher steps per key character (GlobPattern.searchCost):
 * matching one key then costs at most 32 x its length, for listings and for every watcher on
 * every write alike.
 */
export const MAX_PATTERN_SEARCH_COST = 32;
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 60 * 60;
/** What a revision to watch from must be (0 is accepted, and means the first, 1). */
export const REVISION_RULE = 'a revision: an integer from 0';

/**
 * A key is any Unicode text, as in Redis and etcd (binary-safe there) and the classic store,
 * except U+0000, which too many tools take for the end of a string. Whatever prints a key
 * escapes it: JSON bodies, SSE data lines and log lines are JSON, and no header carries one.
 * A lone surrogate is not text at all: it cannot come through a URL (keys are UTF-8 there),
 * but a JSON body can spell one (`"\ud800"`).
 */
const NUL = '\u0000';
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

@Injectable()
export class KvService {
  private readonly maxKeyBytes: number;
  private readonly largestEntryBytes: number;
  private readonly maxTxnOps: number;
  private readonly readWaitMs: number;
  private readonly revisionWaiters: RevisionWaiters;

  constructor(
    @Inject(STORAGE_REPOSITORY) private readonly storage: StorageRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    config: ConfigService<AppConfig, true>,
    private readonly changes: ChangeStream,
  ) {
    this.maxKeyBytes = config.get('maxKeyBytes', { infer: true });
    this.largestEntryBytes =
      ENTRY_OVERHEAD_BYTES + this.maxKeyBytes + config.get('maxValueBytes', { infer: true });
    this.maxTxnOps = config.get('maxTxnOps', { infer: true });
    this.readWaitMs = config.get('replicaReadWaitMs', { infer: true });
    this.revisionWaiters = new RevisionWaiters(() => storage.currentRevision());
    // Every write path publishes what it committed (on a follower, what it applied).
    changes.onPublished(() => this.revisionWaiters.wake());
  }

  /**
   * Read your writes: resolves once this node has applied `minRevision` (a write's
   * X-Kv-Revision), so that a read after it sees that write or a later state. Waits at most
   * REPLICA_READ_WAIT_MS, then throws RevisionNotAppliedError with the revision it has.
   * Depends only on the storage's applied revision, so it holds on a follower as on a leader.
   */
  async awaitRevision(minRevision: number): Promise<void> {
    if (!(Number.isSafeInteger(minRevision) && minRevision >= 0)) {
      throw new InvalidArgumentError(`minRevision must be ${REVISION_RULE}`);
    }
    if (await this.revisionWaiters.waitFor(minRevision, this.readWaitMs)) return;
    throw new RevisionNotAppliedError(minRevision, this.storage.currentRevision(), this.readWaitMs);
  }

  async get(key: string): Promise<ReadReceipt> {
    this.checkKey(key);
    // Read before the entry, so it is never newer than what the read saw. The repositories
    // answer get() synchronously, so it is exactly the revision of the read.
    const revision = this.storage.currentRevision();
    const entry = await this.storage.get(key);
    if (entry === undefined) throw new KeyNotFoundError(key);
    return { record: entry, revision };
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<WriteReceipt> {
    this.checkKey(key);
    if (options.ttlSeconds !== undefined && options.keepTtl) {
      throw new InvalidArgumentError('ttl and keepTtl cannot be used together');
    }
    const expiresAt =
      options.ttlSeconds !== undefined
        ? this.expiryFor(options.ttlSeconds)
        : options.keepTtl
          ? 'keep'
          : null;
    return this.commit({ op: 'put', key, value, expiresAt }, options.condition);
  }

  async delete(key: string, condition?: WriteCondition): Promise<WriteReceipt> {
    this.checkKey(key);
    return this.commit({ op: 'delete', key }, condition);
  }

  /** Sets (seconds) or removes (null) a key's expiry without resending its value. */
  async setTtl(
    key: string,
    ttlSeconds: number | null,
    condition?: WriteCondition,
  ): Promise<WriteReceipt> {
    this.checkKey(key);
    const expiresAt = ttlSeconds === null ? null : this.expiryFor(ttlSeconds);
    return this.commit({ op: 'ttl', key, expiresAt }, condition);
  }

  /**
   * Runs a transaction: compares, then the success or the failure ops, atomically with every
   * other write, committed as one unit. Refused whole, before anything runs, with an
   * InvalidTransactionError naming the entry and field, by the rules of the single-key routes.
   */
  async transaction(input: TxnInput): Promise<TxnReceipt> {
    const transaction = buildTransaction(input, {
      maxOps: this.maxTxnOps,
      checkKey: (key) => this.checkKey(key),
      expiresAt: (ttlSeconds) => this.expiryFor(ttlSeconds),
    });
    const outcome = await this.storage.transact(transaction);
    // As for single writes: published once committed; marked as one unit for watchers.
    this.changes.publish(outcome.changes, { unit: true });
    return { succeeded: outcome.succeeded, revision: outcome.revision, results: outcome.results };
  }

  /** Remaining seconds (millisecond precision) of a key's expiry, or null if it has none. */
  remainingTtl(record: KeyRecord): number | null {
    if (record.expiresAt === null) return null;
    return Math.max(0, record.expiresAt - this.clock.now()) / 1000;
  }

  async listKeys(query: ListQuery): Promise<KeyListing> {
    if (query.limit === undefined) {
      if (query.cursor !== undefined) {
        throw new InvalidArgumentError('cursor needs limit: pass the limit of the first page');
      }
      const keys: string[] = [];
      for await (const slice of this.listAllKeys(query.pattern)) keys.push(...slice);
      return { totalKeys: keys.length, keys };
    }
    const pattern = query.pattern === undefined ? undefined : compilePattern(query.pattern);
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_PAGE_SIZE) {
      throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    const from =
      query.cursor === undefined
        ? undefined
        : decodeCursor(query.cursor, this.storage.currentRevision());
    const page = await this.storage.scan({
      from,
      limit: query.limit,
      ...scanWork(pattern, Math.max(query.limit * SCAN_KEYS_PER_RESULT, SCAN_MIN_KEYS)),
    });
    const nextCursor = page.next === null ? null : encodeCursor(page.next);
    if (pattern !== undefined) return { keys: page.keys, nextCursor };
    const { liveKeys } = await this.storage.stats();
    return { totalKeys: liveKeys, keys: page.keys, nextCursor };
  }

  /**
   * Every live key (or every match), in insertion order, as slices of bounded work with a turn
   * of the event loop between them, so that other requests are served while a big listing is
   * assembled. The listing is that of a cursor iteration: every key present throughout appears
   * once, keys created after it began do not. Errors (a malformed pattern) come with the first
   * slice. Without a pattern, the bound on its keys' bytes is known before the first slice.
   */
  listAllKeys(pattern?: string): KeyListingSlices {
    const sizes = pattern === undefined ? this.storage.storedKeySizes() : undefined;
    return {
      // `"key",` per key: its UTF-8 bytes (at least its UTF-16 length), quotes and comma.
      keyCharsBound: sizes && sizes.bytes + 3 * sizes.count,
      [Symbol.asyncIterator]: () => this.listingSlices(pattern),
    };
  }

  private async *listingSlices(pattern?: string): AsyncGenerator<string[]> {
    const compiled = pattern === undefined ? undefined : compilePattern(pattern);
    const work = scanWork(compiled, SLICE_KEYS);
    let from: ScanPosition | undefined;
    for (;;) {
      const page = await this.storage.scan({ from, limit: Number.MAX_SAFE_INTEGER, ...work });
      yield page.keys;
      if (page.next === null) return;
      from = page.next;
      await setImmediate();
    }
  }

  /** Removes up to `limit` expired keys through the storage's write path; returns how many. */
  async expireDue(limit: number): Promise<number> {
    const changes = await this.storage.expireDue(limit);
    this.changes.publish(changes);
    return changes.length;
  }

  /**
   * Subscribes to the changes of matching keys. Throws RevisionCompactedError when the history
   * no longer holds `fromRevision`.
   */
  watch(query: WatchQuery): ChangeSubscription {
    const { fromRevision } = query;
    if (fromRevision !== undefined && !(Number.isSafeInteger(fromRevision) && fromRevision >= 0)) {
      throw new InvalidArgumentError(`fromRevision must be ${REVISION_RULE}`);
    }
    const pattern = query.pattern === undefined ? undefined : compilePattern(query.pattern);
    const match = pattern === undefined ? undefined : (key: string) => pattern.matches(key);
    // A watch never starts in the middle of a transaction: it gets all of it, or none.
    const unit = fromRevision === undefined ? undefined : this.changes.unitOf(fromRevision);
    return this.changes.subscribe({ fromRevision: unit?.firstRevision ?? fromRevision, match });
  }

  /** The transaction a watched revision belongs to, if it does: watchers deliver it whole. */
  commitUnitOf(revision: number): CommitUnit | undefined {
    return this.changes.unitOf(revision);
  }

  /** Whether the store can take writes now. */
  storageHealth(): StorageHealth {
    return this.storage.health();
  }

  /** How much of MAX_DATA_BYTES the data takes; O(1). */
  dataUsage(): DataLimitState {
    const usage = this.storage.dataUsage();
    return { ...usage, full: usage.maxBytes - usage.usedBytes < this.largestEntryBytes };
  }

  /** Bytes the watch history holds (WATCH_HISTORY_BYTES bounds them). */
  watchHistoryBytes(): number {
    return this.changes.historyBytes;
  }

  async stats(): Promise<KvStats> {
    const stats = await this.storage.stats();
    return {
      totalKeys: stats.liveKeys,
      storedKeys: stats.storedKeys,
      keysWithExpiry: stats.keysWithExpiry,
      expiredTotal: stats.expiredTotal,
    };
  }

  private async commit(command: WriteCommand, condition?: WriteCondition): Promise<WriteReceipt> {
    const outcome = await this.storage.write(command, condition as WriteGuard | undefined);
    if (!outcome.ok) {
      // Without a condition the only way to fail is a missing key (delete, ttl change).
      if (condition === undefined) throw new KeyNotFoundError(command.key);
      throw new PreconditionFailedError(command.key, outcome.current?.modRevision ?? null);
    }
    // Published only once storage has committed the write (durable under its fsync policy):
    // a watcher never sees the change of a write that failed.
    this.changes.publish(outcome.changes);
    return { record: outcome.entry, revision: outcome.revision };
  }

  private expiryFor(ttlSeconds: number): number {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0.001 || ttlSeconds > MAX_TTL_SECONDS) {
      throw new InvalidArgumentError(
        `ttl must be a number of seconds from 0.001 to ${MAX_TTL_SECONDS} (10 years)`,
      );
    }
    return this.clock.now() + Math.round(ttlSeconds * 1000);
  }

  private checkKey(key: string): void {
    if (key.length === 0) throw new InvalidKeyError('Key must not be empty');
    if (Buffer.byteLength(key) > this.maxKeyBytes) throw new KeyTooLongError(this.maxKeyBytes);
    if (key.includes(NUL)) throw new InvalidKeyError('Key must not contain U+0000 (NUL)');
    if (LONE_SURROGATE.test(key)) {
      throw new InvalidKeyError('Key must be Unicode text: it has a lone surrogate');
    }
  }
}

/** Compiles a pattern for listing or watching, refusing one whose matching cost is unbounded. */
function compilePattern(pattern: string): GlobPattern {
  let glob: GlobPattern;
  try {
    glob = GlobPattern.compile(pattern);
  } catch (error) {
    if (error instanceof InvalidPatternError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  if (glob.searchCost > MAX_PATTERN_SEARCH_COST) {
    throw new InvalidArgumentError(
      `Pattern too costly to match: a run after '*' counts ${glob.searchCost} (1 per ` +
        `character or '?', a class its members; at most ${MAX_PATTERN_SEARCH_COST} when the ` +
        `pattern has '?' or a class); shorten the run or split it with '*'`,
    );
  }
  return glob;
}

/** The match and the work bounds of one scan; see SCAN_KEYS_PER_RESULT. */
function scanWork(
  pattern: GlobPattern | undefined,
  maxExamined: number,
): Pick<ScanRequest, 'match' | 'maxExamined' | 'maxMatchedChars'> {
  if (pattern === undefined) return { maxExamined };
  return {
    match: (key) => pattern.matches(key),
    maxExamined,
    maxMatchedChars: Math.floor(PAGE_MATCH_STEPS / pattern.searchCost),
  };
}
