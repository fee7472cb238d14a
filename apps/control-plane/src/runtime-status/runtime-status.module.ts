import { Module } from '@nestjs/common';
import { RuntimeStatusController } from './runtime-status.controller';
import { RuntimeStatusService } from './runtime-status.service';

/** GET /processes/:processId/runtime-status and GET /nodes/:nodeId/runtime-status. */
@Module({
  controllers: [RuntimeStatusController],
  providers: [RuntimeStatusService],
})
export class RuntimeStatusModule {}
