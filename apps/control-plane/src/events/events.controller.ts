import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ALL_EVENT_TYPES } from '@plexus/domain';
import { DEFAULT_LIMIT, MAX_LIMIT, parseEventsQuery } from './events-query';
import { EventsService } from './events.service';
import { ApiAdminAuth, ApiAnswer, ApiErrors } from '../openapi/api-responses.decorator';
import { ApiIdQuery, ApiUuidParam } from '../openapi/params.decorator';
import { ref } from '../openapi/schema-ref';

const optional = { required: false } as const;

@ApiTags('events')
@ApiAdminAuth()
@Controller('events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /**
   * The audit log, newest first (by recorded time, then position), one page at a time: follow
   * `next` in `after` until it is null. Every page of one listing shows the events committed when
   * its first page was read, so appends during the walk neither repeat nor hide any.
   */
  @Get()
  @ApiIdQuery('nodeId', 'events of this node')
  @ApiIdQuery('moduleId', 'module events of this module ID')
  @ApiQuery({
    name: 'type',
    ...optional,
    isArray: true,
    enum: ALL_EVENT_TYPES,
    description: 'repeated or comma-separated: any of these types',
  })
  @ApiQuery({
    name: 'actor',
    ...optional,
    description: 'events caused by this token name (1-200 characters)',
    schema: { type: 'string', minLength: 1, maxLength: 200, example: 'admin' },
  })
  @ApiQuery({
    name: 'correlationId',
    ...optional,
    description: 'events of one call (1-200 characters)',
    schema: { type: 'string', minLength: 1, maxLength: 200 },
  })
  @ApiQuery({
    name: 'from',
    ...optional,
    description: 'ISO-8601 time, inclusive',
    schema: { type: 'string', format: 'date-time', example: '2026-01-31T00:00:00Z' },
  })
  @ApiQuery({
    name: 'to',
    ...optional,
    description: 'ISO-8601 time, exclusive',
    schema: { type: 'string', format: 'date-time', example: '2026-02-01T00:00:00Z' },
  })
  @ApiQuery({ name: 'after', ...optional, description: '`next` of the previous page' })
  @ApiQuery({
    name: 'limit',
    ...optional,
    description: `page size, 1-${MAX_LIMIT} (default ${DEFAULT_LIMIT}); an export streams every event`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
  })
  @ApiQuery({ name: 'format', ...optional, enum: ['json', 'ndjson'] })
  @ApiProduces('application/json', 'application/x-ndjson')
  @ApiResponse({
    status: 200,
    description:
      'a page of events, newest first; with format=ndjson every matching event, one JSON object per line',
    content: {
      'application/json': { schema: ref('EventPage') },
      'application/x-ndjson': {
        schema: { type: 'string', description: 'one Event per line' },
      },
    },
  })
  @ApiErrors(400)
  async list(@Query() query: Record<string, unknown>, @Res() res: FastifyReply): Promise<void> {
    const parsed = parseEventsQuery(query);
    if (parsed.format === 'ndjson') return this.events.export(parsed, res);
    await res.send(await this.events.list(parsed));
  }

  @Get(':id')
  @ApiUuidParam('id', 'the event ID')
  @ApiAnswer(200, 'Event', 'the event')
  @ApiErrors(400, 404)
  get(@Param('id') id: string) {
    return this.events.get(id);
  }
}
