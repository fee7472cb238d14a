import {
  HttpException,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { NatsConnection } from 'nats';
import type { JobStatus, JobView, ScheduleView } from '@plexus/batch-jobs';
import { BatchJobReply, BatchJobRequest, batchJobsSubject } from '@plexus/bus';
import {
  conflict,
  databaseKey,
  invalid,
  isReadOnlyPersistence,
  notFound,
  PERSISTENCE_MODULE_TYPE,
} from '@plexus/domain';
import {
  Database,
  listModulesOfType,
  ModuleOfTypeRow,
  readNodeDocument,
} from '@plexus/event-store';
import { ClusterModuleTypes } from '@plexus/module-runtime';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { CATALOG, DATABASE, NATS } from '../infra/injection-tokens';
import { checkId } from '../nodes/nodes.service';
import { PutBatchScheduleDto } from './dto/put-batch-schedule.dto';
import { errorText } from '@plexus/common';

/** A live process answers in milliseconds; a hung one must not hold an admin call longer. */
const REQUEST_TIMEOUT_MS = 2000;

/** Modules no process answered for: their jobs are missing from the answer. */
function unanswered(answers: { target: ModuleOfTypeRow; error?: string }[]) {
  return answers
    .filter((a) => a.error !== undefined)
    .map((a) => ({ nodeId: a.target.nodeId, moduleId: a.target.moduleId, reason: a.error }));
}

interface Target {
  nodeId: string;
  moduleId: string;
}

/**
 * Batch jobs of the persistence modules in the cluster. The jobs live in each module's own
 * database, which only the processes running the module reach: every call is a NATS request to
 * the (node, module), answered by any one of its live processes.
 */
@Injectable()
export class BatchJobsService {
  private readonly logger = new Logger('BatchJobs');
  private readonly jobTypes;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(CATALOG) catalog: ClusterModuleTypes,
    private readonly breakers: DependencyBreakers,
  ) {
    this.jobTypes = catalog.jobTypes();
  }

  types() {
    return this.jobTypes.list();
  }

  /** The module a write goes to: it exists, is a persistence module and is writable. */
  private async writableModule(nodeId: string, moduleId: string) {
    checkId('nodeId', nodeId);
    checkId('moduleId', moduleId);
    const doc = await this.breakers.postgres(() => readNodeDocument(this.db, nodeId));
    if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
    const module = doc.modules.find((m) => m.moduleId === moduleId);
    if (!module) throw notFound(`node "${nodeId}" has no module "${moduleId}"`);
    if (module.type !== PERSISTENCE_MODULE_TYPE)
      throw invalid(
        `module "${moduleId}" of node "${nodeId}" is a ${module.type} module: batch jobs run on persistence modules`,
      );
    if (isReadOnlyPersistence(module.config))
      throw conflict(
        `module "${moduleId}" of node "${nodeId}" is in read_only_mode and does not start or schedule batch jobs; ` +
          'use the writable persistence module on the same database',
      );
  }

  async submit(
    nodeId: string,
    moduleId: string,
    body: { jobType: string; params?: Record<string, number | string | boolean> },
    actor: string,
    idempotencyKey?: string,
  ): Promise<{ job: JobView; replayed: boolean }> {
    await this.writableModule(nodeId, moduleId);
    const problems = this.jobTypes.problems(body.jobType, body.params ?? {});
    if (problems.length) throw invalid(problems.join('; '));
    const reply = (await this.ask(
      { nodeId, moduleId },
      {
        op: 'submit',
        jobType: body.jobType,
        params: body.params ?? {},
        submittedBy: actor,
        idempotencyKey,
      },
    )) as { job: JobView; replayed?: boolean };
    return { job: reply.job, replayed: reply.replayed === true };
  }

  async putSchedule(
    nodeId: string,
    moduleId: string,
    scheduleId: string,
    body: PutBatchScheduleDto,
  ) {
    checkId('scheduleId', scheduleId);
    await this.writableModule(nodeId, moduleId);
    const problems = this.jobTypes.problems(body.jobType, body.params ?? {});
    if (problems.length) throw invalid(problems.join('; '));
    const reply = await this.ask({ nodeId, moduleId }, { op: 'put-schedule', scheduleId, ...body });
    return { nodeId, moduleId, ...(reply as { schedule: ScheduleView }).schedule };
  }

  /** Recurring jobs of every persistence module, once per database. */
  async schedules(filter: { nodeId?: string; moduleId?: string }) {
    const answers = await this.askAll(filter, { op: 'list-schedules' });
    const byKey = new Map<string, ScheduleView & { nodeId: string; moduleId: string }>();
    for (const a of answers)
      for (const s of (a.reply as { schedules?: ScheduleView[] } | undefined)?.schedules ?? []) {
        const key = `${databaseKey(a.target.config['db.url'])} ${s.scheduleId}`;
        // Prefer the writable module's view: that is where the schedule is changed.
        if (!byKey.has(key) || !isReadOnlyPersistence(a.target.config))
          byKey.set(key, { nodeId: a.target.nodeId, moduleId: a.target.moduleId, ...s });
      }
    return { schedules: [...byKey.values()], unanswered: unanswered(answers) };
  }

  /** Asks every enabled persistence module (or those filtered) at once. */
  private async askAll(filter: { nodeId?: string; moduleId?: string }, request: BatchJobRequest) {
    const targets = (
      await this.breakers.postgres(() => listModulesOfType(this.db, PERSISTENCE_MODULE_TYPE))
    ).filter(
      (m) =>
        m.enabled &&
        (!filter.nodeId || m.nodeId === filter.nodeId) &&
        (!filter.moduleId || m.moduleId === filter.moduleId),
    );
    return Promise.all(
      targets.map(async (target) => {
        try {
          return { target, reply: await this.ask(target, request) };
        } catch (err) {
          return { target, error: err instanceof HttpException ? err.message : errorText(err) };
        }
      }),
    );
  }

  /** Jobs of every persistence module (or those filtered), merged: duplicates share a database. */
  async list(filter: { nodeId?: string; moduleId?: string; status?: JobStatus }) {
    const answers = await this.askAll(filter, { op: 'list', status: filter.status });
    const byId = new Map<string, JobView>();
    for (const a of answers)
      for (const job of (a.reply as { jobs?: JobView[] } | undefined)?.jobs ?? [])
        byId.set(job.jobId, job);
    const jobs = [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return { jobs, unanswered: unanswered(answers) };
  }

  /** The job with its progress and errors, from whichever module's database has it. */
  async get(jobId: string): Promise<JobView> {
    return (await this.find(jobId)).job;
  }

  async cancel(jobId: string) {
    const { job } = await this.find(jobId);
    if (!['queued', 'running'].includes(job.status))
      throw conflict(`batch job "${jobId}" has already finished: it ${job.status}`);
    const reply = (await this.ask(job, { op: 'cancel', jobId })) as {
      job: JobView;
      outcome: string;
    };
    if (reply.outcome !== 'cancelled')
      throw conflict(`batch job "${jobId}" has already finished: it ${reply.job.status}`);
    return reply.job;
  }

  private async find(jobId: string): Promise<{ job: JobView }> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(jobId))
      throw invalid('jobId must be a UUID such as 0b6f7a8e-3c1d-4c1e-9a55-6d3f2b1e0c9a');
    const targets = (
      await this.breakers.postgres(() => listModulesOfType(this.db, PERSISTENCE_MODULE_TYPE))
    ).filter((m) => m.enabled);
    const errors: string[] = [];
    const found = await Promise.all(
      targets.map((t) =>
        this.ask(t, { op: 'get', jobId }).then(
          (reply) => (reply as { job: JobView }).job,
          (err) => {
            if (!(err instanceof HttpException && err.getStatus() === 404))
              errors.push(`${t.nodeId}/${t.moduleId}: ${errorText(err)}`);
            return null;
          },
        ),
      ),
    );
    const job = found.find((j) => j);
    if (job) return { job };
    if (errors.length && errors.length === targets.length)
      throw new ServiceUnavailableException(
        `no persistence module answered, so batch job "${jobId}" cannot be looked up: ${errors.join('; ')}`,
      );
    throw notFound(`batch job "${jobId}" does not exist`);
  }

  /** One request to any live process of (node, module); 503 when none answers in time. */
  private async ask(target: Target, request: BatchJobRequest): Promise<BatchJobReply> {
    const { nodeId, moduleId } = target;
    let reply: BatchJobReply;
    try {
      const msg = await this.nc.request(
        batchJobsSubject(nodeId, moduleId),
        JSON.stringify(request),
        { timeout: REQUEST_TIMEOUT_MS },
      );
      reply = JSON.parse(new TextDecoder().decode(msg.data));
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why =
        code === '503'
          ? 'no live process runs it'
          : code === 'TIMEOUT'
            ? `no process answered within ${REQUEST_TIMEOUT_MS} ms`
            : errorText(err);
      this.logger.debug(`batch-job ${request.op} on ${nodeId}/${moduleId}: ${why}`);
      throw new ServiceUnavailableException(
        `module "${moduleId}" of node "${nodeId}" did not answer: ${why}`,
      );
    }
    if (!reply.ok) throw new HttpException(reply.message, reply.statusCode);
    return reply;
  }
}
