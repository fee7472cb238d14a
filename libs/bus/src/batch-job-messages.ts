import type { JobParams, JobStatus, JobView, ScheduleView } from '@plexus/batch-jobs';

/** Control plane -> any process running a persistence module (see batchJobsSubject). */
export type BatchJobRequest =
  | { op: 'list'; status?: JobStatus; limit?: number }
  | { op: 'get'; jobId: string }
  | {
      op: 'submit';
      jobType: string;
      params?: JobParams;
      submittedBy: string;
      /** The client's Idempotency-Key header. */
      idempotencyKey?: string;
    }
  | { op: 'cancel'; jobId: string }
  | { op: 'list-schedules' }
  | {
      op: 'put-schedule';
      scheduleId: string;
      jobType: string;
      params?: JobParams;
      everyMs: number;
      enabled?: boolean;
      /** ISO time of the first due time; default one period from now. */
      firstDueAt?: string;
    };

/**
 * statusCode follows the admin API: 400 bad input, 404 no such job, 409 read-only or an
 * idempotency key another request used, 503 database down.
 */
export type BatchJobReply =
  | { ok: true; jobs: JobView[] }
  | {
      ok: true;
      job: JobView;
      outcome?: 'cancelled' | 'finished';
      /** submit: an earlier request with the same idempotency key created the job. */
      replayed?: boolean;
    }
  | { ok: true; schedules: ScheduleView[] }
  | { ok: true; schedule: ScheduleView }
  | { ok: false; statusCode: number; message: string };
