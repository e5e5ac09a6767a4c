import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../../src/app.module';
import { CLOCK, Clock, systemClock } from '../../src/clock/clock';
import { AppConfig, parseConfig } from '../../src/config/app-config';
import { configureApp } from '../../src/app.setup';
import { loadHttpPlatform } from '../../src/http/http-platform';

export const HTTP_ADAPTERS = ['express', 'fastify'] as const;
export type HttpAdapterName = (typeof HTTP_ADAPTERS)[number];

export interface TestApp {
  readonly app: INestApplication;
  readonly config: AppConfig;
  /** Base URL of the listening server, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the real application on a random loopback port (or one of `listenHost`), configured
 * as `main.ts` does it, with an optional clock in place of the system one.
 */
export async function startTestApp(
  environment: Record<string, string> = {},
  clock: Clock = systemClock,
  listenHost = '127.0.0.1',
): Promise<TestApp> {
  const config = parseConfig({ LOG_LEVEL: 'error', ...environment });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(CLOCK)
    .useValue(clock)
    .compile();
  const platform = await loadHttpPlatform(config);
  const app = moduleRef.createNestApplication(platform.adapter, {
    bodyParser: false,
    logger: ['error'],
  });
  configureApp(app, config, platform);
  await app.listen(0, listenHost);
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://${listenHost}:${port}`;
  return { app, config, url, close: () => app.close() };
}
