import type { ServerOptions } from 'node:http';
import { AppConfig } from '../config/app-config';

/**
 * Slow clients (slowloris) may hold a connection only so long: Node's defaults are 60 s for
 * headers and 300 s for a whole request. Node checks those deadlines only every
 * `connectionsCheckingInterval` (30 s by default), which can be set only when the server is
 * created, so both platforms get a server made with these options.
 */
export function serverOptions(config: AppConfig): ServerOptions {
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs / 2),
  };
}
