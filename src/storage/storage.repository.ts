/**
 * The storage port. KvService talks to this interface only; the StorageModule binds the
 * STORAGE_REPOSITORY token to one implementation chosen by configuration.
 *
 * Repositories hold values as canonical JSON text: they never parse or interpret them, and a
 * caller can never mutate a stored value by mistake.
 */
export const STORAGE_REPOSITORY = Symbol('STORAGE_REPOSITORY');

/** One live key as the store holds it. Times are absolute epoch milliseconds. */
export interface StoredEntry {
  readonly key: string;
  /** Canonical JSON text (the output of JSON.stringify). */
  readonly value: string;
  /** Absolute expiry in epoch milliseconds, or null when the key never expires. */
  readonly expiresAt: number | null;
  /** Store revision of the write that created this incarnation of the key. */
  readonly createRevision: number;
  /** Store revision of the last write to the key. */
  readonly modRevision: number;
  /** Writes to this incarnation since its creation, starting at 1. */
  readonly version: number;
  /** Bytes the key counts against the data limit (see data-size.ts). */
  readonly size: number;
}

/**
 * A committed change: the unit that the log persists, the change feed publishes and a replica
 * would apply. Applying the same changes in revision order always rebuilds the same store.
 */
export type Change =
  | {
      readonly op: 'put';
      readonly revision: number;
      readonly key: string;
      readonly value: string;
      readonly expiresAt: number | null;
      readonly createRevision: number;
      readonly version: number;
    }
  | { readonly op: 'delete'; readonly revision: number; readonly key: string }
  | { readonly op: 'expire'; readonly revision: number; readonly key: string }
  | {
      readonly op: 'ttl';
      readonly revision: number;
      readonly key: string;
      readonly expiresAt: number | null;
    };

/** What a write requires of the key's live state; checked atomically with the write itself. */
export type WriteGuard =
  | { readonly require: 'exists' }
  | { readonly require: 'absent' }
  | { readonly require: 'modRevision'; readonly modRevision: number };

export type WriteCommand =
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: string;
      /** Absolute expiry, null for none, or 'keep' to keep the current one (Redis KEEPTTL). */
      readonly expiresAt: number | null | 'keep';
    }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'ttl'; readonly key: string; readonly expiresAt: number | null };

export type WriteOutcome =
  | {
      readonly ok: true;
      /** Every change the write committed, in revision order (an expiry of a stale key may precede it). */
      readonly changes: readonly Change[];
      /** The key after the write; null after a delete. */
      readonly entry: StoredEntry | null;
      readonly revision: number;
    }
  | { readonly ok: false; readonly current: StoredEntry | null };

/**
 * A condition of a transaction on one key's live state. `modRevision`, `createRevision` and
 * `version` of 0 mean the key is absent; `value` is canonical JSON text.
 */
export type TxnCompare =
  | {
      readonly key: string;
      readonly target: 'modRevision' | 'createRevision' | 'version';
      readonly equals: number;
    }
  | { readonly key: string; readonly target: 'exists'; readonly equals: boolean }
  | { readonly key: string; readonly target: 'value'; readonly equals: string };

export type TxnOp =
  Extract<WriteCommand, { op: 'put' | 'delete' }> | { readonly op: 'get'; readonly key: string };

