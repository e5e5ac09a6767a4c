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
  protected readonly table: KeyTable;

  /** @param maxDataBytes the data limit (MAX_DATA_BYTES); none when omitted */
  protected constructor(clock: Clock, maxDataBytes?: number) {
    this.table = new KeyTable(clock, maxDataBytes);
  }

  abstract open(): Promise<void>;
  abstract close(): Promise<void>;
  abstract write(command: WriteCommand, guard?: WriteGuard): Promise<WriteOutcome>;
  abstract transact(transaction: Transaction): Promise<TxnOutcome>;
  abstract applyChanges(changes: readonly Change[]): Promise<void>;
  abstract expireDue(limit: number): Promise<Change[]>;
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
}
