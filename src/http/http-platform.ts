import { INestApplication } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import type { Server } from 'node:http';
import { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { toHttpError } from '../common/filters/http-error';
import { AppConfig } from '../config/app-config';

/**
 * Everything that differs between the Express and Fastify platforms lives here, so the rest of
 * the application is written once against Nest. Both platforms hand the controllers the raw
 * body as a Buffer (or nothing): the contract parses JSON whatever the Content-Type says.
 */
export function createHttpAdapter(config: AppConfig): AbstractHttpAdapter {
  if (config.httpAdapter === 'fastify') {
    return new WildcardFastifyAdapter({
      bodyLimit: config.maxValueBytes,
      // Malformed URLs and bodies are answered in the application's own error format.
      frameworkErrors: (error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
        const answer = toHttpError(error, config.maxValueBytes) ?? FALLBACK_ERROR;
        void reply.status(answer.status).send(answer.body);
      },
    });
  }
  const adapter = new ExpressAdapter();
  // The store sends its own ETag (the key's revision); Express's would hash every body.
  adapter.set('etag', false);
  adapter.disable('x-powered-by');
  return adapter;
}

const FALLBACK_ERROR = { status: 400, body: { error: 'Bad request' } };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors FastifyAdapter's own signature
type RouteArguments = any[];

/**
 * Routes are written in path-to-regexp syntax (Express 5): `key{/*key}` is the prefix alone or
 * followed by any rest of the path. Fastify's router spells that as two routes, `key` and
 * `key/*`; the handlers read the key from the raw URL either way.
 */
class WildcardFastifyAdapter extends FastifyAdapter {
  override get(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.get(...route));
  }

  override put(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.put(...route));
  }

  override delete(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.delete(...route));
  }

  private forEachPath<T>(args: RouteArguments, register: (route: RouteArguments) => T): T {
    const [path, handler] = args;
    const wildcard = typeof path === 'string' ? /^(.*)\{\/\*\w+\}$/.exec(path) : null;
    if (!wildcard) return register(args);
    register([wildcard[1], handler]);
    return register([`${wildcard[1]}/*`, handler]);
  }
}

export function configureHttpPlatform(app: INestApplication, config: AppConfig): void {
  if (config.httpAdapter === 'fastify') {
    const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance();
    fastify.removeAllContentTypeParsers();
    // Fastify's own parsers cost a per-request AsyncResource and would reject unknown types.
    fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
  } else {
    (app as NestExpressApplication).useBodyParser('raw', {
      type: () => true,
      limit: config.maxValueBytes,
    });
  }
  // Security headers; the default Content-Security-Policy allows Swagger UI's own assets.
  app.use(helmet());
  // Slow clients (slowloris) may hold a connection only this long. Node's defaults are 60 s
  // for headers and 300 s for a whole request.
  const server = app.getHttpServer() as Server;
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  app.enableCors({
    origin: config.corsOrigin === '*' ? '*' : config.corsOrigin.split(',').map((o) => o.trim()),
    methods: ['GET', 'PUT', 'DELETE'],
    allowedHeaders: ['Content-Type', 'Authorization', 'If-Match', 'If-None-Match', 'Last-Event-ID'],
    exposedHeaders: ['ETag', 'X-Kv-Revision'],
  });
}
