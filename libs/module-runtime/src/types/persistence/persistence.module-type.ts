import {
  BatchJobRunner,
  BatchJobScheduler,
  BUILT_IN_JOB_TYPES,
  cancelJob,
  countActiveJobs,
  getJob,
  inTransaction,
  insertJob,
  JobParams,
  JobStatus,
  JobTypeRegistry,
  JobView,
  listJobs,
  listSchedules,
  migrateBatchJobStore,
  openPool,
  Pool,
  poolUsage,
  ScheduleDefinition,
  ScheduleView,
  SubmittedJob,
  upsertSchedule,
} from '@plexus/batch-jobs';
import { dbUrlCredentialsProblem, StringMap } from '@plexus/domain';
import type {
  ConfigChange,
  ModuleConfig,
  ModuleContext,
  ModuleInstance,
  ReconfigureResult,
} from '@plexus/module-sdk';
import { compileConfigValidator } from '../../config-validation';
import { BuiltInModuleType, RuntimeModuleContext } from '../../module-type';
import { DEFAULT_MAX_IDLE, DEFAULT_MAX_TOTAL, persistenceConfigSchema } from './persistence.schema';
import { errorText } from '@plexus/common';

const STATUS_REFRESH_MS = 2000;

/** A write (submit, cancel) asked of a module in read_only_mode: the API answers 409. */
export class ReadOnlyModuleError extends Error {
  name = 'ReadOnlyModuleError';
}

interface Settings {
  url: string;
  username?: string;
  password?: string;
  maxTotal: number;
  maxIdle: number;
  readOnly: boolean;
}

const checkSchema = compileConfigValidator(persistenceConfigSchema);

function settingsOf(config: ModuleConfig): Settings {
  // Not the db.url credentials rule: a module stored before it still runs (writes refuse it).
  const problems = configShapeProblems(config);
  if (problems.length) throw new Error(problems.join('; '));
  return {
    url: config['db.url'].trim(),
    username: config['db.username'] || undefined,
    password: config['db.password'] || undefined,
    maxTotal: Number(config['db.connectionpool.maxtotal'] ?? DEFAULT_MAX_TOTAL),
    maxIdle: Number(config['db.connectionpool.maxidle'] ?? DEFAULT_MAX_IDLE),
    readOnly: config['read_only_mode.enabled']?.trim() === 'true',
  };
}

function configShapeProblems(config: ModuleConfig): string[] {
  const problems = checkSchema(config);
  const maxIdle = Number(config['db.connectionpool.maxidle'] ?? DEFAULT_MAX_IDLE);
  const maxTotal = Number(config['db.connectionpool.maxtotal'] ?? DEFAULT_MAX_TOTAL);
  if (!problems.length && maxIdle > maxTotal)
    problems.push(
      `config.db.connectionpool.maxidle (${maxIdle}) must not exceed db.connectionpool.maxtotal (${maxTotal})`,
    );
  return problems;
}

/** What the control plane checks on every write, import and first start (through the catalog). */
export function validatePersistenceConfig(config: StringMap): string[] {
  const problems = configShapeProblems(config);
  const credentials = dbUrlCredentialsProblem(config['db.url']);
  if (credentials) problems.push(`config.${credentials}`);
  return problems;
}

/** What the worker's batch-job request handlers use of a running persistence module. */
export interface BatchJobAccess {
  readonly readOnly: boolean;
  listJobs(filter: { status?: JobStatus; limit?: number }): Promise<JobView[]>;
  getJob(jobId: string): Promise<JobView | null>;
  /**
   * Throws ReadOnlyModuleError on a read-only module, JobSubmissionError for bad input,
   * IdempotencyKeyReused for a key another request used.
   */
  submitJob(
    jobType: string,
    params: JobParams | undefined,
    submittedBy: string,
    idempotencyKey?: string,
  ): Promise<SubmittedJob>;
  cancelJob(jobId: string): ReturnType<typeof cancelJob>;
  listSchedules(): Promise<ScheduleView[]>;
  /** Creates or replaces a recurring job; refused like submitJob. */
  putSchedule(schedule: ScheduleDefinition): Promise<ScheduleView>;
}

/** A running persistence module (as ModuleHost.instance() returns it). */
export function isBatchJobAccess(instance: unknown): instance is PersistenceModule {
  return instance instanceof Persistence;
}

