import { INestApplication } from '@nestjs/common';
import { AppConfig } from './config/app-config';
import { HttpPlatform } from './http/http-platform';
import { MetricsService } from './metrics/metrics.service';
import { setupOpenApi } from './openapi/openapi.setup';

/** Everything done to a created application before it listens: shared by main and the tests. */
export function configureApp(
  app: INestApplication,
  config: AppConfig,
  platform: HttpPlatform,
): void {
  const metrics = config.metricsEnabled ? app.get(MetricsService) : undefined;
  platform.configure(app, metrics?.observerFor.bind(metrics));
  setupOpenApi(app);
}
