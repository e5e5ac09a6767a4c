import { Clock } from '../clock/clock';
import { KeyTable } from './key-table';
import {
  Change,
  StorageHealth,
  StoreReplacement,
  Transaction,
  TxnOutcome,
  WriteCommand,
  WriteGuard,
  WriteOutcome,
} from './storage.repository';
import { TableBackedRepository } from './table-backed.repository';

/** Keys in process memory only: fast, and gone when the process ends. */
export class MemoryStorageRepository extends TableBackedRepository {
  private state: string | undefined;

  constructor(clock: Clock, options: { readonly maxDataBytes?: number } = {}) {
    super(clock, options.maxDataBytes);
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}

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

  async transact(transaction: Transaction): Promise<TxnOutcome> {
    const outcome = this.table.planTransaction(transaction);
    for (const change of outcome.changes) this.table.apply(change);
    return outcome;
  }

  async applyChanges(changes: readonly Change[]): Promise<void> {
    this.table.checkContinues(changes);
    for (const change of changes) this.table.apply(change);
  }

  async expireDue(limit: number): Promise<Change[]> {
    const changes = this.table.takeDueExpiries(limit);
    for (const change of changes) this.table.apply(change);
    return changes;
  }

  async replaceAll(revision: number): Promise<StoreReplacement> {
    let loading: KeyTable | undefined = this.newTable();
    return {
      add: async (entry) => loading?.load(entry),
      commit: async (state) => {
        if (!loading) throw new Error('The replacement was already committed or aborted');
        loading.advanceRevision(revision);
        this.table = loading;
        this.state = state;
        loading = undefined;
      },
      abort: async () => {
        loading = undefined;
      },
    };
  }

  replicationState(): string | undefined {
    return this.state;
  }

  async saveReplicationState(state: string): Promise<void> {
    this.state = state;
  }

  health(): StorageHealth {
    return { writable: true };
  }
}
