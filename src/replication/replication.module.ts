import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ChangeStream } from '../changes/change-stream';
import { ChangesModule } from '../changes/changes.module';
import { AppConfig } from '../config/app-config';
import { StorageModule } from '../storage/storage.module';
import { STORAGE_REPOSITORY, StorageRepository } from '../storage/storage.repository';
import { ReadOnlyFollowerGuard } from './read-only-follower.guard';
import { ReplicationAccessGuard } from './replication-access.guard';
import { ReplicationFollower } from './replication-follower.service';
import { ReplicationIdentity } from './replication-identity';
import { ReplicationLeader } from './replication-leader.service';
import { ReplicationStatus } from './replication-status';
import { ReplicationController } from './replication.controller';

type Config = ConfigService<AppConfig, true>;

/** A line from the leader holds at most one commit unit, its values escaped inside JSON strings. */
const LINE_CHARS_PER_BODY_BYTE = 8;

/**
 * Replication (docs/REPLICATION.md): with REPLICA_OF the node follows that leader, read-only;
 * without it the node leads, serving its followers. The role is fixed at start.
 */
@Module({})
export class ReplicationModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(ReplicationStatus) private readonly status: ReplicationStatus) {}

  static forRoot(config: AppConfig): DynamicModule {
    const follows = config.replicaOf !== null;
    return {
      module: ReplicationModule,
      // The readiness probe and the metrics read the status wherever they are.
      global: true,
      imports: [StorageModule, ChangesModule],
      controllers: [ReplicationController],
      providers: [
        ReplicationAccessGuard,
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
          provide: ReplicationStatus,
          inject: [STORAGE_REPOSITORY, ChangeStream, ReplicationIdentity, ConfigService],
          useFactory: (
            storage: StorageRepository,
            changes: ChangeStream,
            identity: ReplicationIdentity,
            settings: Config,
          ) =>
            follows
              ? new ReplicationStatus(
                  storage,
                  identity,
                  undefined,
                  new ReplicationFollower(storage, changes, identity, {
                    leaderUrl: settings.get('replicaOf', { infer: true })!,
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
                  }),
                )
              : new ReplicationStatus(
                  storage,
                  identity,
                  new ReplicationLeader(
                    storage,
                    changes,
                    identity,
                    settings.get('advertiseUrl', { infer: true }),
                    settings.get('replicationBufferBytes', { infer: true }),
                  ),
                  undefined,
                ),
        },
        ...(follows
          ? [
              {
                provide: ReplicationFollower,
                inject: [ReplicationStatus],
                useFactory: (status: ReplicationStatus) => status.follower!,
              },
              { provide: APP_GUARD, useClass: ReadOnlyFollowerGuard },
            ]
          : [
              {
                provide: ReplicationLeader,
                inject: [ReplicationStatus],
                useFactory: (status: ReplicationStatus) => status.leader!,
              },
            ]),
      ],
      exports: [ReplicationStatus],
    };
  }

  onApplicationBootstrap(): void {
    this.status.follower?.start();
  }

  /** A follower stops following; a leader records a clean shutdown (it keeps its history). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.status.follower?.stop();
    if (this.status.leader) await this.status.identity.leaveCleanly();
  }
}
