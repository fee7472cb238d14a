import {
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
import { ApiBearerAuth, ApiBody, ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
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

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  @Get()
  list() {
    return this.nodes.list();
  }

  @Get(':nodeId')
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
  diff(@Param('nodeId') nodeId: string, @Query('from') from?: string, @Query('to') to?: string) {
    if (from === undefined)
      throw new BadRequestException('from is required: the version to compare from');
    return this.nodes.diff(nodeId, parseVersion(from, 'from')!, parseVersion(to, 'to'));
  }

  @Post(':nodeId/revert')
  @HttpCode(200)
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
  putNode(
    @Param('nodeId') nodeId: string,
    @Body() body: PutNodeDto,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.write(nodeId, { kind: 'PutNode', properties: body.properties }, ctx, res);
  }

  @Delete(':nodeId')
  archive(
    @Param('nodeId') nodeId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.write(nodeId, { kind: 'ArchiveNode' }, ctx, res);
  }

  @Put(':nodeId/modules/:moduleId')
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
    schema: { type: 'object', example: { message: 'hi' } },
  })
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

  @Post(':nodeId/modules/:moduleId/start')
  @Roles('admin', 'operator')
  @HttpCode(200)
  start(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.lifecycle(nodeId, moduleId, 'StartModule', ctx, res);
  }

  @Post(':nodeId/modules/:moduleId/stop')
  @Roles('admin', 'operator')
  @HttpCode(200)
  stop(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @WriteContext() ctx: CommandContext,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.lifecycle(nodeId, moduleId, 'StopModule', ctx, res);
  }

  @Post(':nodeId/modules/:moduleId/restart')
  @Roles('admin', 'operator')
  @HttpCode(200)
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
