import { createServer, RequestListener, Server, ServerOptions } from 'node:http';
import { AppConfig } from '../config/app-config';
import { BufferBudget } from './buffer-budget';

/**
 * The HTTP server both platforms run on: the timeouts below, and the budget of bytes held for
 * slow clients (see BufferBudget) in front of the platform's own request handling.
 */
export function createHttpServer(config: AppConfig, listener: RequestListener): Server {
  const budget = new BufferBudget(config.maxBufferedBytes, config.maxValueBytes);
  const server = createServer(serverOptions(config), budget.guard(listener));
  budget.attach(server);
  return server;
}

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