/** A transaction: if every compare holds, `success` runs, else `failure`; ops run in order. */
export interface Transaction {
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export type TxnOpResult =
  /** The key after the put. */
  | { readonly op: 'put'; readonly entry: StoredEntry }
  | { readonly op: 'delete'; readonly key: string; readonly deleted: boolean }
  /** The key as the transaction sees it at this op (after its earlier ops); null when absent. */
  | { readonly op: 'get'; readonly key: string; readonly entry: StoredEntry | null };

export interface TxnOutcome {
  /** Whether every compare held, so that `success` ran. */
  readonly succeeded: boolean;
  /** One result per op of the branch that ran, in order. */
  readonly results: readonly TxnOpResult[];
  /**
   * The changes committed, as one unit (see `applyChanges`): consecutive revisions, expiries
   * of stale keys the writes met included. Empty for a transaction that wrote nothing.
   */
  readonly changes: readonly Change[];
  /** The store revision after the transaction: its last change's, or the one its reads saw. */
  readonly revision: number;
}

/** Where an iteration stands: resumable across writes and, for durable stores, restarts. */
export interface ScanPosition {
  /** The store revision when the iteration began; keys created later are not visited. */
  readonly snapshotRevision: number;
  /** The createRevision of the last key visited. */
  readonly afterCreateRevision: number;
}

export interface ScanRequest {
  readonly from?: ScanPosition;
  /** Most keys to return. */
  readonly limit: number;
  readonly match?: (key: string) => boolean;
  /**
   * Most keys the page examines, matching or not (Redis SCAN's COUNT). Once reached, the page
   * ends with the keys found so far, possibly none, and a position to continue from.
   */
  readonly maxExamined?: number;
  /** Most key characters the page hands to `match`; reached, the page ends as for maxExamined. */
  readonly maxMatchedChars?: number;
}

export interface ScanPage {
  readonly keys: string[];
  /** Null when the iteration is complete. */
  readonly next: ScanPosition | null;
}

export interface StorageStats {
  /** Keys that are live now. */
  readonly liveKeys: number;
  /** Keys physically held, including expired ones the sweep has not removed yet. */
  readonly storedKeys: number;
  readonly keysWithExpiry: number;
  /** Keys removed by expiry since the process started. */
  readonly expiredTotal: number;
  readonly revision: number;
}

export interface StorageHealth {
  /** False while the store refuses writes (a failed fsync, an unwritable data directory). */
  readonly writable: boolean;
  readonly reason?: string;
}

export interface StoredKeySizes {
  readonly count: number;
  /** The sum of the keys' UTF-8 lengths. */
  readonly bytes: number;
}

/** How much of the data limit (MAX_DATA_BYTES) the stored keys take. */
export interface DataUsage {
  /** The sum of every stored entry's size, expired ones not swept yet included. */
  readonly usedBytes: number;
  readonly maxBytes: number;
}

/** A key as a full copy of a store carries it: a StoredEntry without its derived size. */
export type SnapshotEntry = Omit<StoredEntry, 'size'>;

/** The put that makes an entry what it is: how a copy is loaded, and a key's last state shown. */
export function putOf(entry: SnapshotEntry): Extract<Change, { op: 'put' }> {
  const { key, value, expiresAt, createRevision, modRevision, version } = entry;
  return { op: 'put', revision: modRevision, key, value, expiresAt, createRevision, version };
}

/**
 * The store as it was at one revision, for streaming it elsewhere (a replication snapshot).
 * Entries are immutable, so holding them costs one reference each, and later writes do not
 * change what it yields. Expired keys not swept yet are included: the expiry that removes them
 * is a change still to come.
 */
export interface StoreSnapshot {
  readonly revision: number;
  readonly keys: number;
  /**
   * The stored entries at `revision`, in insertion order, whatever is written meanwhile. Read
   * once, to the end or until the iteration is stopped (`break`, `return`, a throw), which
   * releases what the store keeps for it.
   */
  entries(): Iterable<StoredEntry>;
  /**
   * Releases a snapshot that will not be read to its end (a reader gone before it started):
   * until it is read or released, the store keeps, for it, every entry that writes replace.
   */
  release(): void;
}

/**
 * A full copy of another store being loaded beside this one's data (see `replaceAll`). Reads
 * keep answering from the old data until `commit`; no write may be made meanwhile.
 */
export interface StoreReplacement {
  /** Loads one entry of the copy, in the copy's insertion order. */
  add(entry: SnapshotEntry): Promise<void>;
  /**
   * Makes the copy the store's data, durably for a durable store, along with `state` (what
   * `replicationState` answers afterwards).
   */
  commit(state: string): Promise<void>;
  /** Drops what was loaded; the old data stays as it was. */
  abort(): Promise<void>;
}

export interface StorageRepository {
  /** Opens the store (recovering durable state); called once before any other method. */
  open(): Promise<void>;
  /** Flushes and releases everything; no other method is called afterwards. */
  close(): Promise<void>;

  /** The live entry, or undefined when the key is missing or expired. */
  get(key: string): Promise<StoredEntry | undefined>;

  /**
   * Commits a write if the guard holds. Resolves once the change is durable under the store's
   * policy. The guard check, the revision and the write happen atomically, in call order.
   */
  write(command: WriteCommand, guard?: WriteGuard): Promise<WriteOutcome>;

  /**
   * Runs a transaction: the compares, the choice of branch, its reads and its writes happen
   * atomically with respect to every other write, in call order. Its changes are committed as
   * one unit (all or none, also across a crash) and it resolves once they are durable under the
   * store's policy.
   */
  transact(transaction: Transaction): Promise<TxnOutcome>;

  /**
   * Commits changes made by another store (a replication leader's commit unit), as one unit,
   * the way recovery replays the log: no guard, no planning; the revisions must continue this
   * store's, consecutively, else it throws and changes nothing.
   */
  applyChanges(changes: readonly Change[]): Promise<void>;

  /** The store as it is now, synchronously: later writes do not change it. */
  snapshot(): StoreSnapshot;

  /**
   * Starts loading a full copy of another store, at `revision`, beside this one's data: what a
   * replication follower does when the leader's history no longer holds its position.
   */
  replaceAll(revision: number): Promise<StoreReplacement>;

  /**
   * What the replication module recorded with the data (an opaque text: history id, role), or
   * undefined if nothing was. A durable store keeps it across restarts.
   */
  replicationState(): string | undefined;

  /** Records `state` with the data (durably for a durable store) before resolving. */
  saveReplicationState(state: string): Promise<void>;

  /** Removes up to `limit` keys whose expiry has passed, each as an 'expire' change. */
  expireDue(limit: number): Promise<Change[]>;

  /** Live keys in insertion order (an update keeps a key's place; re-creation moves it last). */
  scan(request: ScanRequest): Promise<ScanPage>;

  /** Live keys, or those matching, in insertion order. */
  listKeys(match?: (key: string) => boolean): Promise<string[]>;

  stats(): Promise<StorageStats>;

  /** The revision of the last committed change (0 for an empty, new store). */
  currentRevision(): number;

  /** Whether the store can take writes now; the readiness probe reports it. */
  health(): StorageHealth;

  /** The data held against the data limit; O(1). */
  dataUsage(): DataUsage;
  /**
   * The stored keys and their UTF-8 bytes (expired ones not swept yet included), in O(1): a
   * bound on what listing every key sends, known before the listing is made.
   */
  storedKeySizes(): StoredKeySizes;
}

/**
 * Thrown by a repository that cannot accept a write now (disk full, I/O error, failed fsync).
 * The store is unchanged by the failed write and reads keep working.
 */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
}

/**
 * Thrown for a write that would take the data past its limit (MAX_DATA_BYTES). As with Redis's
 * maxmemory under its default noeviction policy and etcd's space quota, nothing is evicted: the
 * write changes nothing, and reads, deletes and writes that shrink the data keep working.
 */
export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';

  constructor(readonly maxBytes: number) {
    super(
      `Storage full: keys and values may take at most ${maxBytes} bytes (MAX_DATA_BYTES); ` +
        'delete keys or store smaller values',
    );
  }
}
