import type { INestApplication } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig } from '../config/app-config';
import { AnyOriginCors, corsOptions } from './cors-policy';
import { ResponseObserver } from './response-observer';

/** The chosen platform's adapter, and what configures an application made on it. */
export interface HttpPlatform {
  readonly adapter: AbstractHttpAdapter;
  configure(app: INestApplication, observeResponse: ResponseObserver | undefined): void;
}

/**
 * Everything that differs between the Express and Fastify platforms lives in this folder, so
 * the rest of the application is written once against Nest. Both platforms hand the
 * controllers the raw body as a Buffer (or nothing): the contract parses JSON whatever the
 * Content-Type says. Cross-cutting work done on every request (security headers, timing for
 * metrics) runs in each platform's own cheapest hook rather than as Nest middleware or
 * interceptors: on a key-value store's small requests, those layers cost more than the store.
 *
 * Only the chosen platform's modules are loaded: the other one's took about 100 ms of every
 * start (BENCHMARKS.md), which a restart of a large store adds to its recovery.
 */
export async function loadHttpPlatform(config: AppConfig): Promise<HttpPlatform> {
  const anyOrigin = config.corsOrigin === '*' ? new AnyOriginCors() : undefined;
  if (config.httpAdapter === 'fastify') {
    const { configureFastify, createFastifyAdapter } = await import('./fastify-platform');
    return {
      adapter: createFastifyAdapter(config),
      configure(app, observeResponse) {
        configureFastify(app as NestFastifyApplication, config, observeResponse, anyOrigin);
        // With any origin allowed, the Fastify platform sends the CORS headers itself (see
        // AnyOriginCors).
        if (anyOrigin === undefined) app.enableCors(corsOptions(config));
      },
    };
  }
  const { configureExpress, createExpressAdapter } = await import('./express-platform');
  return {
    adapter: createExpressAdapter(config),
    configure(app, observeResponse) {
      configureExpress(app as NestExpressApplication, config, observeResponse);
      app.enableCors(corsOptions(config));
    },
  };
}
