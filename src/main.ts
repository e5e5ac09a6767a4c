import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import { AppConfig, ConfigError, parseConfig } from './config/app-config';
import { configureApp } from './app.setup';
import { loadHttpPlatform } from './http/http-platform';
import { AppLogger } from './logging/app-logger';
import { ListenError, logStartupFailure } from './logging/startup-failure';

async function bootstrap(config: AppConfig): Promise<void> {
  const platform = await loadHttpPlatform(config);
  const app = await NestFactory.create(AppModule.forRoot(config), platform.adapter, {
    bodyParser: false,
    // Nest's lines wait for the application's logger. If the application cannot be built,
    // they are never printed (Nest would print the failure as a colored stack trace, and
    // abort): main reports it as one line instead.
    bufferLogs: true,
    autoFlushLogs: false,
    abortOnError: false,
  });
  app.useLogger(app.get(AppLogger));
  app.flushLogs();
  configureApp(app, config, platform);
  drainOnSignals(app);
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    throw new ListenError(config.host, config.port, error as NodeJS.ErrnoException);
  }
  // The bound port, not the configured one: PORT=0 asks the system for a free port.
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  new Logger('kvstore').log(
    `kvstore listening on ${url} (storage: ${config.storage}, http: ${config.httpAdapter}, ` +
      `node: ${process.version}, MAX_DATA_BYTES: ${config.maxDataBytes} of a ` +
      `${config.heapLimitBytes}-byte heap, access: ${accessMode(config)}); ` +
      'endpoints: PUT|GET|DELETE /key/{key}, GET /keys, GET|PUT /ttl/{key}, POST /txn, GET /stats, ' +
      `GET /watch, GET /health, GET /health/ready${config.metricsEnabled ? ', GET /metrics' : ''}, ` +
      'GET /replication, POST /replication/promote, POST /replication/follow, GET /docs, GET /docs-json',
  );
}

function accessMode(config: AppConfig): string {
  if (config.authToken !== null) return 'bearer token required';
  if (config.protectedMode) {
    return 'protected mode, loopback clients only (set AUTH_TOKEN, or PROTECTED_MODE=false, to serve others)';
  }
  return 'open to every client without a token (PROTECTED_MODE=false)';
}

/** Longest a shutdown may take before the process gives up on draining. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * SIGTERM and SIGINT stop accepting connections, finish requests in flight, close storage
 * (flush, fsync, release the lock) and exit 0. Nest's enableShutdownHooks would re-raise the
 * signal instead, so the process would end "killed by SIGTERM" rather than cleanly.
 */
function drainOnSignals(app: INestApplication): void {
  const logger = new Logger('kvstore');
  const drain = (signal: NodeJS.Signals) => {
    logger.log(`${signal} received: draining requests and closing storage`);
    setTimeout(() => {
      logger.error(`Shutdown took longer than ${DRAIN_TIMEOUT_MS} ms; exiting`);
      process.exit(1);
    }, DRAIN_TIMEOUT_MS).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Shutdown failed: ${error instanceof Error ? error.message : error}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', drain);
  process.once('SIGINT', drain);
}

function loadConfig(): AppConfig {
  try {
    return parseConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

const config = loadConfig();
bootstrap(config).catch((error: unknown) => {
  logStartupFailure(config, error);
  process.exit(1);
});
