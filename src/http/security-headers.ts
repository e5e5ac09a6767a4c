import helmet, { HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type HeaderSet = Readonly<Record<string, string>>;

/**
 * The security headers of an answer: the API's own small set on every JSON answer, helmet's
 * full set on the Swagger UI pages, each in its plain-HTTP and its TLS variant, computed once.
 */
export function securityHeadersFor(url: string, overTls: boolean): HeaderSet {
  if (isDocsPath(url)) return overTls ? DOCS_TLS : DOCS_PLAIN;
  return overTls ? API_TLS : API_PLAIN;
}

/**
 * Swagger UI at /docs (its page and assets below /docs/) and the document at /docs-json: the
 * only HTML kvstore serves, and what it needs.
 */
function isDocsPath(url: string): boolean {
  if (!url.startsWith('/docs')) return false;
  const next = url.charCodeAt(5);
  // End, '/', '?' or '-' (docs-json).
  return Number.isNaN(next) || next === 0x2f || next === 0x3f || next === 0x2d;
}

/**
 * What OWASP's REST Security Cheat Sheet ("Security Headers") asks of every API answer, and
 * nothing else: the rest of helmet's set (COOP, CORP, Origin-Agent-Cluster, Referrer-Policy,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies,
 * X-XSS-Protection, a CSP for scripts, styles, fonts and images) tells a browser how to treat an
 * HTML page and its subresources, which a JSON answer is not; the cheat sheet lists those as
 * "mainly for HTML responses". On a small GET they were three quarters of the answer's bytes.
 * - Cache-Control: no-store: values may be sensitive; no browser or proxy keeps a copy.
 *   Conditional requests (ETag, If-None-Match) are made by the client and keep working.
 * - Content-Security-Policy: frame-ancestors 'none' and X-Frame-Options: DENY: an answer is
 *   never framed (drag-and-drop clickjacking), the second for browsers that predate CSP 2.
 * - X-Content-Type-Options: nosniff: the declared JSON type is never sniffed into HTML.
 * - Strict-Transport-Security, over TLS only (see below), with helmet's value.
 * Content-Type, the sheet's last row, is set by each route.
 */
export function apiSecurityHeaders(overTls: boolean): HeaderSet {
  const headers: Record<string, string> = {
    'cache-control': 'no-store',
    'content-security-policy': "frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };
  if (overTls) headers['strict-transport-security'] = DOCS_TLS['strict-transport-security'];
  return Object.freeze(headers);
}

/**
 * The security headers helmet sets, for the Swagger UI pages. With its default options (no CSP nonces) they are the same
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
export function securityHeaders(overTls: boolean): HeaderSet {
  return recordHelmet(overTls ? {} : PLAIN_HTTP);
}

const PLAIN_HTTP: HelmetOptions = {
  strictTransportSecurity: false,
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

const DOCS_PLAIN = securityHeaders(false);
const DOCS_TLS = securityHeaders(true);
const API_PLAIN = apiSecurityHeaders(false);
const API_TLS = apiSecurityHeaders(true);

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

function recordHelmet(options: HelmetOptions): HeaderSet {
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
