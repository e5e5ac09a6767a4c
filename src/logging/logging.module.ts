import { Module, RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { AppLogger } from './app-logger';
import { logsEveryRequest, requestId } from './request-id';

/**
 * Structured JSON logs through pino; pretty only with LOG_PRETTY. One line per request only at
 * debug level or below: only then does pino-http run, with a child logger per request that
 * every line logged while the request runs goes through, carrying its id (taken from
 * X-Request-Id when the caller sends one). At the default level requests pay nothing for
 * logging; a failed request's error line still carries an id (see HttpExceptionFilter).
 * Values are never logged, nor headers: a request is logged as its id, method and URL.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const level = config.get('logLevel', { infer: true });
        const perRequest = logsEveryRequest(level);
        return {
          // No routes: the pino-http middleware is not installed at all. Every path otherwise,
          // spelt out: nestjs-pino's default (`{/*splat}`) matches no request on NestJS 12's
          // Fastify adapter.
          forRoutes: perRequest ? [{ path: '/{*path}', method: RequestMethod.ALL }] : [],
          pinoHttp: {
            level,
            transport: config.get('logPretty', { infer: true })
              ? { target: 'pino-pretty', options: { singleLine: true } }
              : undefined,
            autoLogging: perRequest,
            customLogLevel: () => 'debug' as const,
            quietReqLogger: true,
            // On Fastify the request arrives with Fastify's id, made by the same function.
            genReqId: (request: IncomingMessage) => requestId(request),
            serializers: {
              req: (request: { id: string; method: string; url: string }) => ({
                id: request.id,
                method: request.method,
                url: request.url,
              }),
              res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
            },
          },
        };
      },
    }),
  ],
  providers: [AppLogger],
  exports: [AppLogger],
})
export class LoggingModule {}
