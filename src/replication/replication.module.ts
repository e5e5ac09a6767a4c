import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ChangeStream } from '../changes/change-stream';
import { ChangesModule } from '../changes/changes.module';
import { AppConfig } from '../config/app-config';
import { StorageModule } from '../storage/storage.module';
import { STORAGE_REPOSITORY, StorageRepository } from '../storage/storage.repository';
import { DiscardedChangesRepository } from './discarded-changes.repository';
import { DiscardedRevisions } from './discarded-revisions';
import { ReplicationAccessGuard } from './replication-access.guard';
import { ReplicationAdminController } from './replication-admin.controller';
import { ReplicationIdentity } from './replication-identity';
import { ReplicationRoles } from './replication-roles.service';
import { ReplicationStatus } from './replication-status';
import { ReplicatedWrites } from './replicated-writes.service';
import { ReplicationController } from './replication.controller';

type Config = ConfigService<AppConfig, true>;

/** A line from the leader holds at most one commit unit, its values escaped inside JSON strings. */
const LINE_CHARS_PER_BODY_BYTE = 8;

/**
 * Replication (docs/REPLICATION.md): with REPLICA_OF the node starts as a read-only follower of
 * that leader; without it the node starts as a leader. Either role changes at run time
 * (POST /replication/promote, POST /replication/follow).
 */
@Module({})
export class ReplicationModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(ReplicationRoles) private readonly roles: ReplicationRoles) {}

  static forRoot(config: AppConfig): DynamicModule {
    const follows = config.replicaOf !== null;
    return {
      module: ReplicationModule,
      // The write routes, the expiry sweep, the readiness probe and the metrics read the role.
      global: true,
      imports: [StorageModule, ChangesModule],
      controllers: [ReplicationAdminController, ReplicationController],
      providers: [
        ReplicationAccessGuard,
        ReplicatedWrites,
        {
          provide: ReplicationIdentity,
          inject: [STORAGE_REPOSITORY],
          useFactory: async (storage: StorageRepository) => {
            const identity = ReplicationIdentity.read(storage);
            if (!follows) await identity.lead();
            return identity;
          },
        },
        {
          provide: ReplicationRoles,
          inject: [STORAGE_REPOSITORY, ChangeStream, ReplicationIdentity, ConfigService],
          useFactory: (
            storage: StorageRepository,
            changes: ChangeStream,
            identity: ReplicationIdentity,
            settings: Config,
          ) =>
            new ReplicationRoles(
              storage,
              changes,
              identity,
              new DiscardedRevisions(
                storage,
                changes,
                new DiscardedChangesRepository(settings.get('dataDir', { infer: true })),
              ),
              {
                advertiseUrl: settings.get('advertiseUrl', { infer: true }),
                bufferBytes: settings.get('replicationBufferBytes', { infer: true }),
                follower: {
                  token:
                    settings.get('replicationToken', { infer: true }) ??
                    settings.get('authToken', { infer: true }),
                  maxLagSeconds: settings.get('replicaMaxLagS', { infer: true }),
                  maxLineChars:
                    LINE_CHARS_PER_BODY_BYTE *
                    Math.max(
                      settings.get('maxTxnBytes', { infer: true }),
                      settings.get('maxValueBytes', { infer: true }),
                    ),
                },
              },
              settings.get('replicaOf', { infer: true }),
            ),
        },
        {
          provide: ReplicationStatus,
          inject: [ReplicationRoles],
          useFactory: (roles: ReplicationRoles) => roles.status,
        },
      ],
      exports: [ReplicationStatus, ReplicatedWrites],
    };
  }

  onApplicationBootstrap(): void {
    this.roles.start();
  }

  /** A follower stops following; a leader records a clean shutdown (it keeps its history). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.roles.stop();
  }
}
