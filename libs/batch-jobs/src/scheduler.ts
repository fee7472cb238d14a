import type { Pool } from 'pg';
import { inTransaction, insertJob, JobSubmissionError } from './job-store';
import { JobParams, JobTypeRegistry } from './job-types';
import { errorText, Logger } from '@plexus/common';

export interface ScheduleDefinition {
  scheduleId: string;
  jobType: string;
  params?: JobParams;
  everyMs: number;
  /** First due time; default now + everyMs. */
  firstDueAt?: Date;
  enabled?: boolean;
}

export interface ScheduleFire {
  scheduleId: string;
  dueAt: string;
  jobId: string;
  firedBy: string;
}

export interface ScheduleView {
  scheduleId: string;
  jobType: string;
  params: JobParams;
  everyMs: number;
  nextDueAt: string;
  enabled: boolean;
  lastFiredAt: string | null;
  /** Why the last due time could not submit its job (it was skipped). */
  lastError: string | null;
}

const SCHEDULE_COLUMNS = `schedule_id, job_type, params, every_ms, next_due_at, enabled, last_fired_at, last_error`;

function toScheduleView(r: any): ScheduleView {
  return {
    scheduleId: r.schedule_id,
    jobType: r.job_type,
    params: r.params,
    everyMs: Number(r.every_ms),
    nextDueAt: r.next_due_at.toISOString(),
    enabled: r.enabled,
    lastFiredAt: r.last_fired_at ? r.last_fired_at.toISOString() : null,
    lastError: r.last_error,
  };
}

/**
 * Creates or replaces a recurring job. With a registry, the job type and params are checked
 * first (JobSubmissionError), so that a bad schedule is refused now rather than skipped later.
 */
export async function upsertSchedule(
  pool: Pool,
  s: ScheduleDefinition,
  registry?: JobTypeRegistry,
): Promise<ScheduleView> {
  if (registry) {
    const problems = registry.problems(s.jobType, s.params ?? {});
    if (problems.length) throw new JobSubmissionError(problems);
  }
  const first = s.firstDueAt ?? new Date(Date.now() + s.everyMs);
  const { rows } = await pool.query(
    `INSERT INTO plexus_batch_schedule (schedule_id, job_type, params, every_ms, next_due_at, enabled)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (schedule_id) DO UPDATE SET job_type = $2, params = $3, every_ms = $4,
       next_due_at = $5, enabled = $6, last_error = NULL
     RETURNING ${SCHEDULE_COLUMNS}`,
    [s.scheduleId, s.jobType, JSON.stringify(s.params ?? {}), s.everyMs, first, s.enabled ?? true],
  );
  return toScheduleView(rows[0]);
}

export async function listSchedules(pool: Pool): Promise<ScheduleView[]> {
  const { rows } = await pool.query(
    `SELECT ${SCHEDULE_COLUMNS} FROM plexus_batch_schedule ORDER BY schedule_id`,
  );
  return rows.map(toScheduleView);
}

export async function listScheduleFires(pool: Pool, scheduleId: string): Promise<ScheduleFire[]> {
  const { rows } = await pool.query(
    `SELECT schedule_id, due_at, job_id, fired_by FROM plexus_batch_schedule_fire
     WHERE schedule_id = $1 ORDER BY due_at`,
    [scheduleId],
  );
  return rows.map((r) => ({
    scheduleId: r.schedule_id,
    dueAt: r.due_at.toISOString(),
    jobId: r.job_id,
    firedBy: r.fired_by,
  }));
}

export interface SchedulerOptions {
  pool: Pool;
  registry: JobTypeRegistry;
  runnerId: string;
  nodeId: string;
  moduleId: string;
  tickMs?: number;
  logger?: Logger;
  /** Called after a job was submitted for a due time (wakes the local runner). */
  onFired?: (fire: ScheduleFire) => void;
}

/**
 * Fires recurring jobs. Every process of every writable module on the database runs one; each
 * due time fires once across all of them: the schedule row is locked while a due time is
 * handled (others skip it), the firing is recorded under a (schedule, due time) primary key in
 * the transaction that submits the job, and the next due time moves past now in that same
 * transaction. Due times missed while no process ran fire once, not once each.
 */
export class BatchJobScheduler {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<unknown> | null = null;
  private fired = 0;
  private lastError: { at: string; message: string } | null = null;

  constructor(private readonly options: SchedulerOptions) {}

  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, this.options.tickMs ?? 250);
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  status() {
    return { fired: this.fired, lastError: this.lastError };
  }

  /** Fires what is due now; returns the firings this process made. */
  async tick(): Promise<ScheduleFire[]> {
    const { pool, registry, runnerId, nodeId, moduleId } = this.options;
    try {
      const fires = await inTransaction(pool, async (client) => {
        const { rows } = await client.query(
          `SELECT schedule_id, job_type, params, every_ms, next_due_at FROM plexus_batch_schedule
           WHERE enabled AND next_due_at <= now() ORDER BY next_due_at LIMIT 20
           FOR UPDATE SKIP LOCKED`,
        );
        const made: ScheduleFire[] = [];
        for (const s of rows) {
          // A schedule whose job cannot be planned skips this due time, noting why, and does
          // not hold up the others.
          await client.query('SAVEPOINT fire');
          let jobId: string | null = null;
          let error: string | null = null;
          try {
            const { job } = await insertJob(
              client,
              registry,
              {
                jobType: s.job_type,
                params: s.params,
                nodeId,
                moduleId,
                submittedBy: `schedule:${s.schedule_id}`,
                scheduleId: s.schedule_id,
              },
              runnerId,
            );
            jobId = job.jobId;
            const inserted = await client.query(
              `INSERT INTO plexus_batch_schedule_fire (schedule_id, due_at, job_id, fired_by)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
              [s.schedule_id, s.next_due_at, job.jobId, runnerId],
            );
            if (!inserted.rowCount) throw new Error(`due time of ${s.schedule_id} already fired`);
            await client.query('RELEASE SAVEPOINT fire');
          } catch (err) {
            await client.query('ROLLBACK TO SAVEPOINT fire');
            error = `due time ${s.next_due_at.toISOString()} skipped: ${errorText(err)}`.slice(
              0,
              2000,
            );
            jobId = null;
          }
          await client.query(
            `UPDATE plexus_batch_schedule SET next_due_at = next_due_at
               + (floor(extract(epoch FROM now() - next_due_at) * 1000 / every_ms) + 1)
                 * every_ms * interval '1 millisecond',
               last_fired_at = CASE WHEN $2::text IS NULL THEN now() ELSE last_fired_at END,
               last_error = $2
             WHERE schedule_id = $1`,
            [s.schedule_id, error],
          );
          if (error) {
            this.options.logger?.warn('scheduled job skipped', {
              scheduleId: s.schedule_id,
              error,
            });
            continue;
          }
          made.push({
            scheduleId: s.schedule_id,
            dueAt: s.next_due_at.toISOString(),
            jobId: jobId!,
            firedBy: runnerId,
          });
        }
        return made;
      });
      this.fired += fires.length;
      for (const f of fires) {
        this.options.logger?.log('scheduled job fired', { ...f });
        this.options.onFired?.(f);
      }
      return fires;
    } catch (err) {
      this.lastError = { at: new Date().toISOString(), message: errorText(err) };
      this.options.logger?.warn('scheduler tick failed', { error: errorText(err) });
      return [];
    }
  }
}
