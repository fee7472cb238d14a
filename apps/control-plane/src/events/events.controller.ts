import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ALL_EVENT_TYPES } from '@plexus/domain';
import { DEFAULT_LIMIT, MAX_LIMIT, parseEventsQuery } from './events-query';
import { EventsService } from './events.service';

const optional = { required: false } as const;

@ApiTags('events')
@ApiBearerAuth()
@Controller('events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /**
   * The audit log, newest first (by recorded time, then position), one page at a time: follow
   * `next` in `after` until it is null. Every page of one listing shows the events committed when
   * its first page was read, so appends during the walk neither repeat nor hide any.
   */
  @Get()
  @ApiQuery({ name: 'nodeId', ...optional })
  @ApiQuery({ name: 'moduleId', ...optional, description: 'module events of this module ID' })
  @ApiQuery({
    name: 'type',
    ...optional,
    isArray: true,
    enum: ALL_EVENT_TYPES,
    description: 'repeated or comma-separated: any of these types',
  })
  @ApiQuery({ name: 'actor', ...optional })
  @ApiQuery({ name: 'correlationId', ...optional })
  @ApiQuery({ name: 'from', ...optional, description: 'ISO-8601 time, inclusive' })
  @ApiQuery({ name: 'to', ...optional, description: 'ISO-8601 time, exclusive' })
  @ApiQuery({ name: 'after', ...optional, description: '`next` of the previous page' })
  @ApiQuery({
    name: 'limit',
    ...optional,
    description: `page size, 1-${MAX_LIMIT} (default ${DEFAULT_LIMIT}); an export streams every event`,
  })
  @ApiQuery({ name: 'format', ...optional, enum: ['json', 'ndjson'] })
  @ApiProduces('application/json', 'application/x-ndjson')
  async list(@Query() query: Record<string, unknown>, @Res() res: FastifyReply): Promise<void> {
    const parsed = parseEventsQuery(query);
    if (parsed.format === 'ndjson') return this.events.export(parsed, res);
    await res.send(await this.events.list(parsed));
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.events.get(id);
  }
}
