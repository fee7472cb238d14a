import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RuntimeStatusService } from './runtime-status.service';

/**
 * Module state and health of live processes, for a load balancer or a monitor: 200 when all are
 * healthy, 503 naming what is not (the body is the same status either way). Read roles, as
 * GET /processes.
 */
@ApiTags('processes')
@ApiBearerAuth()
@Controller()
export class RuntimeStatusController {
  constructor(private readonly runtimeStatus: RuntimeStatusService) {}

  /** One process, asked over NATS; 503 quickly when it does not answer. */
  @Get('processes/:processId/runtime-status')
  async ofProcess(
    @Param('processId') processId: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    const { healthy, body } = await this.runtimeStatus.ofProcess(processId);
    res.status(healthy ? 200 : 503);
    return body;
  }

  /** Every live process of the node, asked at once; one that does not answer counts as failing. */
  @Get('nodes/:nodeId/runtime-status')
  async ofNode(@Param('nodeId') nodeId: string, @Res({ passthrough: true }) res: FastifyReply) {
    const { healthy, body } = await this.runtimeStatus.ofNode(nodeId);
    res.status(healthy ? 200 : 503);
    return body;
  }
}
