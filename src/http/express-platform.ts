import { raw, type NextFunction, type Request, type Response } from 'express';
import { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import { TXN_PATH } from '../common/filters/http-error';
import { AppConfig } from '../config/app-config';
import { contentCodingOf, unsupportedContentEncoding } from './content-coding';
import { afterPreviousAnswer } from './pipelined-requests';
import { ResponseObserver, RouteObserver } from './response-observer';
import { toRouteTemplate } from './route-template';
import { protectedModeRefusal } from './protected-mode';
import { requestCameOverTls, securityHeadersFor } from './security-headers';
import { answerClientError, createHttpServer } from './server-options';

export function createExpressAdapter(config: AppConfig): ExpressAdapter {
  const adapter = new TimedExpressAdapter(config);
  // The store sends its own ETag (the key's revision); Express's would hash every body.
  adapter.set('etag', false);
  adapter.disable('x-powered-by');
  return adapter;
}

class TimedExpressAdapter extends ExpressAdapter {
  constructor(private readonly config: AppConfig) {
    super();
  }

  override initHttpServer(): void {
    this.httpServer = createHttpServer(this.config, this.getInstance());
    this.httpServer.on('clientError', answerClientError);
  }
}

export function configureExpress(
  app: NestExpressApplication,
  config: AppConfig,
  observeResponse: ResponseObserver | undefined,
): void {
  // First, so that the time observed includes reading the body.
  if (observeResponse) app.use(observeResponses(observeResponse));
  const { protectedMode, trustProxy } = config;
  // Before CORS and every route: a request refused here gets no CORS headers either.
  app.use((request: Request, response: Response, next: NextFunction) => {
    const overTls = trustProxy && requestCameOverTls(request.headers['x-forwarded-proto']);
    const headers = securityHeadersFor(request.url, overTls);
    for (const name in headers) response.setHeader(name, headers[name]);
    if (protectedMode && refuseOutsideLoopback(request, response)) return;
    // The body parser would also decode br (and zstd on newer Node), which Fastify does not.
    // Checked only where there are body bytes to decode, as Fastify's parser only runs then.
    const coding = request.headers['content-encoding'];
    if (coding !== undefined && !contentCodingOf(coding) && hasBodyBytes(request)) {
      return next(unsupportedContentEncoding());
    }
    afterPreviousAnswer(request.socket, response, next);
  });
  // The raw body as a Buffer whatever the Content-Type: the contract parses JSON itself. A
  // transaction carries several values: its body has its own limit, and the general parser
  // skips a body already read.
  app.use(TXN_PATH, raw({ type: () => true, limit: config.maxTxnBytes }));
  app.useBodyParser('raw', { type: () => true, limit: config.maxValueBytes });
}

function hasBodyBytes(request: Request): boolean {
  const length = request.headers['content-length'];
  return (
    request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  );
}

/** Answers 403 and returns true when protected mode refuses the request. */
function refuseOutsideLoopback(request: Request, response: Response): boolean {
  const { remoteAddress } = request.socket;
  const refusal = protectedModeRefusal(remoteAddress, request.headers.host, request.url);
  if (refusal === undefined) return false;
  response.statusCode = 403;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.end(refusal);
  return true;
}

function observeResponses(observerFor: ResponseObserver) {
  // Per Express route path, then per method: the observer of its template.
  const observers = new Map<string, Map<string, RouteObserver>>();
  return (request: Request, response: Response, next: NextFunction) => {
    const started = performance.now();
    response.once('finish', () => {
      // Express sets request.route when a route matched; unmatched requests are not observed.
      const path: unknown = (request.route as { path?: unknown } | undefined)?.path;
      if (typeof path !== 'string') return;
      let byMethod = observers.get(path);
      if (byMethod === undefined) observers.set(path, (byMethod = new Map()));
      let observe = byMethod.get(request.method);
      if (observe === undefined) {
        observe = observerFor(request.method, toRouteTemplate(path));
        byMethod.set(request.method, observe);
      }
      observe(response.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };
}
