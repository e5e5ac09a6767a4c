import { createServer, RequestListener, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppConfig } from '../config/app-config';
import { BufferBudget } from './buffer-budget';

/**
 * The HTTP server both platforms run on: the timeouts below, and the budget of bytes held for
 * slow clients (see BufferBudget) in front of the platform's own request handling.
 */
export function createHttpServer(config: AppConfig, listener: RequestListener): Server {
  const budget = new BufferBudget(config.maxBufferedBytes, config.maxValueBytes);
  const server = createServer(serverOptions(config), budget.guard(listener));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  budget.attach(server);
  return server;
}

/**
 * How long an idle kept-alive connection stays open, the same on both platforms: Fastify's
 * default (it sets it on the server it is given), where Express would keep Node's 5 s. Node
 * closes a connection whose timer ran out before it reads what arrived meanwhile: a server
 * paused for longer than this (a long garbage collection on a busy machine) reset a request
 * that a client had sent on such a connection while it was paused (EPIPE or ECONNRESET on a
 * 1 MiB PUT over Express). Clients close first: the `Keep-Alive: timeout=72` header tells them.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Slow clients (slowloris) may hold a connection only so long: Node's defaults are 60 s for
 * headers and 300 s for a whole request. Node checks those deadlines only every
 * `connectionsCheckingInterval` (30 s by default), which can be set only when the server is
 * created, so both platforms get a server made with these options.
 */
function serverOptions(config: AppConfig): ServerOptions {
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs / 2),
  };
}

/** The socket's response in progress (Node's own field, set while a request is answered). */
type HttpSocket = Duplex & { _httpMessage?: ServerResponse | null };

/**
 * The http.Server's `clientError` listener on both platforms: a request Node's parser refuses
 * (a raw space in the target, a malformed header, headers over 16 KiB) or a client too slow
 * for HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS is answered in the application's JSON error
 * format, where Node would send a bare status line (Express) or Fastify its own body.
 *
 * The answer is written only when it can be read as the answer to the failed request: when no
 * response is in progress, or when the one in progress has sent nothing yet and belongs to
 * the request that failed (its body was still arriving: a bad chunk, a timeout). An error in a
 * pipelined request behind one still being answered would otherwise pass for that earlier
 * request's answer. As Node does, the connection is then closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const pending = (socket as HttpSocket)._httpMessage;
  if (!pending || (!pending.headersSent && !pending.req.complete)) {
    socket.write(clientErrorAnswer(error.code));
  }
  socket.destroy();
}

function clientErrorAnswer(code: string | undefined): string {
  const [status, reason, message] =
    code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'Request timeout: the request did not arrive in time']
      : code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'Request headers are too large (16 KiB at most)']
        : [400, 'Bad Request', 'Bad request'];
  const body = JSON.stringify({ error: message });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}
