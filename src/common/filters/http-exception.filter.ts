import { ArgumentsHost, Catch, ExceptionFilter, Inject, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../../config/app-config';
import { idOfRequest } from '../../logging/request-id';
import { BodyLimits, bodyLimitsOf, HttpError, toHttpError } from './http-error';

/**
 * Answers every failed request with a JSON `{ "error": ... }` body and the right status. An
 * unexpected error is logged with the request's id, and the 500 answer carries the same id,
 * so that what a client reports can be found in the logs; the body says nothing of internals.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);
  private readonly limits: BodyLimits;

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    config: ConfigService<AppConfig, true>,
  ) {
    this.limits = bodyLimitsOf({
      maxValueBytes: config.get('maxValueBytes', { infer: true }),
      maxTxnBytes: config.get('maxTxnBytes', { infer: true }),
    });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse();
    const request = http.getRequest<IncomingMessage & { originalUrl?: string }>();
    const {
      status,
      body,
      headers = {},
    } = toHttpError(exception, this.limits, request.originalUrl ?? request.url) ??
    this.internalError(exception, request);
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, body, status);
  }

  private internalError(
    exception: unknown,
    request: IncomingMessage | { raw: IncomingMessage },
  ): HttpError {
    const raw: IncomingMessage & { id?: unknown } = 'raw' in request ? request.raw : request;
    const requestId = idOfRequest(raw);
    this.logger.error({
      msg: 'Request failed with an unexpected error',
      // When pino-http runs, the request's logger adds the id already.
      ...(raw.id === undefined && { reqId: requestId }),
      err: exception instanceof Error ? exception : new Error(String(exception)),
    });
    return { status: 500, body: { error: 'Internal server error', requestId } };
  }
}
