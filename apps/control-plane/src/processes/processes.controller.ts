import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { isProcessStatus, PROCESS_STATUSES } from '@plexus/domain';
import { Database, listProcesses } from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';
import { checkId } from '../nodes/nodes.service';
import { ApiAdminAuth, ApiAnswer, ApiErrors } from '../openapi/api-responses.decorator';
import { ApiIdQuery } from '../openapi/params.decorator';
import { arrayOf } from '../openapi/schema-ref';
import { MembershipService } from './membership.service';

@ApiTags('processes')
@ApiAdminAuth()
@Controller('processes')
export class ProcessesController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
    private readonly membership: MembershipService,
  ) {}

  /** `archived=true`: the processes gone longer ago than PROCESS_RETENTION_MS instead. */
  @Get()
  @ApiIdQuery('nodeId', 'processes of this node')
  @ApiQuery({ name: 'status', required: false, enum: PROCESS_STATUSES })
  @ApiQuery({
    name: 'archived',
    required: false,
    description: 'true: the archived processes instead',
    schema: { type: 'string', enum: ['true', 'false'], default: 'false' },
  })
  @ApiAnswer(200, arrayOf('Process'), 'the processes, with live details from their heartbeats')
  @ApiErrors(400)
  async list(
    @Query('nodeId') nodeId?: string,
    @Query('status') status?: string,
    @Query('archived') archived?: string,
  ) {
    if (nodeId !== undefined) checkId('nodeId', nodeId);
    if (status !== undefined && !isProcessStatus(status))
      throw new BadRequestException('status must be up, left or lost');
    if (archived !== undefined && archived !== 'true' && archived !== 'false')
      throw new BadRequestException('archived must be true or false');
    const rows = await this.breakers.postgres(() =>
      listProcesses(this.db, { nodeId, status, archived: archived === 'true' }),
    );
    return rows.map((row) => {
      // Heartbeat details describe a live process only.
      const hb = row.status === 'up' ? this.membership.lastHeartbeat(row.processId) : undefined;
      return {
        ...row,
        lastSeenAt: hb && Date.parse(hb.at) > Date.parse(row.lastSeenAt) ? hb.at : row.lastSeenAt,
        appliedVersion: hb?.appliedVersion ?? null,
        modules: hb?.modules ?? {},
        // Each module's health as the process last checked it (runtime status).
        health: hb?.health ?? {},
        load: hb?.load ?? null,
        // The `activation: single` modules this process is the active one for.
        activeModules: hb?.activeModules ?? [],
      };
    });
  }
}
