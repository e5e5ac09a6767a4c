import { Clock } from '../clock/clock';
import { KeyTable } from './key-table';
import {
  Change,
  DataUsage,
  ScanPage,
  ScanRequest,
  StorageHealth,
  StorageRepository,
  StorageStats,
  StoreReplacement,
  StoreSnapshot,
  StoredEntry,
  StoredKeySizes,
  Transaction,
  TxnOutcome,
  WriteCommand,
  WriteGuard,
  WriteOutcome,
} from './storage.repository';

/**
 * The reads every repository answers straight from its in-memory KeyTable. Subclasses decide
 * how writes become durable (or not) before they reach the table.
 */
export abstract class TableBackedRepository implements StorageRepository {
  /** Replaced whole when a full copy of another store is loaded (replaceAll). */
  protected table: KeyTable;

  /** @param maxDataBytes the data limit (MAX_DATA_BYTES); none when omitted */
  protected constructor(
    private readonly tableClock: Clock,
    private readonly maxDataBytes?: number,
  ) {
    this.table = this.newTable();
  }

  abstract open(): Promise<void>;
  abstract close(): Promise<void>;
  abstract write(command: WriteCommand, guard?: WriteGuard): Promise<WriteOutcome>;
  abstract transact(transaction: Transaction): Promise<TxnOutcome>;
  abstract applyChanges(changes: readonly Change[]): Promise<void>;
  abstract expireDue(limit: number): Promise<Change[]>;
  abstract replaceAll(revision: number): Promise<StoreReplacement>;
  abstract replicationState(): string | undefined;
  abstract saveReplicationState(state: string): Promise<void>;
  abstract health(): StorageHealth;

  async get(key: string): Promise<StoredEntry | undefined> {
    return this.table.live(key);
  }

  async scan(request: ScanRequest): Promise<ScanPage> {
    return this.table.scan(request);
  }

  async listKeys(match?: (key: string) => boolean): Promise<string[]> {
    return this.table.listKeys(match);
  }

  async stats(): Promise<StorageStats> {
    return this.table.stats();
  }

  currentRevision(): number {
    return this.table.currentRevision;
  }

  dataUsage(): DataUsage {
    return this.table.dataUsage();
  }

  storedKeySizes(): StoredKeySizes {
    return this.table.storedKeySizes();
  }

  snapshot(): StoreSnapshot {
    return this.table.snapshot();
  }

  /** An empty table under the same clock and limit, for loading a full copy into. */
  protected newTable(): KeyTable {
    return new KeyTable(this.tableClock, this.maxDataBytes);
  }
}
