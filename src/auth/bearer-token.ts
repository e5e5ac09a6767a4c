import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from './authentication.error';

/**
 * Tokens are compared as SHA-256 digests with timingSafeEqual: equal lengths, constant time,
 * so neither the length nor a prefix of the token leaks through response timing.
 */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Throws AuthenticationError unless `header` is `Bearer <token>` for the token of `expected`. */
export function checkBearerToken(header: unknown, expected: Buffer): void {
  const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
  if (match === null) throw new AuthenticationError('Missing bearer token');
  if (!timingSafeEqual(tokenDigest(match[1]), expected)) {
    throw new AuthenticationError('Invalid bearer token');
  }
}
