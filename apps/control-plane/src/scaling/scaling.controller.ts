import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiBodyErrors,
  ApiErrors,
  ApiWriteHeaders,
} from '../openapi/api-responses.decorator';
import { ApiIdParams } from '../openapi/params.decorator';
import { ref } from '../openapi/schema-ref';
import { CommandContext } from '@plexus/event-store';
import { WriteContext } from '../http/command-context.decorator';
import { ScalingService } from './scaling.service';

@ApiTags('scaling')
@ApiAdminAuth()
@Controller('nodes')
export class ScalingController {
  constructor(private readonly scaling: ScalingService) {}

  /** The policy, the process count to run (`desired`) and the last ScaleRecommended. */
  @Get(':nodeId/scaling')
  @ApiIdParams('nodeId')
  @ApiAnswer(
    200,
    'ScalingState',
    'the policy, the process count to run and the last recommendation',
  )
  @ApiErrors(400, 404)
  get(@Param('nodeId') nodeId: string) {
    return this.scaling.get(nodeId);
  }

  @Put(':nodeId/scaling')
  @ApiBody({
    description:
      'min and max processes; target per process: event-loop utilisation percent (metric ' +
      'eventLoopUtilization, the default) or requests/s (metric requestsPerSec); stabilisation ' +
      'windows in seconds (defaults 0 up, 300 down)',
    schema: ref('ScalingPolicyBody'),
  })
  @ApiIdParams('nodeId')
  @ApiWriteHeaders()
  @ApiAnswer(200, 'ScalingState', 'the policy as stored, with the process count to run')
  @ApiBodyErrors()
  @ApiErrors(403, 404, 409)
  put(@Param('nodeId') nodeId: string, @Body() body: unknown, @WriteContext() ctx: CommandContext) {
    return this.scaling.setPolicy(nodeId, body, ctx);
  }
}
