import { MemoryStorageRepository } from './memory-storage.repository';
import { describeStorageContract } from './storage.contract';

describeStorageContract(
  'memory',
  async (clock, limits) => {
    const repository = new MemoryStorageRepository(clock, limits);
    await repository.open();
    return { repository, dispose: () => repository.close() };
  },
  { durable: false },
);
