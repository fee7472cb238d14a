import {
  applyDecorators,
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import { ApiBody, ApiExcludeEndpoint, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { NodeCommand } from '@plexus/domain';
import { CommandContext } from '@plexus/event-store';
import { Roles } from '../auth/roles.decorator';
import { WriteContext } from '../http/command-context.decorator';
import { stringMapProblem, toStringMap } from '../http/string-map';
import { PutModuleDto } from './dto/put-module.dto';
import { PutNodeDto } from './dto/put-node.dto';
import { RevertNodeDto } from './dto/revert-node.dto';
import { checkId, NodesService } from './nodes.service';
import { setVersionHeaders } from '../http/version-headers';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiBodyErrors,
  ApiErrors,
  ApiWriteHeaders,
  ETAG_HEADER,
} from '../openapi/api-responses.decorator';
import { ApiIdParams } from '../openapi/params.decorator';
import { arrayOf } from '../openapi/schema-ref';

const WRITTEN = 'the node document after the write; ETag is its version';

/** The answers of a write to a node: 200, or 201 when it created the node or the module. */
const ApiNodeWrite = (opts: { creates: boolean }) =>
  applyDecorators(
    ApiAnswer(200, 'NodeWriteAnswer', WRITTEN, ETAG_HEADER),
    ...(opts.creates
      ? [ApiAnswer(201, 'NodeWriteAnswer', `created: ${WRITTEN}`, ETAG_HEADER)]
      : []),
    ApiWriteHeaders(),
    ApiErrors(403),
  );

function parseVersion(raw?: string, field = 'version'): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw new BadRequestException(`${field} must be an integer of at least 1`);
  return Number(raw);
}

function parseAsOf(raw?: string): Date | undefined {
  if (raw === undefined) return undefined;
  const date = new Date(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(date.getTime()))
    throw new BadRequestException('asOf must be an ISO-8601 time such as 2026-01-31T12:00:00Z');
  return date;
}

/** POST /nodes/:nodeId/modules/:moduleId/<action>: what the three lifecycle routes share. */
const ModuleLifecycleRoute = (action: 'start' | 'stop' | 'restart') =>
  applyDecorators(
    Post(`:nodeId/modules/:moduleId/${action}`),
    Roles('admin', 'operator'),
    HttpCode(200),
    ApiIdParams('nodeId', 'moduleId'),
    ApiNodeWrite({ creates: false }),
    ApiBodyErrors(),
    ApiErrors(404, 409),
  );

