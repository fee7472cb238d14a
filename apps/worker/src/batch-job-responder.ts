import type { NatsConnection, Subscription } from 'nats';
import { BATCH_JOBS_QUEUE, BatchJobReply, BatchJobRequest, batchJobsSubject } from '@plexus/bus';
import {
  IdempotencyKeyReused,
  isBatchJobAccess,
  JobSubmissionError,
  ModuleHost,
  ModuleLogger,
  PersistenceModule,
  ReadOnlyModuleError,
} from '@plexus/module-runtime';
import { errorText } from '@plexus/common';

/**
 * Answers batch-job requests for the persistence modules this process runs. It subscribes to a
 * module's subject while the module runs here and leaves it when it stops, so requests go only
 * to processes that can answer them (one of them, through the queue group).
 */
export class BatchJobResponder {
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly host: ModuleHost,
    private readonly nodeId: string,
    private readonly logger: ModuleLogger,
  ) {}

  /** Follows the modules that run now (called after each applied document). */
  sync() {
    const running = new Set(
      Object.keys(this.host.statuses()).filter((id) => isBatchJobAccess(this.host.instance(id))),
    );
    for (const [id, sub] of this.subscriptions)
      if (!running.has(id)) {
        sub.unsubscribe();
        this.subscriptions.delete(id);
      }
    for (const id of running) {
      if (this.subscriptions.has(id) || this.nc.isClosed()) continue;
      const sub = this.nc.subscribe(batchJobsSubject(this.nodeId, id), {
        queue: BATCH_JOBS_QUEUE,
        callback: (err, msg) => {
          if (err) return;
          void this.answer(id, msg.data).then((reply) => {
            try {
              msg.respond(JSON.stringify(reply));
            } catch {
              /* the requester is gone */
            }
          });
        },
      });
      this.subscriptions.set(id, sub);
    }
  }

  stop() {
    for (const sub of this.subscriptions.values()) sub.unsubscribe();
    this.subscriptions.clear();
  }

  private async answer(moduleId: string, data: Uint8Array): Promise<BatchJobReply> {
    const module = this.host.instance(moduleId);
    if (!isBatchJobAccess(module))
      return { ok: false, statusCode: 503, message: `module "${moduleId}" is not running here` };
    let request: BatchJobRequest;
    try {
      request = JSON.parse(new TextDecoder().decode(data));
    } catch {
      return { ok: false, statusCode: 400, message: 'the request is not JSON' };
    }
    try {
      return await this.handle(module, request);
    } catch (err) {
      if (err instanceof ReadOnlyModuleError || err instanceof IdempotencyKeyReused)
        return { ok: false, statusCode: 409, message: err.message };
      if (err instanceof JobSubmissionError)
        return { ok: false, statusCode: 400, message: err.message };
      this.logger.warn('batch-job request failed', {
        moduleId,
        op: request.op,
        error: errorText(err),
      });
      return {
        ok: false,
        statusCode: 503,
        message: `the database of module "${moduleId}" did not answer: ${errorText(err)}`,
      };
    }
  }

  private async handle(
    module: PersistenceModule,
    request: BatchJobRequest,
  ): Promise<BatchJobReply> {
    switch (request.op) {
      case 'list':
        return {
          ok: true,
          jobs: await module.listJobs({ status: request.status, limit: request.limit }),
        };
      case 'get': {
        const job = await module.getJob(request.jobId);
        return job
          ? { ok: true, job }
          : { ok: false, statusCode: 404, message: `batch job "${request.jobId}" does not exist` };
      }
      case 'submit': {
        const { job, replayed } = await module.submitJob(
          request.jobType,
          request.params,
          request.submittedBy,
          request.idempotencyKey,
        );
        return { ok: true, job, replayed };
      }
      case 'cancel': {
        const { outcome, job } = await module.cancelJob(request.jobId);
        return job
          ? { ok: true, job, outcome: outcome === 'cancelled' ? 'cancelled' : 'finished' }
          : { ok: false, statusCode: 404, message: `batch job "${request.jobId}" does not exist` };
      }
      case 'list-schedules':
        return { ok: true, schedules: await module.listSchedules() };
      case 'put-schedule':
        return {
          ok: true,
          schedule: await module.putSchedule({
            scheduleId: request.scheduleId,
            jobType: request.jobType,
            params: request.params,
            everyMs: request.everyMs,
            enabled: request.enabled,
            firstDueAt: request.firstDueAt ? new Date(request.firstDueAt) : undefined,
          }),
        };
      default:
        return {
          ok: false,
          statusCode: 400,
          message: 'op must be list, get, submit, cancel, list-schedules or put-schedule',
        };
    }
  }
}
