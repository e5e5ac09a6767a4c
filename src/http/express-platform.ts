import { raw, type NextFunction, type Request, type Response } from 'express';
import { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import { TXN_PATH } from '../common/filters/http-error';
import { AppConfig } from '../config/app-config';
import { ResponseObserver } from './response-observer';
import { toRouteTemplate } from './route-template';
import { securityHeaders } from './security-headers';
import { createHttpServer } from './server-options';

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
  }
}

export function configureExpress(
  app: NestExpressApplication,
  config: AppConfig,
  observeResponse: ResponseObserver | undefined,
): void {
  // First, so that the time observed includes reading the body.
  if (observeResponse) app.use(observeResponses(observeResponse));
  const headers = Object.entries(securityHeaders());
  app.use((_request: Request, response: Response, next: NextFunction) => {
    for (const [name, value] of headers) response.setHeader(name, value);
    next();
  });
  // The raw body as a Buffer whatever the Content-Type: the contract parses JSON itself. A
  // transaction carries several values: its body has its own limit, and the general parser
  // skips a body already read.
  app.use(TXN_PATH, raw({ type: () => true, limit: config.maxTxnBytes }));
  app.useBodyParser('raw', { type: () => true, limit: config.maxValueBytes });
}

function observeResponses(observe: ResponseObserver) {
  const templates = new Map<string, string>();
  return (request: Request, response: Response, next: NextFunction) => {
    const started = performance.now();
    response.once('finish', () => {
      // Express sets request.route when a route matched; unmatched requests are not observed.
      const path: unknown = (request.route as { path?: unknown } | undefined)?.path;
      if (typeof path !== 'string') return;
      let route = templates.get(path);
      if (route === undefined) templates.set(path, (route = toRouteTemplate(path)));
      observe(request.method, route, response.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };
}
