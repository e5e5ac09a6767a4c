import { FileStorageRepository } from './file/file-storage.repository';
import {
  makeTempDir,
  openStore,
  removeDir,
  testOptions,
} from './file/testing/file-storage-fixture';
import { describeStorageContract } from './storage.contract';

describeStorageContract(
  'file',
  async (clock, limits) => {
    const dir = makeTempDir();
    let repository: FileStorageRepository = await openStore(testOptions(dir, limits), clock);
    return {
      repository,
      reopen: async (reopened = limits) => {
        await repository.close();
        repository = await openStore(testOptions(dir, reopened), clock);
        return repository;
      },
      dispose: async () => {
        await repository.close();
        removeDir(dir);
      },
    };
  },
  { durable: true },
);
