import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import { ApiHeader, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_KEY_RULE,
  JOB_STATUSES,
  JobStatus,
} from '@plexus/batch-jobs';
import { CommandContext } from '@plexus/event-store';
import { Roles } from '../auth/roles.decorator';
import { WriteContext } from '../http/command-context.decorator';
import { checkId } from '../nodes/nodes.service';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiBodyErrors,
  ApiErrors,
} from '../openapi/api-responses.decorator';
import { ApiIdParams, ApiIdQuery, ApiUuidParam } from '../openapi/params.decorator';
import { arrayOf } from '../openapi/schema-ref';
import { BatchJobsService } from './batch-jobs.service';
import { PutBatchScheduleDto } from './dto/put-batch-schedule.dto';
import { SubmitBatchJobDto } from './dto/submit-batch-job.dto';

@ApiTags('batch-jobs')
@ApiAdminAuth()
@Controller()
export class BatchJobsController {
  constructor(private readonly batchJobs: BatchJobsService) {}

  /**
   * 202: the job is queued; GET /batch-jobs/:jobId follows it. With an Idempotency-Key, a retry
   * of the same request answers 200 with the job the first one created (Idempotent-Replayed:
   * true), and the key with another request is a 409.
   */
  @Post('nodes/:nodeId/modules/:moduleId/batch-jobs')
  @HttpCode(202)
  @Roles('admin', 'operator')
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: `${IDEMPOTENCY_KEY_RULE}, unique per request: a retry with the same key and request returns the first job`,
  })
  @ApiIdParams('nodeId', 'moduleId')
  @ApiAnswer(202, 'BatchJob', 'queued: GET /batch-jobs/{jobId} follows it')
  @ApiAnswer(
    200,
    'BatchJob',
    'a retry with the same Idempotency-Key: the job the first request created',
    {
      'Idempotent-Replayed': { description: 'true', schema: { type: 'string', enum: ['true'] } },
    },
  )
  @ApiBodyErrors()
  @ApiErrors(403, 404, 409)
  async submit(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @Body() body: SubmitBatchJobDto,
    @WriteContext() ctx: CommandContext,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey))
      throw new BadRequestException(`the Idempotency-Key header must be ${IDEMPOTENCY_KEY_RULE}`);
    const { job, replayed } = await this.batchJobs.submit(
      nodeId,
      moduleId,
      body,
      ctx.actor,
      idempotencyKey,
    );
    if (replayed) res.status(200).header('Idempotent-Replayed', 'true');
    return job;
  }

  @Get('batch-jobs')
  @ApiIdQuery('nodeId', 'jobs of this node')
  @ApiIdQuery('moduleId', 'jobs of modules with this ID')
  @ApiQuery({ name: 'status', required: false, enum: JOB_STATUSES })
  @ApiAnswer(
    200,
    'BatchJobList',
    'jobs of every persistence module, newest first; `unanswered` names the modules no process answered for',
  )
  @ApiErrors(400)
  list(
    @Query('nodeId') nodeId?: string,
    @Query('moduleId') moduleId?: string,
    @Query('status') status?: string,
  ) {
    if (nodeId !== undefined) checkId('nodeId', nodeId);
    if (moduleId !== undefined) checkId('moduleId', moduleId);
    if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status))
      throw new BadRequestException(`status must be one of ${JOB_STATUSES.join(', ')}`);
    return this.batchJobs.list({ nodeId, moduleId, status: status as JobStatus | undefined });
  }

  @Get('batch-jobs/:jobId')
  @ApiUuidParam('jobId', 'the job')
  @ApiAnswer(200, 'BatchJob', 'the job with its progress and failed chunks')
  @ApiErrors(400, 404)
  get(@Param('jobId') jobId: string) {
    return this.batchJobs.get(jobId);
  }

  @Post('batch-jobs/:jobId/cancel')
  @HttpCode(200)
  @Roles('admin', 'operator')
  @ApiUuidParam('jobId', 'the job')
  @ApiAnswer(200, 'BatchJob', 'the cancelled job')
  @ApiBodyErrors()
  @ApiErrors(403, 404, 409)
  cancel(@Param('jobId') jobId: string) {
    return this.batchJobs.cancel(jobId);
  }

  /** Creates or replaces a recurring job on a writable persistence module. */
  @Put('nodes/:nodeId/modules/:moduleId/batch-schedules/:scheduleId')
  @Roles('admin', 'operator')
  @ApiIdParams('nodeId', 'moduleId', 'scheduleId')
  @ApiAnswer(200, 'BatchSchedule', 'the schedule as stored')
  @ApiBodyErrors()
  @ApiErrors(403, 404, 409)
  putSchedule(
    @Param('nodeId') nodeId: string,
    @Param('moduleId') moduleId: string,
    @Param('scheduleId') scheduleId: string,
    @Body() body: PutBatchScheduleDto,
  ) {
    return this.batchJobs.putSchedule(nodeId, moduleId, scheduleId, body);
  }

  @Get('batch-schedules')
  @ApiIdQuery('nodeId', 'schedules of this node')
  @ApiIdQuery('moduleId', 'schedules of modules with this ID')
  @ApiAnswer(200, 'BatchScheduleList', 'recurring jobs, once per database')
  @ApiErrors(400)
  schedules(@Query('nodeId') nodeId?: string, @Query('moduleId') moduleId?: string) {
    if (nodeId !== undefined) checkId('nodeId', nodeId);
    if (moduleId !== undefined) checkId('moduleId', moduleId);
    return this.batchJobs.schedules({ nodeId, moduleId });
  }

  @Get('batch-job-types')
  @ApiAnswer(200, arrayOf('BatchJobType'), 'the registered job types with their params schema')
  types() {
    return this.batchJobs.types();
  }
}