/**
 * A connection pool to the module's database and the batch-job store in it. Writable, it creates
 * the store's tables (its own migrations) and runs a chunk runner and the scheduler, shared with
 * every other process of every writable module on that database. Read-only, it runs neither,
 * writes nothing and only reads job status (before any writable module has created the store,
 * it lists no jobs).
 */
class Persistence implements ModuleInstance, BatchJobAccess {
  private runner: BatchJobRunner | null = null;
  private scheduler: BatchJobScheduler | null = null;
  private storeReady = false;
  private jobs = { queued: 0, running: 0 };
  private lastError: { at: string; message: string } | null = null;
  private refresh: NodeJS.Timeout | null = null;
  /** Why the last status refresh could not reach the database; null once it answers again. */
  private unreachable: string | null = null;

  private constructor(
    private readonly ctx: RuntimeModuleContext,
    private readonly pool: Pool,
    private settings: Settings,
    private readonly registry: JobTypeRegistry,
  ) {}

  static async start(ctx: RuntimeModuleContext): Promise<Persistence> {
    const settings = settingsOf(ctx.config);
    const pool = openPool({
      ...settings,
      applicationName: `plexus ${ctx.nodeId}/${ctx.moduleId} ${ctx.processId}`,
    });
    const registry = ctx.services.jobTypes ?? new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    const module = new Persistence(ctx, pool, settings, registry);
    try {
      await module.applyMode();
    } catch (err) {
      await module.stop();
      throw new Error(`cannot open the module database: ${errorText(err)}`);
    }
    module.refresh = setInterval(() => void module.refreshStatus(), STATUS_REFRESH_MS);
    module.refresh.unref();
    await module.refreshStatus();
    return module;
  }

  get readOnly() {
    return this.settings.readOnly;
  }

  private get processRunnerId() {
    return `${this.ctx.nodeId}/${this.ctx.moduleId}/${this.ctx.processId}`;
  }

  /** Starts or stops the runner and scheduler to match read_only_mode. */
  private async applyMode() {
    if (this.settings.readOnly) {
      await this.stopWork();
      this.storeReady = await this.storeExists();
      this.ctx.logger.log('persistence module is read-only: job status only', {
        storeReady: this.storeReady,
      });
      return;
    }
    const applied = await migrateBatchJobStore(this.pool);
    this.storeReady = true;
    if (applied.length) this.ctx.logger.log('batch-job store created or updated', { applied });
    if (this.runner) return;
    const logger = this.ctx.logger;
    this.runner = new BatchJobRunner({
      pool: this.pool,
      registry: this.registry,
      runnerId: this.processRunnerId,
      // Leave a connection for reads, submits and the scheduler.
      concurrency: Math.max(1, Math.min(2, this.settings.maxTotal - 1)),
      logger,
    }).start();
    this.scheduler = new BatchJobScheduler({
      pool: this.pool,
      registry: this.registry,
      runnerId: this.processRunnerId,
      nodeId: this.ctx.nodeId,
      moduleId: this.ctx.moduleId,
      tickMs: 500,
      logger,
      onFired: () => this.runner?.wake(),
    }).start();
    logger.log('persistence module is writable: running batch jobs and the scheduler');
  }

  private async stopWork() {
    await this.scheduler?.stop();
    await this.runner?.stop();
    this.scheduler = null;
    this.runner = null;
  }

  private async storeExists() {
    const { rows } = await this.pool.query<{ ok: boolean }>(
      `SELECT to_regclass('plexus_batch_job') IS NOT NULL AS ok`,
    );
    return rows[0].ok;
  }

  private async refreshStatus() {
    try {
      if (!this.storeReady) this.storeReady = await this.storeExists();
      if (this.storeReady) this.jobs = await countActiveJobs(this.pool);
      this.unreachable = null;
    } catch (err) {
      this.noteError(err);
      this.unreachable = errorText(err);
    }
  }

