/**
 * Protected mode, as Redis has had it since 3.2: while no token is set, kvstore serves only
 * clients on this machine, and tells everyone else how to open it. Two rules:
 *
 * - the peer address must be loopback (127.0.0.0/8, ::1, or either mapped into IPv6);
 * - the Host header must name this machine (`localhost`, `*.localhost`, a 127.0.0.0/8 address
 *   or `[::1]`, with any port). A web page that rebinds its own DNS name to 127.0.0.1 reaches
 *   the server from loopback, but its requests carry its own name as Host (DNS rebinding).
 *   Names under `.localhost` are safe to accept: they never resolve outside loopback
 *   (RFC 6761), and browsers hard-wire them there. A request without Host is accepted: no
 *   browser sends one (HTTP/1.1 requires it, and Node refuses HTTP/1.1 requests without it).
 *
 * The health routes are exempt: an orchestrator probes them from outside loopback (a
 * Kubernetes kubelet from the node's address), and they say nothing about the data.
 */
const HOW_TO_OPEN =
  'To serve other clients, set AUTH_TOKEN (or AUTH_TOKEN_FILE) and send ' +
  '"Authorization: Bearer <token>", or set PROTECTED_MODE=false to serve every client ' +
  'without a token.';

/** The JSON bodies of the two refusals, made once. */
export const REMOTE_PEER_REFUSAL = JSON.stringify({
  error:
    'Protected mode: no AUTH_TOKEN is set, so kvstore serves only clients on this machine ' +
    `(loopback addresses). ${HOW_TO_OPEN}`,
});
export const REMOTE_HOST_REFUSAL = JSON.stringify({
  error:
    'Protected mode: no AUTH_TOKEN is set, so the Host header must name this machine ' +
    '(localhost or a loopback address), which keeps web pages from reaching kvstore through ' +
    `DNS rebinding. ${HOW_TO_OPEN}`,
});

/** The body to answer 403 with, or undefined when the request may go on. */
export function protectedModeRefusal(
  peerAddress: string | undefined,
  host: string | undefined,
  url: string,
): string | undefined {
  if (isHealthRoute(url)) return undefined;
  if (!isLoopbackAddress(peerAddress)) return REMOTE_PEER_REFUSAL;
  if (host !== undefined && !isLoopbackHost(host)) return REMOTE_HOST_REFUSAL;
  return undefined;
}

/** A socket's remoteAddress on this machine's loopback interface. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const LOOPBACK_HOST = new RegExp(
  `^(?:(?:[a-z0-9-]+\\.)*localhost\\.?|127(?:\\.${OCTET}){3}|\\[::1\\])(?::\\d{0,5})?$`,
  'i',
);

/** A Host header value (with or without its port) naming this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/** Exactly the two health routes; any other spelling is not exempt. */
function isHealthRoute(url: string): boolean {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path === '/health' || path === '/health/ready';
}
