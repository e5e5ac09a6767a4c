import { Clock } from '../clock/clock';
import { entrySize, entrySizeOfBytes } from './data-size';
import { ExpiryHeap, ExpiryMark } from './expiry-heap';
import { InsertionOrder } from './insertion-order';
import { SnapshotReader } from './snapshot-reader';
import {
  Change,
  DataUsage,
  ScanPage,
  ScanRequest,
  SnapshotEntry,
  StorageStats,
  StoreSnapshot,
  StorageFullError,
  StoredEntry,
  StoredKeySizes,
  Transaction,
  TxnCompare,
  TxnOpResult,
  TxnOutcome,
  WriteCommand,
  WriteGuard,
  putOf,
} from './storage.repository';

export type WritePlan =
  | { readonly ok: true; readonly changes: Change[] }
  | { readonly ok: false; readonly current: StoredEntry | null };

/**
 * The in-memory state machine every repository shares. Writes happen in two steps so that a
 * durable repository can log a change before memory sees it (write-ahead):
 * `planWrite` works out the changes without touching state, `apply` makes them real.
 * Log replay and, later, replication call `apply` with the same changes.
 *
 * It keeps the running total of its entries' sizes, so that `planWrite` can refuse a write
 * that would take the data past `maxDataBytes` in O(1). `apply` never refuses: replay rebuilds
 * a store that a lowered limit no longer fits, which then only refuses growth.
 */
