import { MemoryStorageRepository } from './memory-storage.repository';
import { describeStorageContract } from './storage.contract';

describeStorageContract(
  'memory',
  async (clock) => {
    const repository = new MemoryStorageRepository(clock);
    await repository.open();
    return { repository, dispose: () => repository.close() };
  },
  { durable: false },
);
