import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RolloutService } from './rollout.service';

@ApiTags('processes')
@ApiBearerAuth()
@Controller('nodes')
export class RolloutController {
  constructor(private readonly rollouts: RolloutService) {}

  /** Each live process's applied version and module states; `converged` when all run the latest. */
  @Get(':nodeId/rollout')
  rollout(@Param('nodeId') nodeId: string) {
    return this.rollouts.rollout(nodeId);
  }
}
