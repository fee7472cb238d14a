import { Module } from '@nestjs/common';
import { BatchJobsController } from './batch-jobs.controller';
import { BatchJobsService } from './batch-jobs.service';

/** Batch jobs and schedules of persistence modules, run by the workers that host them. */
@Module({
  controllers: [BatchJobsController],
  providers: [BatchJobsService],
})
export class BatchJobsModule {}
