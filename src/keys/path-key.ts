import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { InvalidKeyError } from '../kv/kv.errors';
import { decodePercentUtf8 } from './percent-decoding';
import { requestOf } from '../common/request-of';

/**
 * The key is everything in the raw path after the route prefix, percent-decoded exactly once.
 * It is read from the raw URL rather than from a route parameter because routers disagree:
 * Express joins decoded segments (so `a%2Fb` and `a/b` collide) and differs from Fastify.
 */
export function keyFromUrl(url: string, prefix: string): string {
  const queryAt = url.indexOf('?');
  let path = queryAt === -1 ? url : url.slice(0, queryAt);
  // An absolute-form target (`PUT http://host/key/k`, RFC 9112 section 3.2.2): keep its path.
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(path);
  if (absolute) path = path.slice(absolute[0].length);
  const key = decodePercentUtf8(path.slice(prefix.length), false);
  if (key === undefined) {
    throw new InvalidKeyError('Key has malformed percent-encoding or is not UTF-8');
  }
  return key;
}

/** `@PathKey('/key/')`: the decoded key of the request (see keyFromUrl). */
export const PathKey = createParamDecorator((prefix: string, context: ExecutionContext) => {
  const request = requestOf<{ originalUrl?: string; url: string }>(context);
  return keyFromUrl(request.originalUrl ?? request.url, prefix);
});
