import helmet, { HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The security headers helmet sets. With its default options (no CSP nonces) they are the same
 * for every response, so helmet runs once per variant, here, against a recording response; each
 * request then gets the recorded headers in one call instead of a dozen middleware steps. The
 * Content-Security-Policy allows Swagger UI's own assets.
 *
 * Two variants: over plain HTTP, neither HSTS nor the CSP's `upgrade-insecure-requests` is
 * sent. Over plain HTTP from any host but localhost, that directive makes the browser fetch
 * Swagger UI's scripts over https, which the server does not speak (a blank /docs), and HSTS
 * means nothing there (RFC 6797 section 8.1). kvstore itself only speaks plain HTTP: a request
 * came over TLS only when a trusted proxy says so (see requestCameOverTls).
 */
export function securityHeaders(overTls: boolean): Readonly<Record<string, string>> {
  return recordHelmet(overTls ? {} : PLAIN_HTTP);
}

const PLAIN_HTTP: HelmetOptions = {
  strictTransportSecurity: false,
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

/**
 * Whether the client reached a proxy in front of kvstore over TLS: the first X-Forwarded-Proto
 * value (the one the client-facing proxy set, as Express reads it), believed only with
 * TRUST_PROXY=true, since any client can send the header.
 */
export function requestCameOverTls(forwardedProto: string | string[] | undefined): boolean {
  const value = Array.isArray(forwardedProto) ? forwardedProto[0] : forwardedProto;
  if (value === undefined) return false;
  const comma = value.indexOf(',');
  return (comma === -1 ? value : value.slice(0, comma)).trim().toLowerCase() === 'https';
}

function recordHelmet(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => {
    finished = true;
  });
  // A helmet version that computed headers per request or asynchronously must not be frozen.
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return Object.freeze(headers);
}
