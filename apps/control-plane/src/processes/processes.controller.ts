import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Database, listProcesses } from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';
import { checkId } from '../nodes/nodes.service';
import { MembershipService } from './membership.service';

@ApiTags('processes')
@ApiBearerAuth()
@Controller('processes')
export class ProcessesController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
    private readonly membership: MembershipService,
  ) {}

  @Get()
  async list(@Query('nodeId') nodeId?: string, @Query('status') status?: string) {
    if (nodeId !== undefined) checkId('nodeId', nodeId);
    if (status !== undefined && !['up', 'left', 'lost'].includes(status))
      throw new BadRequestException('status must be up, left or lost');
    const rows = await this.breakers.postgres(() => listProcesses(this.db, { nodeId, status }));
    return rows.map((row) => {
      // Heartbeat details describe a live process only.
      const hb = row.status === 'up' ? this.membership.lastHeartbeat(row.processId) : undefined;
      return {
        ...row,
        lastSeenAt: hb && Date.parse(hb.at) > Date.parse(row.lastSeenAt) ? hb.at : row.lastSeenAt,
        appliedVersion: hb?.appliedVersion ?? null,
        modules: hb?.modules ?? {},
        load: hb?.load ?? null,
        // The `activation: single` modules this process is the active one for.
        activeModules: hb?.activeModules ?? [],
      };
    });
  }
}
