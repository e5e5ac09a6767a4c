import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { ClockModule } from './clock/clock.module';
import { HttpExceptionFilter } from './common/filters/http-exception.filter';
import { AppConfig } from './config/app-config';
import { AuthModule } from './auth/auth.module';
import { ExpiryModule } from './expiry/expiry.module';
import { HealthModule } from './health/health.module';
import { KeysModule } from './keys/keys.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { ReplicationModule } from './replication/replication.module';
import { TxnModule } from './txn/txn.module';
import { WatchModule } from './watch/watch.module';

/** The application, built around a configuration that was parsed and validated once. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        LoggingModule,
        ClockModule,
        ReplicationModule.forRoot(config),
        KeysModule,
        TxnModule,
        ExpiryModule,
        HealthModule,
        ...(config.metricsEnabled ? [MetricsModule] : []),
        AuthModule.forRoot(config),
        WatchModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }
}
