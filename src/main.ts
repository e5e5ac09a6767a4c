import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { AppConfig, ConfigError, parseConfig } from './config/app-config';
import { configureHttpPlatform, createHttpAdapter } from './http/http-platform';
import { AppLogger } from './logging/app-logger';

async function bootstrap(config: AppConfig): Promise<void> {
  const app = await NestFactory.create(AppModule.forRoot(config), createHttpAdapter(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(AppLogger));
  configureHttpPlatform(app, config);
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const url = `http://${config.host}:${config.port}`;
  new Logger('kvstore').log(
    `kvstore listening on ${url} (storage: ${config.storage}, http: ${config.httpAdapter}); ` +
      'endpoints: PUT|GET|DELETE /key/{key}, GET /keys, GET|PUT /ttl/{key}, GET /stats',
  );
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

bootstrap(loadConfig()).catch((error: unknown) => {
  new Logger('kvstore').error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
