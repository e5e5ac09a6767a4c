import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { RequestListener } from 'node:http';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { bodyLimitsOf, isTxnPath, toHttpError } from '../common/filters/http-error';
import { AppConfig } from '../config/app-config';
import { logsEveryRequest, requestId } from '../logging/request-id';
import { contentCodingOf, decodeBody, unsupportedContentEncoding } from './content-coding';
import { AnyOriginCors } from './cors-policy';
import { afterPreviousAnswer } from './pipelined-requests';
import { ResponseObserver, RouteObserver } from './response-observer';
import { toRouteTemplate } from './route-template';
import { protectedModeRefusal } from './protected-mode';
import { apiSecurityHeaders, requestCameOverTls, securityHeadersFor } from './security-headers';
import { answerClientError, createHttpServer, KEEP_ALIVE_TIMEOUT_MS } from './server-options';

export function createFastifyAdapter(config: AppConfig): WildcardFastifyAdapter {
  const adapter: WildcardFastifyAdapter = new WildcardFastifyAdapter({
    bodyLimit: config.maxValueBytes,
    // When requests are logged, pino-http takes Fastify's id for them: make it the caller's
    // X-Request-Id when fit to log, else a UUID. Otherwise nothing reads it: keep the counter.
    ...(logsEveryRequest(config.logLevel) && { genReqId: requestId }),
    serverFactory: (handler: RequestListener) => createHttpServer(config, handler),
    // Fastify sets this on the server after the factory made it.
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Requests Node's parser refuses get the same JSON answer as on Express.
    clientErrorHandler: answerClientError,
    // Malformed URLs and bodies are answered in the application's own error format, before any
    // hook has run.
    frameworkErrors: (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const answer = toHttpError(error, bodyLimitsOf(config), request.url) ?? FALLBACK_ERROR;
      void reply.headers(FRAMEWORK_ERROR_HEADERS).status(answer.status).send(answer.body);
    },
  });
  return adapter;
}

const FALLBACK_ERROR = { status: 400, body: { error: 'Bad request' } };
const JSON_TYPE = 'application/json; charset=utf-8';
// Answered before TRUST_PROXY could be read: the plain-HTTP set is the safe one.
const FRAMEWORK_ERROR_HEADERS = apiSecurityHeaders(false);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors FastifyAdapter's own signature
type RouteArguments = any[];

/**
 * Routes are written in path-to-regexp syntax (Express 5): `key{/*key}` is the prefix alone or
 * followed by any rest of the path. Fastify's router spells that as two routes, `key` and
 * `key/*`; the handlers read the key from the raw URL either way. The adapter remembers the
 * template each Fastify route was registered for, to label metrics with.
 */
class WildcardFastifyAdapter extends FastifyAdapter {
  readonly routeTemplates = new Map<string, string>();

  override get(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.get(...route));
  }

  override put(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.put(...route));
  }

  override delete(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.delete(...route));
  }

  override post(...args: RouteArguments) {
    return this.forEachPath(args, (route) => super.post(...route));
  }

  private forEachPath<T>(args: RouteArguments, register: (route: RouteArguments) => T): T {
    const [path, handler] = args;
    if (typeof path !== 'string') return register(args);
    const template = toRouteTemplate(path);
    const wildcard = /^(.*)\{\/\*\w+\}$/.exec(path);
    if (!wildcard) {
      this.routeTemplates.set(path, template);
      return register(args);
    }
    this.routeTemplates.set(wildcard[1], template);
    this.routeTemplates.set(`${wildcard[1]}/*`, template);
    register([wildcard[1], handler]);
    return register([`${wildcard[1]}/*`, handler]);
  }
}

/** anyOrigin: CORS_ORIGIN=*, answered here; otherwise app.enableCors() sends the CORS headers. */
export function configureFastify(
  app: NestFastifyApplication,
  config: AppConfig,
  observeResponse: ResponseObserver | undefined,
  anyOrigin: AnyOriginCors | undefined,
): void {
  const adapter = app.getHttpAdapter() as unknown as WildcardFastifyAdapter;
  const fastify = adapter.getInstance();
  // A transaction carries several values: its body has its own limit, MAX_TXN_BYTES.
  fastify.addHook('onRoute', (route) => {
    if (isTxnPath(route.url)) route.bodyLimit = config.maxTxnBytes;
  });
  const { protectedMode, trustProxy } = config;
  // Nest's own slot runs before every other hook, @fastify/cors's included, so preflights get
  // the security headers too, and a request refused by protected mode gets no CORS headers.
  // Everything else a request needs before its route runs is done here too: one hook per
  // request rather than three.
  adapter.setOnRequestHook((request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const overTls = trustProxy && requestCameOverTls(request.headers['x-forwarded-proto']);
    const security = securityHeadersFor(request.url, overTls);
    const refusal = protectedMode
      ? protectedModeRefusal(request.raw.socket.remoteAddress, request.headers.host, request.url)
      : undefined;
    if (refusal !== undefined) {
      void reply.headers(security).status(403).type(JSON_TYPE).send(refusal);
    } else if (anyOrigin === undefined) {
      void reply.headers(security);
      proceed(request, reply, done);
    } else if (request.method === 'OPTIONS') {
      void reply.headers(anyOrigin.preflight(security)).status(204).send();
    } else {
      void reply.headers(anyOrigin.answer(security));
      proceed(request, reply, done);
    }
  });
  if (observeResponse) observeResponses(adapter, observeResponse);
  fastify.removeAllContentTypeParsers();
  // Fastify's own parsers cost a per-request AsyncResource and would reject unknown types.
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    // This parser is the one place a body is read: decode it as Express's parser would, so
    // that a coded body is never stored as if it were plain.
    const header = request.headers['content-encoding'];
    const coding = contentCodingOf(header);
    if (coding === undefined) return done(unsupportedContentEncoding());
    if (coding === 'identity') return done(null, body);
    const limit = isTxnPath(request.url) ? config.maxTxnBytes : config.maxValueBytes;
    decodeBody(coding, body as Buffer, limit, done);
  });
}

/** A request goes on to its route once the answer before it on its connection is sent. */
function proceed(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  // The contract parses JSON whatever the Content-Type says; Fastify would refuse a malformed
  // one (415) before any parser ran, so the header is set aside. Set to undefined (what
  // Fastify tests for), not deleted: a delete turns the request's header object into a
  // dictionary, slower for every header read after it.
  const { headers } = request;
  if (headers['content-type'] !== undefined) headers['content-type'] = undefined;
  afterPreviousAnswer(request.raw.socket, reply.raw, done);
}

/**
 * Each of the application's routes gets its own onResponse hook, which knows its template and
 * holds an observer per method: no lookup by route per request. Requests that matched no route
 * (404s) run no route hook, and are not observed. Must be installed before the routes are
 * registered (at init).
 */
function observeResponses(adapter: WildcardFastifyAdapter, observerFor: ResponseObserver): void {
  adapter.getInstance().addHook('onRoute', (route) => {
    const template = adapter.routeTemplates.get(route.url);
    if (template === undefined) return;
    // A route serves more than one method when Fastify adds HEAD to a GET route.
    const observers = new Map<string, RouteObserver>();
    const observeAnswer: onResponseHookHandler = (request, reply, done) => {
      let observe = observers.get(request.method);
      if (observe === undefined) {
        observe = observerFor(request.method, template);
        observers.set(request.method, observe);
      }
      observe(reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = [route.onResponse ?? [], observeAnswer].flat();
  });
}
