import { Module } from '@nestjs/common';
import { NodesController } from './nodes.controller';
import { NodesService } from './nodes.service';

/** Node documents and their modules: read, diff, write, revert, start/stop/restart. */
@Module({
  controllers: [NodesController],
  providers: [NodesService],
})
export class NodesModule {}
