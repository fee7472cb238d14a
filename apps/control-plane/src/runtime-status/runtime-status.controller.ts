import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiParam, ApiTags } from '@nestjs/swagger';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiErrors,
  ApiUnhealthyResponse,
} from '../openapi/api-responses.decorator';
import { ApiIdParams } from '../openapi/params.decorator';
import type { FastifyReply } from 'fastify';
import { RuntimeStatusService } from './runtime-status.service';

/**
 * Module state and health of live processes, for a load balancer or a monitor: 200 when all are
 * healthy, 503 naming what is not (the body is the same status either way). Read roles, as
 * GET /processes.
 */
@ApiTags('processes')
@ApiAdminAuth()
@Controller()
export class RuntimeStatusController {
  constructor(private readonly runtimeStatus: RuntimeStatusService) {}

  /** One process, asked over NATS; 503 quickly when it does not answer. */
  @Get('processes/:processId/runtime-status')
  @ApiParam({
    name: 'processId',
    description: '1-64 of A-Z a-z 0-9 _ -; anything else is a 400',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  })
  @ApiAnswer(200, 'ProcessRuntimeStatus', 'every module of the process is healthy')
  @ApiUnhealthyResponse(
    'ProcessRuntimeStatus',
    'a module is not healthy, or the process left or did not answer (the body says which)',
  )
  @ApiErrors(400, 404)
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
  @ApiIdParams('nodeId')
  @ApiAnswer(
    200,
    'NodeRuntimeStatus',
    'every live process answered and all their modules are healthy',
  )
  @ApiUnhealthyResponse(
    'NodeRuntimeStatus',
    'a module or a process is not healthy, or the node has no live process (`failing` and `message` say which)',
  )
  @ApiErrors(400, 404)
  async ofNode(@Param('nodeId') nodeId: string, @Res({ passthrough: true }) res: FastifyReply) {
    const { healthy, body } = await this.runtimeStatus.ofNode(nodeId);
    res.status(healthy ? 200 : 503);
    return body;
  }
}
