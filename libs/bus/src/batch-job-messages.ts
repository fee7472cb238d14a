import type { JobParams, JobStatus, JobView } from '@plexus/batch-jobs';

/** Control plane -> any process running a persistence module (see batchJobsSubject). */
export type BatchJobRequest =
  | { op: 'list'; status?: JobStatus; limit?: number }
  | { op: 'get'; jobId: string }
  | { op: 'submit'; jobType: string; params?: JobParams; submittedBy: string }
  | { op: 'cancel'; jobId: string };

/** statusCode follows the admin API: 400 bad input, 404 no such job, 409 read-only, 503 database down. */
export type BatchJobReply =
  | { ok: true; jobs: JobView[] }
  | { ok: true; job: JobView; outcome?: 'cancelled' | 'finished' }
  | { ok: false; statusCode: number; message: string };