  private noteError(err: unknown) {
    this.lastError = { at: new Date().toISOString(), message: errorText(err) };
  }

  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof ReadOnlyModuleError)) this.noteError(err);
      throw err;
    }
  }

  private refuseWrites(what: string) {
    if (this.settings.readOnly)
      throw new ReadOnlyModuleError(
        `module "${this.ctx.moduleId}" of node "${this.ctx.nodeId}" is in read_only_mode: it cannot ${what}; ` +
          'use the writable persistence module on this database',
      );
  }

  async listJobs(filter: { status?: JobStatus; limit?: number }) {
    if (!this.storeReady && !(this.storeReady = await this.storeExists())) return [];
    return this.guarded(() => listJobs(this.pool, filter));
  }

  async getJob(jobId: string) {
    if (!this.storeReady && !(this.storeReady = await this.storeExists())) return null;
    return this.guarded(() => getJob(this.pool, jobId));
  }

  async submitJob(
    jobType: string,
    params: JobParams | undefined,
    submittedBy: string,
    idempotencyKey?: string,
  ) {
    this.refuseWrites('start batch jobs');
    const { nodeId, moduleId } = this.ctx;
    const submitted = await this.guarded(() =>
      inTransaction(this.pool, (client) =>
        insertJob(
          client,
          this.registry,
          { jobType, params, nodeId, moduleId, submittedBy, idempotencyKey },
          this.processRunnerId,
        ),
      ),
    );
    const { job, replayed } = submitted;
    if (replayed) return submitted;
    this.runner?.wake();
    this.ctx.logger.log('batch job submitted', { jobId: job.jobId, jobType, submittedBy });
    return submitted;
  }

  async cancelJob(jobId: string) {
    this.refuseWrites('cancel batch jobs');
    const result = await this.guarded(() => cancelJob(this.pool, jobId));
    if (result.outcome === 'cancelled') this.ctx.logger.log('batch job cancelled', { jobId });
    return result;
  }

  async listSchedules() {
    if (!this.storeReady && !(this.storeReady = await this.storeExists())) return [];
    return this.guarded(() => listSchedules(this.pool));
  }

  async putSchedule(schedule: ScheduleDefinition) {
    this.refuseWrites('change recurring jobs');
    const view = await this.guarded(() => upsertSchedule(this.pool, schedule, this.registry));
    this.ctx.logger.log('recurring job saved', {
      scheduleId: view.scheduleId,
      jobType: view.jobType,
      everyMs: view.everyMs,
      enabled: view.enabled,
    });
    return view;
  }

  /** In place: read_only_mode and pool limits; another database or login restarts the module. */
  async reconfigure(_ctx: ModuleContext, { config }: ConfigChange): Promise<ReconfigureResult> {
    const next = settingsOf(config);
    const { url, username, password } = this.settings;
    if (next.url !== url || next.username !== username || next.password !== password)
      return 'restart';
    // pg's pool reads these on every checkout and release.
    const options = (this.pool as unknown as { options: { max: number; min: number } }).options;
    options.max = next.maxTotal;
    options.min = Math.min(next.maxIdle, next.maxTotal);
    this.settings = next;
    await this.applyMode();
    return 'applied';
  }

  /**
   * DOWN while its database does not answer (the last status refresh, every 2 s, failed); the
   * details are what heartbeats carry: mode, pool, jobs, runner, scheduler, last error.
   */
  health() {
    const details = this.details();
    if (this.unreachable)
      return {
        status: 'DOWN' as const,
        details: {
          ...details,
          error: `database unreachable: ${this.unreachable}`,
          database: this.unreachable,
        },
      };
    return { status: 'UP' as const, details };
  }

  private details() {
    return {
      readOnly: this.settings.readOnly,
      storeReady: this.storeReady,
      jobs: this.jobs,
      pool: {
        ...poolUsage(this.pool),
        maxTotal: this.settings.maxTotal,
        maxIdle: this.settings.maxIdle,
      },
      runner: this.runner?.status() ?? null,
      scheduler: this.scheduler?.status() ?? null,
      lastError:
        this.lastError ??
        this.runner?.status().lastError ??
        this.scheduler?.status().lastError ??
        null,
    };
  }

  async stop() {
    if (this.refresh) clearInterval(this.refresh);
    await this.stopWork();
    await this.pool.end();
  }
}

export type PersistenceModule = Persistence;

export const persistenceType: BuiltInModuleType = {
  name: 'persistence',
  version: '1.0.0',
  description:
    "A Postgres database (Smile CDR's keys: db.driver, db.url, db.username, db.password, " +
    'db.connectionpool.maxidle, db.connectionpool.maxtotal) and the batch-job store in it. ' +
    'Writable, it runs batch jobs and the scheduler, shared by every process of every writable module ' +
    'on that database; with read_only_mode.enabled=true it only reads job status. Two writable ' +
    'persistence modules on different nodes may not point at the same db.url.',
  configSchema: persistenceConfigSchema,
  validateConfig: validatePersistenceConfig,
  jobTypes: BUILT_IN_JOB_TYPES,
  start: (ctx) => Persistence.start(ctx),
};
