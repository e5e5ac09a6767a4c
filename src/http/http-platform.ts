import { INestApplication } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import helmet from 'helmet';
import { createServer, RequestListener, ServerOptions } from 'node:http';
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
      serverFactory: (handler: RequestListener) => createServer(serverOptions(config), handler),
      // Malformed URLs and bodies are answered in the application's own error format.
      frameworkErrors: (error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
        const answer = toHttpError(error, config.maxValueBytes) ?? FALLBACK_ERROR;
        void reply.status(answer.status).send(answer.body);
      },
    });
  }
  const adapter = new TimedExpressAdapter(serverOptions(config));
  // The store sends its own ETag (the key's revision); Express's would hash every body.
  adapter.set('etag', false);
  adapter.disable('x-powered-by');
  return adapter;
}

const FALLBACK_ERROR = { status: 400, body: { error: 'Bad request' } };

/**
 * Slow clients (slowloris) may hold a connection only so long: Node's defaults are 60 s for
 * headers and 300 s for a whole request. Node checks those deadlines only every
 * `connectionsCheckingInterval` (30 s by default), which can be set only when the server is
 * created, so both platforms get a server made here.
 */
function serverOptions(config: AppConfig): ServerOptions {
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs / 2),
  };
}

class TimedExpressAdapter extends ExpressAdapter {
  constructor(private readonly serverOptions: ServerOptions) {
    super();
  }

  override initHttpServer(): void {
    this.httpServer = createServer(this.serverOptions, this.getInstance());
  }
}

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

/**
 * HTTP/1.1 lets a client pipeline requests on one connection and expects them handled in order
 * (RFC 9112 section 9.3.2). Node hands Fastify the next pipelined request while the previous
 * one's body is still being read, so a later write could overtake an earlier one: each request
 * waits here until the one before it on the same connection has been answered.
 */
function orderPipelinedRequests(fastify: FastifyInstance): void {
  const lastOnSocket = new WeakMap<Socket, Promise<void>>();
  fastify.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket;
    const previous = lastOnSocket.get(socket);
    lastOnSocket.set(
      socket,
      new Promise((resolve) => {
        reply.raw.once('finish', resolve);
        reply.raw.once('close', resolve);
      }),
    );
    if (previous === undefined) done();
    else void previous.then(() => done());
  });
}

export function configureHttpPlatform(app: INestApplication, config: AppConfig): void {
  if (config.httpAdapter === 'fastify') {
    const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance();
    orderPipelinedRequests(fastify);
    // The contract parses JSON whatever the Content-Type says; Fastify would refuse a malformed
    // one (415) before any parser ran, so the header is set aside.
    fastify.addHook('onRequest', (request, _reply, done) => {
      delete request.headers['content-type'];
      done();
    });
    fastify.removeAllContentTypeParsers();
    // Fastify's own parsers cost a per-request AsyncResource and would reject unknown types.
    fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
      // Express's body parser decodes gzip and deflate and refuses other codings with 415;
      // this parser decodes nothing, so it must not store a coded body as if it were plain.
      const coding = request.headers['content-encoding'];
      if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') {
        done(Object.assign(new Error('Unsupported Content-Encoding'), { statusCode: 415 }));
      } else {
        done(null, body);
      }
    });
  } else {
    (app as NestExpressApplication).useBodyParser('raw', {
      type: () => true,
      limit: config.maxValueBytes,
    });
  }
  // Security headers; the default Content-Security-Policy allows Swagger UI's own assets.
  app.use(helmet());
  app.enableCors({
    origin: config.corsOrigin === '*' ? '*' : config.corsOrigin.split(',').map((o) => o.trim()),
    methods: ['GET', 'PUT', 'DELETE'],
    allowedHeaders: ['Content-Type', 'Authorization', 'If-Match', 'If-None-Match', 'Last-Event-ID'],
    exposedHeaders: ['ETag', 'X-Kv-Revision'],
    // @fastify/cors answers an OPTIONS request without Origin with a plain-text 400; the
    // cors package behind Express answers 204. Both platforms answer alike.
    ...{ strictPreflight: false },
  });
}
