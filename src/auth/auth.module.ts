import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { BearerTokenGuard } from './bearer-token.guard';

@Module({})
export class AuthModule {
  /** Without AUTH_TOKEN there is no guard at all, rather than one that lets every request by. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AuthModule,
      providers:
        config.authToken === null ? [] : [{ provide: APP_GUARD, useClass: BearerTokenGuard }],
    };
  }
}
