import { Controller, Get, Header } from '@nestjs/common';
import { MetricsRoute } from '../auth/public.decorator';
import { MetricsService } from './metrics.service';

@MetricsRoute()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text exposition format. */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
