import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiAdminAuth, ApiAnswer, ApiErrors } from '../openapi/api-responses.decorator';
import { ApiIdParams } from '../openapi/params.decorator';
import { RolloutService } from './rollout.service';

@ApiTags('processes')
@ApiAdminAuth()
@Controller('nodes')
export class RolloutController {
  constructor(private readonly rollouts: RolloutService) {}

  /** Each live process's applied version and module states; `converged` when all run the latest. */
  @Get(':nodeId/rollout')
  @ApiIdParams('nodeId')
  @ApiAnswer(200, 'Rollout', 'the version each live process runs')
  @ApiErrors(400, 404)
  rollout(@Param('nodeId') nodeId: string) {
    return this.rollouts.rollout(nodeId);
  }
}
