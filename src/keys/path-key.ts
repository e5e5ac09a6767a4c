import { isUtf8 } from 'node:buffer';
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { InvalidKeyError } from '../kv/kv.errors';

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
  const raw = path.slice(prefix.length);
  if (!raw.includes('%')) return raw;
  const bytes = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code !== 0x25) {
      bytes[length++] = code;
      continue;
    }
    const byte = parseHexByte(raw, i + 1);
    if (byte < 0) throw new InvalidKeyError('Key has malformed percent-encoding');
    bytes[length++] = byte;
    i += 2;
  }
  const decoded = bytes.subarray(0, length);
  // isUtf8 is native and, unlike toString, never silently substitutes U+FFFD.
  if (!isUtf8(decoded)) throw new InvalidKeyError('Key is not valid UTF-8 after percent-decoding');
  return decoded.toString('utf8');
}

function parseHexByte(text: string, at: number): number {
  const pair = text.slice(at, at + 2);
  return /^[0-9a-fA-F]{2}$/.test(pair) ? parseInt(pair, 16) : -1;
}

/** `@PathKey('/key/')`: the decoded key of the request (see keyFromUrl). */
export const PathKey = createParamDecorator((prefix: string, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<{ originalUrl?: string; url: string }>();
  return keyFromUrl(request.originalUrl ?? request.url, prefix);
});
