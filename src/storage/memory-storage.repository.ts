import { Clock } from '../clock/clock';
import { KeyTable } from './key-table';
import {
  Change,
  ScanPage,
  ScanRequest,
  StorageHealth,
  StorageRepository,
  StorageStats,
  StoredEntry,
  WriteCommand,
  WriteGuard,
  WriteOutcome,
} from './storage.repository';

/** Keys in process memory only: fast, and gone when the process ends. */
export class MemoryStorageRepository implements StorageRepository {
  private readonly table: KeyTable;

  constructor(clock: Clock) {
    this.table = new KeyTable(clock);
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async get(key: string): Promise<StoredEntry | undefined> {
    return this.table.live(key);
  }

  async write(command: WriteCommand, guard?: WriteGuard): Promise<WriteOutcome> {
    const plan = this.table.planWrite(command, guard);
    if (!plan.ok) return plan;
    for (const change of plan.changes) this.table.apply(change);
    return {
      ok: true,
      changes: plan.changes,
      entry: this.table.live(command.key) ?? null,
      revision: this.table.currentRevision,
    };
  }

  async expireDue(limit: number): Promise<Change[]> {
    const changes = this.table.takeDueExpiries(limit);
    for (const change of changes) this.table.apply(change);
    return changes;
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

  health(): StorageHealth {
    return { writable: true };
  }
}