@ApiTags('nodes')
@ApiAdminAuth()
@Controller('nodes')
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  @Get()
  @ApiAnswer(200, arrayOf('NodeSummary'), 'every live node, by node ID')
  list() {
    return this.nodes.list();
  }

  @Get(':nodeId')
  @ApiIdParams('nodeId')
  @ApiQuery({
    name: 'version',
    required: false,
    description: 'an earlier version (an integer of at least 1); not with asOf',
    schema: { type: 'integer', minimum: 1, example: 2 },
  })
  @ApiQuery({
    name: 'asOf',
    required: false,
    description: 'the document as it was at this ISO-8601 time; not with version',
    schema: { type: 'string', format: 'date-time', example: '2026-01-31T12:00:00Z' },
  })
  @ApiAnswer(200, 'NodeDocument', 'the node document; ETag is its version', ETAG_HEADER)
  @ApiErrors(400, 404)
  async get(
    @Param('nodeId') nodeId: string,
    @Query('version') version: string | undefined,
    @Query('asOf') asOf: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    const at = { version: parseVersion(version), asOf: parseAsOf(asOf) };
    if (at.version !== undefined && at.asOf !== undefined)
      throw new BadRequestException('give version or asOf, not both');
    const doc = await this.nodes.get(nodeId, at);
    setVersionHeaders(res, doc.version);
    return doc;
  }

  @Get(':nodeId/diff')
  @ApiIdParams('nodeId')
  @ApiQuery({
    name: 'from',
    required: true,
    description: 'the version to compare from (an integer of at least 1)',
    schema: { type: 'integer', minimum: 1, example: 2 },
  })
  @ApiQuery({
    name: 'to',
    required: false,
    description: 'the version to compare to (default: the latest)',
    schema: { type: 'integer', minimum: 1, example: 3 },
  })
  @ApiAnswer(200, 'NodeDiff', 'what changed from `from` to `to`, secrets redacted')
  @ApiErrors(400, 404)
  diff(@Param('nodeId') nodeId: string, @Query('from') from?: string, @Query('to') to?: string) {
    if (from === undefined)
      throw new BadRequestException('from is required: the version to compare from');
    return this.nodes.diff(nodeId, parseVersion(from, 'from')!, parseVersion(to, 'to'));
  }

  @Post(':nodeId/revert')
  @HttpCode(200)
  @ApiIdParams('nodeId')
  @ApiNodeWrite({ creates: false })
  @ApiBodyErrors()
  @ApiErrors(404, 409)
  async revert(
    @Param('nodeId') nodeId: string,
    @Body() body: RevertNodeDto,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    const { document, appended } = await this.nodes.revert(nodeId, body.toVersion, {
      ...ctx,
      reason: body.reason,
    });
    setVersionHeaders(res, document.version);
    return { ...document, changed: appended > 0 };
  }

  @Put(':nodeId')
  @ApiIdParams('nodeId')
  @ApiNodeWrite({ creates: true })
  @ApiBodyErrors()
  putNode(
    @Param('nodeId') nodeId: string,
    @Body() body: PutNodeDto,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.write(nodeId, { kind: 'PutNode', properties: body.properties }, ctx, res);
  }

  @Delete(':nodeId')
  @ApiIdParams('nodeId')
  @ApiNodeWrite({ creates: false })
  @ApiErrors(400, 404)
  archive(
    @Param('nodeId') nodeId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.write(nodeId, { kind: 'ArchiveNode' }, ctx, res);
  }

  @Put(':nodeId/modules/:moduleId')
  @ApiIdParams('nodeId', 'moduleId')
  @ApiNodeWrite({ creates: true })
  @ApiBodyErrors()
  @ApiErrors(404, 409)
  putModule(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @Body() body: PutModuleDto,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    checkId('moduleId', moduleId);
    const { type, config, requires, enabled, activation } = body;
    return this.write(
      nodeId,
      { kind: 'PutModule', moduleId, module: { type, config, requires, enabled, activation } },
      ctx,
      res,
    );
  }

  @Patch(':nodeId/modules/:moduleId/config')
  @ApiBody({
    description: 'keys to set; a null value removes the key',
    schema: {
      type: 'object',
      additionalProperties: { type: 'string', nullable: true },
      example: { message: 'hi', 'sessions.timeout.mins': null },
    },
  })
  @ApiIdParams('nodeId', 'moduleId')
  @ApiNodeWrite({ creates: false })
  @ApiBodyErrors()
  @ApiErrors(404, 409)
  patchConfig(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @Body() body: unknown,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    checkId('moduleId', moduleId);
    const problem = stringMapProblem('config', body, true);
    if (problem) throw new BadRequestException(problem);
    const changes = toStringMap(body as Record<string, unknown>);
    return this.write(nodeId, { kind: 'PatchModuleConfig', moduleId, changes }, ctx, res);
  }

  @ModuleLifecycleRoute('start')
  start(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.lifecycle(nodeId, moduleId, 'StartModule', ctx, res);
  }

  @ModuleLifecycleRoute('stop')
  stop(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.lifecycle(nodeId, moduleId, 'StopModule', ctx, res);
  }

  @ModuleLifecycleRoute('restart')
  restart(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.lifecycle(nodeId, moduleId, 'RestartModule', ctx, res);
  }

  /**
   * Any other word after a module: a 400 naming the three actions rather than a bare 404. Fastify
   * tries a route's fixed segments before a parameter, so /start, /stop, /restart and the batch
   * routes are matched first whatever order the controllers are registered in.
   */
  @Post(':nodeId/modules/:moduleId/:action')
  @Roles('admin', 'operator')
  @ApiExcludeEndpoint()
  unknownAction(
    @Param('moduleId') moduleId: string,
    @Param('action') action: string,
    @WriteContext() _ctx: CommandContext, // an invalid If-Match answers first, as on the actions
  ) {
    checkId('moduleId', moduleId);
    throw new BadRequestException(`action must be start, stop or restart, got ${action}`);
  }

  @Delete(':nodeId/modules/:moduleId')
  @ApiIdParams('nodeId', 'moduleId')
  @ApiNodeWrite({ creates: false })
  @ApiErrors(400, 404, 409)
  removeModule(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    checkId('moduleId', moduleId);
    return this.write(nodeId, { kind: 'RemoveModule', moduleId }, ctx, res);
  }

  private lifecycle(
    nodeId: string,
    moduleId: string,
    kind: 'StartModule' | 'StopModule' | 'RestartModule',
    ctx: CommandContext,
    res: FastifyReply,
  ) {
    checkId('moduleId', moduleId);
    return this.write(nodeId, { kind, moduleId }, ctx, res);
  }

  private async write(
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    res: FastifyReply,
  ) {
    const { document, appended, eventTypes, warnings } = await this.nodes.execute(
      nodeId,
      command,
      ctx,
    );
    setVersionHeaders(res, document.version);
    const created = eventTypes[0] === 'NodeCreated' || eventTypes[0] === 'ModuleAdded';
    res.status(created ? 201 : 200);
    return { ...document, changed: appended > 0, ...(warnings.length ? { warnings } : {}) };
  }
}
