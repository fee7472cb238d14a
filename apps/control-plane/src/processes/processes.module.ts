import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ConfigReportsService } from './config-reports.service';
import { FailureDetectorService } from './failure-detector.service';
import { MembershipService } from './membership.service';
import { ProcessArchiverService } from './process-archiver.service';
import { ProcessesController } from './processes.controller';
import { RolloutController } from './rollout.controller';
import { RolloutService } from './rollout.service';

/** Worker processes: membership, config reports, rollout, failure detection and archiving. */
@Module({
  imports: [MetricsModule],
  controllers: [ProcessesController, RolloutController],
  providers: [
    MembershipService,
    ConfigReportsService,
    RolloutService,
    FailureDetectorService,
    ProcessArchiverService,
  ],
  // The autoscaler reads heartbeats.
  exports: [MembershipService],
})
export class ProcessesModule {}
