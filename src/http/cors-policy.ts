import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import { AppConfig } from '../config/app-config';
import { HeaderSet } from './security-headers';

const METHODS = ['GET', 'PUT', 'DELETE', 'POST'];
const ALLOWED_HEADERS = [
  'Content-Type',
  'Authorization',
  'If-Match',
  'If-None-Match',
  'Last-Event-ID',
];
const EXPOSED_HEADERS = ['ETag', 'X-Kv-Revision'];

/** What `app.enableCors()` is given: the `cors` package (Express) or `@fastify/cors`. */
export function corsOptions(config: AppConfig): CorsOptions & { strictPreflight: boolean } {
  return {
    origin: config.corsOrigin === '*' ? '*' : config.corsOrigin.split(',').map((o) => o.trim()),
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    // @fastify/cors answers an OPTIONS request without Origin with a plain-text 400; the
    // cors package behind Express answers 204. Both platforms answer alike.
    strictPreflight: false,
  };
}

/**
 * CORS for `CORS_ORIGIN=*` (the default) on Fastify, as @fastify/cors answers it with the
 * options above: the same headers for every origin, so they are merged into each security
 * header set once instead of being worked out per request. @fastify/cors spreads its options
 * into a new object, resolves the origin through a callback and sets two headers on every
 * request, and Nest then copies every reply header it set onto the Node response; a profile of
 * GET put that at about 3% of the server's time. A list of origins depends on the request's
 * Origin and stays with @fastify/cors.
 */
export class AnyOriginCors {
  private readonly answers = new Map<HeaderSet, HeaderSet>();
  private readonly preflights = new Map<HeaderSet, HeaderSet>();

  /** The headers of an answer to any request but a preflight. */
  answer(security: HeaderSet): HeaderSet {
    return this.merged(this.answers, security, ANSWER);
  }

  /** A preflight's (OPTIONS) headers: answered 204 with no body, whatever the path. */
  preflight(security: HeaderSet): HeaderSet {
    return this.merged(this.preflights, security, PREFLIGHT);
  }

  private merged(sets: Map<HeaderSet, HeaderSet>, security: HeaderSet, cors: HeaderSet) {
    let headers = sets.get(security);
    if (headers === undefined)
      sets.set(security, (headers = Object.freeze({ ...security, ...cors })));
    return headers;
  }
}

const ANSWER: HeaderSet = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
};
const PREFLIGHT: HeaderSet = {
  ...ANSWER,
  'access-control-allow-methods': METHODS.join(', '),
  'access-control-allow-headers': ALLOWED_HEADERS.join(', '),
  // Safari waits for a body after a 204 without it (as @fastify/cors notes).
  'content-length': '0',
};
