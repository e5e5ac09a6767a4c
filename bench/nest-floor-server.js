'use strict';

/**
 * The framework floor: the minimal NestJS application a reader would write for kvstore's two
 * hot routes, so that the benchmark can tell how much of kvstore's distance to raw node:http
 * (reference-server.js) is NestJS itself and how much is kvstore's own work.
 *
 * One controller with GET and PUT /key/:key over a Map, and GET /health; the PUT body is read
 * as a raw buffer and parsed with JSON.parse, as kvstore does. No logging (logger: false), no
 * metrics, no helmet, no validation pipes, no storage engine, no TTL, no revisions.
 *
 * Plain JavaScript on purpose, like the reference server: it must run without a build step, so
 * Nest's decorators are applied by hand (what TypeScript's emitted code does with them).
 *
 *   PORT=4000 HOST=127.0.0.1 HTTP_ADAPTER=fastify node bench/nest-floor-server.js
 *
 * HTTP_ADAPTER is fastify (default) or express.
 */

require('reflect-metadata');
const {
  BadRequestException,
  Body,
  Controller,
  Get,
  Module,
  NotFoundException,
  Param,
  Put,
} = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

// PORT=0: any free port (bench/profile.js), named in the listening line.
const port = process.env.PORT === undefined ? 4000 : Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
const adapterName = (process.env.HTTP_ADAPTER || 'fastify').trim().toLowerCase();
const MAX_BODY_BYTES = 1024 * 1024;

/** key -> parsed JSON value */
const store = new Map();

class KeyController {
  get(key) {
    if (!store.has(key)) throw new NotFoundException('Key not found');
    return { key, value: store.get(key) };
  }

  put(key, body) {
    let value;
    try {
      value = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : '');
    } catch {
      throw new BadRequestException('Invalid JSON');
    }
    store.set(key, value);
    return { success: true, key, value };
  }
}

class HealthController {
  health() {
    return { status: 'ok' };
  }
}

class AppModule {}

/** What `@Get(path) method(...)` compiles to. */
function route(decorator, cls, method) {
  decorator(cls.prototype, method, Object.getOwnPropertyDescriptor(cls.prototype, method));
}

Controller('key')(KeyController);
route(Get(':key'), KeyController, 'get');
Param('key')(KeyController.prototype, 'get', 0);
route(Put(':key'), KeyController, 'put');
Param('key')(KeyController.prototype, 'put', 0);
Body()(KeyController.prototype, 'put', 1);

Controller('health')(HealthController);
route(Get(), HealthController, 'health');

Module({ controllers: [KeyController, HealthController] })(AppModule);

async function createApp() {
  const options = { logger: false, bodyParser: false };
  if (adapterName === 'fastify') {
    const { FastifyAdapter } = require('@nestjs/platform-fastify');
    const app = await NestFactory.create(
      AppModule,
      new FastifyAdapter({ bodyLimit: MAX_BODY_BYTES }),
      options,
    );
    // Every body as a Buffer, whatever its Content-Type: Fastify's own JSON parser out.
    const fastify = app.getHttpAdapter().getInstance();
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    return app;
  }
  if (adapterName === 'express') {
    const { ExpressAdapter } = require('@nestjs/platform-express');
    const bodyParser = require('body-parser');
    const app = await NestFactory.create(AppModule, new ExpressAdapter(), options);
    app.use(bodyParser.raw({ type: () => true, limit: MAX_BODY_BYTES }));
    return app;
  }
  throw new Error(`HTTP_ADAPTER must be fastify or express (got ${adapterName})`);
}

createApp()
  .then(async (app) => {
    await app.listen(port, host);
    const { port: bound } = app.getHttpServer().address();
    process.stdout.write(
      `nest-floor listening on http://${host}:${bound} (http: ${adapterName})\n`,
    );
  })
  .catch((error) => {
    process.stderr.write(`nest-floor: ${error.stack || error.message}\n`);
    process.exit(1);
  });

// Exit promptly on SIGTERM, like the reference server: the harness never waits on us.
process.on('SIGTERM', () => process.exit(0));
