import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import {
  ApiHeader,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ALL_EVENT_TYPES } from '@plexus/domain';
import { ApiAdminAuth, ApiErrors } from '../openapi/api-responses.decorator';
import { parseWatchQuery } from './watch-query';
import { WatchService } from './watch.service';

const optional = { required: false } as const;

@ApiTags('events')
@ApiAdminAuth()
@Controller('watch')
export class WatchController {
  constructor(private readonly watch: WatchService) {}

  @Get()
  @ApiOperation({
    summary: 'Watch events as Server-Sent Events',
    description:
      'The events GET /events lists, as they are recorded, fed from NATS. Each message: `id:` the ' +
      "event's global position, `event:` its type, `data:` the event as GET /events/:id answers it. " +
      'Resumable: `Last-Event-ID` (or `after`) first replays what came after that event, then goes ' +
      'live. A `: keep-alive` comment comes every 15 s. A client that falls too far behind is cut ' +
      'off with a last `event: error` message saying why. Rollout progress and process status ' +
      'changes: `type=ProcessConfigApplied,ProcessConfigFailed,ProcessJoined,ProcessLeft,ProcessLost`.',
  })
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
  @ApiQuery({
    name: 'after',
    ...optional,
    description: 'a global position (an `id:`): first replay the events after that one (0: all)',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'as `after`; wins over it (what a reconnecting EventSource sends)',
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({
    status: 200,
    description: 'a stream of Server-Sent Events, one per recorded event, until the client leaves',
    content: {
      'text/event-stream': {
        schema: {
          type: 'string',
          description:
            'messages of `id: <global position>`, `event: <event type>`, `data: <Event as JSON>`; `: keep-alive` comments; a last `event: error` when the client is cut off',
        },
      },
    },
  })
  @ApiErrors(400)
  async watchEvents(
    @Query() query: Record<string, unknown>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.watch.open(parseWatchQuery(query, lastEventId), reply);
  }
}
