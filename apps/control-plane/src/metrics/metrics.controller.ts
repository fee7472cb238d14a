import { Controller, Get, Header } from '@nestjs/common';
import { ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAdminAuth } from '../openapi/api-responses.decorator';
import { MetricsService } from './metrics.service';

/** Prometheus text. Like every admin route it needs a token (any role): Prometheus sends one with `authorization`. */
@ApiTags('metrics')
@ApiAdminAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiResponse({
    status: 200,
    description: 'Prometheus text exposition format',
    content: {
      'text/plain': {
        schema: {
          type: 'string',
          example:
            '# TYPE plexus_relay_published_events_total counter\nplexus_relay_published_events_total 42\n',
        },
      },
    },
  })
  text(): Promise<string> {
    return this.metrics.text();
  }
}
