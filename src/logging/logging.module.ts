import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { AppLogger } from './app-logger';

const PER_REQUEST_LEVELS = new Set(['debug', 'trace']);

/**
 * Structured JSON logs through pino; pretty only with LOG_PRETTY. One line per request only at
 * debug level, so the default costs nothing on the hot path. Every line logged while a request
 * runs carries its id (taken from X-Request-Id when the caller sends one). Values are never
 * logged, and the Authorization header is redacted.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const level = config.get('logLevel', { infer: true });
        return {
          pinoHttp: {
            level,
            transport: config.get('logPretty', { infer: true })
              ? { target: 'pino-pretty', options: { singleLine: true } }
              : undefined,
            autoLogging: PER_REQUEST_LEVELS.has(level),
            customLogLevel: () => 'debug' as const,
            quietReqLogger: true,
            genReqId: (request: IncomingMessage) => requestId(request.headers['x-request-id']),
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            serializers: {
              req: (request: { id: string; method: string; url: string }) => ({
                id: request.id,
                method: request.method,
                url: request.url,
              }),
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

function requestId(header: string | string[] | undefined): string {
  // Accept a caller's id only if it is short and plain: it is echoed into every log line.
  return typeof header === 'string' && /^[\w.:-]{1,64}$/.test(header) ? header : randomUUID();
}
