import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Levels at which every request gets a log line (and pino-http runs at all). */
export function logsEveryRequest(level: string): boolean {
  return level === 'debug' || level === 'trace';
}

/**
 * The id that ties a request's log lines together: the caller's X-Request-Id when it is short
 * and plain (it is echoed into every line), otherwise a fresh UUID.
 */
export function requestId(request: Pick<IncomingMessage, 'headers'>): string {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && /^[\w.:-]{1,64}$/.test(header) ? header : randomUUID();
}

/**
 * The id of a request being answered: the one its per-request log line carries when those
 * are on (pino-http stores it on the request), otherwise made now.
 */
export function idOfRequest(request: IncomingMessage & { id?: unknown }): string {
  return typeof request.id === 'string' ? request.id : requestId(request);
}
