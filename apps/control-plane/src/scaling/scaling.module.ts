import { Module } from '@nestjs/common';
import { ProcessesModule } from '../processes/processes.module';
import { AutoscalerService } from './autoscaler.service';
import { ScalingController } from './scaling.controller';
import { ScalingService } from './scaling.service';

/** A node's recommended process count: set by hand or by the autoscaler from heartbeats. */
@Module({
  imports: [ProcessesModule],
  controllers: [ScalingController],
  providers: [ScalingService, AutoscalerService],
})
export class ScalingModule {}
