import { Injectable } from '@nestjs/common';
import { Logger } from 'nestjs-pino';

/** Nest's own start-up chatter (one line per module and route) is only worth reading at debug. */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/** The application's LoggerService: pino, with the framework's start-up lines at debug level. */
@Injectable()
export class AppLogger extends Logger {
  override log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    if (typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context)) {
      this.debug(message, ...params);
    } else {
      super.log(message, ...params);
    }
  }

  /** Nest logs a failed listen itself; main reports it once, naming HOST and PORT. */
  override error(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    if (context === 'NestApplication') {
      this.debug(message, ...params);
    } else {
      super.error(message, ...params);
    }
  }
}