export class KeyTable {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly order = new InsertionOrder();
  private readonly expiries = new ExpiryHeap();
  private revision = 0;
  private keysWithExpiry = 0;
  private expiredTotal = 0;
  private dataBytes = 0;
  /** UTF-8 bytes of the stored keys (expired ones not swept included). */
  private keyBytes = 0;
  /** Snapshots being read: each keeps what writes replace before it reaches them. */
  private readonly readers = new Set<SnapshotReader>();
  /** planWrite's measure of the put it planned last, so apply need not measure it again. */
  private planned: { readonly change: Change; readonly size: number } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly maxDataBytes = Number.POSITIVE_INFINITY,
  ) {}

  get currentRevision(): number {
    return this.revision;
  }

  /** The live entry; an expired one is gone from the millisecond it expires. */
  live(key: string): StoredEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || this.isExpired(entry, this.clock.now())) return undefined;
    return entry;
  }

  planWrite(command: WriteCommand, guard?: WriteGuard): WritePlan {
    const stored = this.entries.get(command.key);
    const stale = stored !== undefined && this.isExpired(stored, this.clock.now());
    const current = stale ? undefined : stored;
    if (guard && !guardHolds(guard, current)) return { ok: false, current: current ?? null };
    if (command.op !== 'put' && current === undefined) return { ok: false, current: null };

    let revision = this.revision;
    const changes: Change[] = [];
    // A write that finds an expired key records the expiry first, as Redis does on access,
    // so the log and the change feed never skip an incarnation.
    if (stale) changes.push({ op: 'expire', revision: ++revision, key: command.key });
    revision++;
    switch (command.op) {
      case 'put': {
        // Measured against what is stored, expired or not: the write removes it either way.
        const size = entrySize(command.key, command.value);
        const growth = size - (stored?.size ?? 0);
        if (growth > 0 && this.dataBytes + growth > this.maxDataBytes) {
          throw new StorageFullError(this.maxDataBytes);
        }
        const change: Change = {
          op: 'put',
          revision,
          key: command.key,
          value: command.value,
          expiresAt:
            command.expiresAt === 'keep' ? (current?.expiresAt ?? null) : command.expiresAt,
          createRevision: current ? current.createRevision : revision,
          version: current ? current.version + 1 : 1,
        };
        changes.push(change);
        this.planned = { change, size };
        break;
      }
      case 'delete':
        changes.push({ op: 'delete', revision, key: command.key });
        break;
      case 'ttl':
        changes.push({ op: 'ttl', revision, key: command.key, expiresAt: command.expiresAt });
        break;
    }
    return { ok: true, changes };
  }

  /**
   * Works out a transaction's results and changes without touching state, like `planWrite`.
   * Every op sees the effect of the ops before it in its branch; the caller applies the changes
   * (all of them, or none) before anything else can run. Each put is held to `maxDataBytes` as a
   * single put would be at that point of the branch (earlier deletes in it free their bytes);
   * one that grows the data past it throws StorageFullError for the whole transaction.
   */
  planTransaction(transaction: Transaction): TxnOutcome {
    const now = this.clock.now();
    const liveNow = (key: string) => {
      const entry = this.entries.get(key);
      return entry === undefined || this.isExpired(entry, now) ? undefined : entry;
    };
    const succeeded = transaction.compare.every((compare) =>
      compareHolds(compare, liveNow(compare.key)),
    );
    /** Keys the branch has written so far, as it left them (null: absent). */
    const written = new Map<string, StoredEntry | null>();
    const changes: Change[] = [];
    const results: TxnOpResult[] = [];
    let revision = this.revision;
    let dataBytes = this.dataBytes;
    /** What the key counts now within the branch: stored bytes, expired or not, until written. */
    const storedSize = (key: string) =>
      written.has(key) ? (written.get(key)?.size ?? 0) : (this.entries.get(key)?.size ?? 0);
    for (const op of succeeded ? transaction.success : transaction.failure) {
      const seen = written.has(op.key) ? written.get(op.key)! : (liveNow(op.key) ?? null);
      if (op.op === 'get') {
        results.push({ op: 'get', key: op.key, entry: seen });
        continue;
      }
      if (op.op === 'delete') {
        results.push({ op: 'delete', key: op.key, deleted: seen !== null });
        if (seen === null) continue;
        dataBytes -= storedSize(op.key);
        changes.push({ op: 'delete', revision: ++revision, key: op.key });
        written.set(op.key, null);
        continue;
      }
      const size = entrySize(op.key, op.value);
      const growth = size - storedSize(op.key);
      if (growth > 0 && dataBytes + growth > this.maxDataBytes) {
        throw new StorageFullError(this.maxDataBytes);
      }
      dataBytes += growth;
      // As in planWrite: a put that finds an expired key records the expiry first.
      if (!written.has(op.key) && seen === null && this.entries.has(op.key)) {
        changes.push({ op: 'expire', revision: ++revision, key: op.key });
      }
      revision++;
      const entry: StoredEntry = {
        key: op.key,
        value: op.value,
        expiresAt: op.expiresAt === 'keep' ? (seen?.expiresAt ?? null) : op.expiresAt,
        createRevision: seen ? seen.createRevision : revision,
        modRevision: revision,
        version: seen ? seen.version + 1 : 1,
        size,
      };
      const { key, value, expiresAt, createRevision, version } = entry;
      changes.push({ op: 'put', revision, key, value, expiresAt, createRevision, version });
      written.set(op.key, entry);
      results.push({ op: 'put', entry });
    }
    return { succeeded, results, changes, revision };
  }

  /**
   * Throws unless `changes` continue this table's revisions consecutively: what a commit unit
   * from elsewhere (a replication leader) must do before it is logged or applied.
   */
  checkContinues(changes: readonly Change[]): void {
    changes.forEach((change, i) => {
      const expected = this.revision + 1 + i;
      if (change.revision !== expected) {
        throw new RangeError(
          `Change ${i} has revision ${change.revision}; the store expects ${expected}`,
        );
      }
    });
  }

  /**
   * Takes up to `limit` due expiries off the index and returns them as changes. The caller
   * applies them, or hands them back with `requeueExpiries` if they could not be committed.
   */
  takeDueExpiries(limit: number): Change[] {
    const now = this.clock.now();
    const changes: Change[] = [];
    // A TTL changed back to an earlier value leaves two current marks for one key.
    const taken = new Set<string>();
    let revision = this.revision;
    for (let mark = this.expiries.peek(); mark && mark.expiresAt <= now;) {
      if (changes.length >= limit) break;
      this.expiries.pop();
      if (this.isCurrent(mark) && !taken.has(mark.key)) {
        taken.add(mark.key);
        changes.push({ op: 'expire', revision: ++revision, key: mark.key });
      }
      mark = this.expiries.peek();
    }
    return changes;
  }

  requeueExpiries(changes: readonly Change[]): void {
    for (const change of changes) {
      const entry = this.entries.get(change.key);
      if (entry?.expiresAt != null) this.pushMark(entry);
    }
  }

  apply(change: Change): void {
    switch (change.op) {
      case 'put':
        this.applyPut(change);
        break;
      case 'delete':
        this.remove(change.key);
        break;
      case 'expire':
        if (this.remove(change.key)) this.expiredTotal++;
        break;
      case 'ttl':
        this.applyTtl(change.key, change.expiresAt, change.revision);
        break;
    }
    this.revision = change.revision;
  }

  dataUsage(): DataUsage {
    return { usedBytes: this.dataBytes, maxBytes: this.maxDataBytes };
  }

  /** Stored keys and their UTF-8 bytes, expired ones not swept yet included; O(1). */
  storedKeySizes(): StoredKeySizes {
    return { count: this.entries.size, bytes: this.keyBytes };
  }

  /** Loads an entry of a full copy of another store (see StorageRepository.replaceAll). */
  load(entry: SnapshotEntry): void {
    this.apply(putOf(entry));
  }

  /**
   * Loads an entry of a snapshot file being recovered, with the UTF-8 bytes of its key and
   * value, which the record gives; the same as `load`, and faster. A snapshot holds each key
   * once, so recovery meets keys the table does not hold: then nothing is replaced, kept for a
   * snapshot reader or taken off the insertion order, and the entry is built at once rather
   * than from a put change (applyPut's work was most of a million-key start). A key the table
   * holds takes `load`'s way.
   */
  loadSized(entry: SnapshotEntry, keyBytes: number, valueBytes: number): void {
    const { key } = entry;
    if (this.entries.has(key)) {
      this.load(entry);
      return;
    }
    const { value, expiresAt, createRevision, modRevision, version } = entry;
    const size = entrySizeOfBytes(keyBytes, valueBytes);
    const stored: StoredEntry = { key, value, expiresAt, createRevision, modRevision, version, size };
    this.planned = undefined;
    this.order.insert(createRevision, key);
    this.dataBytes += size;
    this.keyBytes += keyBytes;
    this.entries.set(key, stored);
    if (expiresAt !== null) {
      this.keysWithExpiry++;
      this.pushMark(stored);
    }
    this.revision = modRevision;
  }

  /**
   * The stored entries as they are now, in insertion order, read lazily: taking it copies
   * nothing, and writes made while it is read keep, for it alone, what they replace (see
   * SnapshotReader). It is read once; the reading must end or be stopped, or the snapshot released.
   */
  snapshot(): StoreSnapshot {
    const reader = new SnapshotReader(this.revision);
    this.readers.add(reader);
    let read = false;
    return {
      revision: reader.revision,
      keys: this.entries.size,
      entries: () => {
        if (read) throw new Error('A snapshot is read once');
        read = true;
        return this.read(reader);
      },
      release: () => this.readers.delete(reader),
    };
  }

  private *read(reader: SnapshotReader): Generator<StoredEntry> {
    try {
      for (const [createRevision, key] of this.order.after(0)) {
        if (createRevision > reader.revision) break;
        let removed: StoredEntry | undefined;
        while ((removed = reader.removedBefore(createRevision))) yield removed;
        const live = this.entries.get(key);
        // Removed while those were handed out: it is among the removed now, in its place.
        if (live?.createRevision === createRevision) yield reader.atSnapshot(live);
      }
      let removed: StoredEntry | undefined;
      while ((removed = reader.removedBefore(Infinity))) yield removed;
    } finally {
      this.readers.delete(reader);
    }
  }

  /** Used by recovery: the store has moved on to `revision` even if no change is left to show it. */
  advanceRevision(revision: number): void {
    if (revision > this.revision) this.revision = revision;
  }

  /**
   * Ends a replay: forgets keys that expired while the store was closed (without recording
   * changes) and restarts the since-start counters, which the replay itself moved.
   */
  finishRecovery(): void {
    this.expiredTotal = 0;
    const now = this.clock.now();
    for (let mark = this.expiries.peek(); mark && mark.expiresAt <= now;) {
      this.expiries.pop();
      if (this.isCurrent(mark)) this.remove(mark.key);
      mark = this.expiries.peek();
    }
  }

  scan(request: ScanRequest): ScanPage {
    const { from, limit, match } = request;
    const { maxExamined = Infinity, maxMatchedChars = Infinity } = request;
    const snapshotRevision = from?.snapshotRevision ?? this.revision;
    const now = this.clock.now();
    const keys: string[] = [];
    let lastVisited = from?.afterCreateRevision ?? 0;
    let examined = 0;
    let matchedChars = 0;
    for (const [createRevision, key] of this.order.after(lastVisited)) {
      if (createRevision > snapshotRevision) break;
      // The work is spent: continue from the last key examined (at least one was, so the
      // iteration always advances).
      if (examined > 0 && (examined >= maxExamined || matchedChars >= maxMatchedChars)) {
        return { keys, next: { snapshotRevision, afterCreateRevision: lastVisited } };
      }
      examined++;
      if (match) matchedChars += key.length;
      if (this.isExpired(this.entries.get(key)!, now) || (match && !match(key))) {
        lastVisited = createRevision;
        continue;
      }
      // One key beyond a full page proves there is more; otherwise the cursor ends here.
      if (keys.length === limit) {
        return { keys, next: { snapshotRevision, afterCreateRevision: lastVisited } };
      }
      keys.push(key);
      lastVisited = createRevision;
    }
    return { keys, next: null };
  }

  listKeys(match?: (key: string) => boolean): string[] {
    const now = this.clock.now();
    const keys: string[] = [];
    for (const [, key] of this.order.after(0)) {
      if (this.isExpired(this.entries.get(key)!, now)) continue;
      if (match === undefined || match(key)) keys.push(key);
    }
    return keys;
  }

  /** Every stored entry in insertion order, expired or not: what a snapshot persists. */
  *storedEntries(): Generator<StoredEntry> {
    for (const [, key] of this.order.after(0)) yield this.entries.get(key)!;
  }

  stats(): StorageStats {
    const now = this.clock.now();
    const expiredKeys = new Set<string>();
    this.expiries.forEachDue(now, (mark) => {
      if (this.isCurrent(mark)) expiredKeys.add(mark.key);
    });
    return {
      liveKeys: this.entries.size - expiredKeys.size,
      storedKeys: this.entries.size,
      keysWithExpiry: this.keysWithExpiry - expiredKeys.size,
      expiredTotal: this.expiredTotal,
      revision: this.revision,
    };
  }

  private applyPut(change: Extract<Change, { op: 'put' }>): void {
    const previous = this.entries.get(change.key);
    const sameIncarnation = previous?.createRevision === change.createRevision;
    if (previous && this.readers.size > 0) this.keepForReaders(previous, !sameIncarnation);
    if (previous && !sameIncarnation) this.order.remove(previous.createRevision);
    if (!sameIncarnation) this.order.insert(change.createRevision, change.key);
    const planned = this.planned;
    this.planned = undefined;
    const size = planned?.change === change ? planned.size : entrySize(change.key, change.value);
    this.dataBytes += size - (previous?.size ?? 0);
    if (previous === undefined) this.keyBytes += Buffer.byteLength(change.key);
    const entry: StoredEntry = {
      key: change.key,
      value: change.value,
      expiresAt: change.expiresAt,
      createRevision: change.createRevision,
      modRevision: change.revision,
      version: change.version,
      size,
    };
    this.replace(previous, entry, sameIncarnation);
  }

  private applyTtl(key: string, expiresAt: number | null, revision: number): void {
    const previous = this.entries.get(key);
    if (previous === undefined) return;
    if (this.readers.size > 0) this.keepForReaders(previous, false);
    const entry = { ...previous, expiresAt, modRevision: revision, version: previous.version + 1 };
    this.replace(previous, entry, true);
  }

  private replace(previous: StoredEntry | undefined, entry: StoredEntry, sameIncarnation: boolean) {
    this.entries.set(entry.key, entry);
    if (previous?.expiresAt != null) this.keysWithExpiry--;
    if (entry.expiresAt !== null) {
      this.keysWithExpiry++;
      if (!sameIncarnation || previous?.expiresAt !== entry.expiresAt) this.pushMark(entry);
    }
  }

  private remove(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    if (this.readers.size > 0) this.keepForReaders(entry, true);
    this.entries.delete(key);
    this.dataBytes -= entry.size;
    this.keyBytes -= Buffer.byteLength(key);
    this.order.remove(entry.createRevision);
    if (entry.expiresAt !== null) this.keysWithExpiry--;
    return true;
  }

  private keepForReaders(entry: StoredEntry, removing: boolean): void {
    for (const reader of this.readers) reader.keep(entry, removing);
  }

  private pushMark(entry: StoredEntry): void {
    this.expiries.push({
      expiresAt: entry.expiresAt!,
      key: entry.key,
      createRevision: entry.createRevision,
    });
    // Superseded marks are dropped lazily; rebuild before they dominate the heap.
    if (this.expiries.size > 2 * this.keysWithExpiry + 1024) {
      this.expiries.rebuild((mark) => this.isCurrent(mark));
    }
  }

  private isCurrent(mark: ExpiryMark): boolean {
    const entry = this.entries.get(mark.key);
    return entry?.createRevision === mark.createRevision && entry.expiresAt === mark.expiresAt;
  }

  private isExpired(entry: StoredEntry, now: number): boolean {
    return entry.expiresAt !== null && entry.expiresAt <= now;
  }
}

function guardHolds(guard: WriteGuard, current: StoredEntry | undefined): boolean {
  switch (guard.require) {
    case 'exists':
      return current !== undefined;
    case 'absent':
      return current === undefined;
    case 'modRevision':
      return current?.modRevision === guard.modRevision;
  }
}

function compareHolds(compare: TxnCompare, current: StoredEntry | undefined): boolean {
  switch (compare.target) {
    case 'exists':
      return (current !== undefined) === compare.equals;
    case 'value':
      return current?.value === compare.equals;
    default:
      return (current?.[compare.target] ?? 0) === compare.equals;
  }
}
