import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The security headers helmet sets. With its default options (no CSP nonces) they are the same
 * for every response, so helmet runs once, here, against a recording response; each request
 * then gets the recorded headers in one call instead of a dozen middleware steps. The default
 * Content-Security-Policy allows Swagger UI's own assets.
 */
export function securityHeaders(): Readonly<Record<string, string>> {
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
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, () => {
    finished = true;
  });
  // A helmet version that computed headers per request or asynchronously must not be frozen.
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return Object.freeze(headers);
}
