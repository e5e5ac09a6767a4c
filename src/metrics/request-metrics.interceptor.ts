import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import type { ServerResponse } from 'node:http';
import { Observable } from 'rxjs';
import { MetricsService } from './metrics.service';

/**
 * Times every routed request up to the last byte of its answer, errors included (the status
 * is read when the response finishes, after the exception filter has set it).
 */
@Injectable()
export class RequestMetricsInterceptor implements NestInterceptor {
  private readonly routes = new WeakMap<object, string>();

  constructor(private readonly metrics: MetricsService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const started = performance.now();
    const http = context.switchToHttp();
    const method = http.getRequest<{ method: string }>().method;
    const reply = http.getResponse<ServerResponse | { raw: ServerResponse }>();
    const response = 'raw' in reply ? reply.raw : reply;
    const route = this.routeOf(context);
    response.once('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      this.metrics.observeRequest(method, route, response.statusCode, seconds);
    });
    return next.handle();
  }

  /** The route template (`/key/{key}`), never the path itself: label values stay few. */
  private routeOf(context: ExecutionContext): string {
    const handler = context.getHandler();
    let route = this.routes.get(handler);
    if (route === undefined) {
      const parts = [context.getClass(), handler].map(
        (target) => (Reflect.getMetadata(PATH_METADATA, target) as string | undefined) ?? '',
      );
      route = `/${parts.filter((part) => part && part !== '/').join('/')}`.replace(
        /\{\/\*(\w+)\}/g,
        '/{$1}',
      );
      this.routes.set(handler, route);
    }
    return route;
  }
}
