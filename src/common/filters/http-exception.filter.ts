import { ArgumentsHost, Catch, ExceptionFilter, Inject, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import { AppConfig } from '../../config/app-config';
import { HttpError, toHttpError } from './http-error';

const INTERNAL_ERROR: HttpError = { status: 500, body: { error: 'Internal server error' } };

/** Answers every failed request with a JSON `{ "error": ... }` body and the right status. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);
  private readonly maxValueBytes: number;

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    config: ConfigService<AppConfig, true>,
  ) {
    this.maxValueBytes = config.get('maxValueBytes', { infer: true });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse();
    const answer = toHttpError(exception, this.maxValueBytes);
    if (answer === undefined) {
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : exception,
      );
    }
    const { status, body, headers = {} } = answer ?? INTERNAL_ERROR;
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, body, status);
  }
}
