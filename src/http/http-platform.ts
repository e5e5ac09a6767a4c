import { INestApplication } from '@nestjs/common';
import { AbstractHttpAdapter } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig } from '../config/app-config';
import { AnyOriginCors, corsOptions } from './cors-policy';
import { configureExpress, createExpressAdapter } from './express-platform';
import { configureFastify, createFastifyAdapter } from './fastify-platform';
import { ResponseObserver } from './response-observer';

/**
 * Everything that differs between the Express and Fastify platforms lives in this folder, so
 * the rest of the application is written once against Nest. Both platforms hand the
 * controllers the raw body as a Buffer (or nothing): the contract parses JSON whatever the
 * Content-Type says. Cross-cutting work done on every request (security headers, timing for
 * metrics) runs in each platform's own cheapest hook rather than as Nest middleware or
 * interceptors: on a key-value store's small requests, those layers cost more than the store.
 */
export function createHttpAdapter(config: AppConfig): AbstractHttpAdapter {
  return config.httpAdapter === 'fastify'
    ? createFastifyAdapter(config)
    : createExpressAdapter(config);
}

export function configureHttpPlatform(
  app: INestApplication,
  config: AppConfig,
  observeResponse: ResponseObserver | undefined,
): void {
  const anyOrigin = config.corsOrigin === '*' ? new AnyOriginCors() : undefined;
  if (config.httpAdapter === 'fastify') {
    configureFastify(app as NestFastifyApplication, config, observeResponse, anyOrigin);
    // With any origin allowed, the Fastify platform sends the CORS headers itself (see
    // AnyOriginCors).
    if (anyOrigin === undefined) app.enableCors(corsOptions(config));
  } else {
    configureExpress(app as NestExpressApplication, config, observeResponse);
    app.enableCors(corsOptions(config));
  }
}
