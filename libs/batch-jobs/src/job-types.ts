import type { PoolClient } from 'pg';

/** One parameter of a job type: what GET /batch-job-types shows and submit validates. */
export interface JobParamSpec {
  type: 'integer' | 'string' | 'boolean';
  description: string;
  /** Used when the param is absent: every built-in type runs with `params: {}`. */
  default?: number | string | boolean;
  minimum?: number;
  maximum?: number;
  /** For strings: a regular expression the whole value must match. */
  pattern?: string;
}

export type JobParamsSchema = Record<string, JobParamSpec>;
export type JobParams = Record<string, number | string | boolean>;

/** Where a job's code runs: a transaction on the module's database, and who runs it. */
export interface JobContext {
  /** In a transaction: plan's chunks, or a chunk's work and its completion, commit together. */
  client: PoolClient;
  jobId: string;
  nodeId: string;
  moduleId: string;
  /** The process (runner) doing the work. */
  runnerId: string;
  /** In plan: a job may have at most this many chunks (a plan may refuse early, before building them). */
  maxChunks?: number;
}

export interface ChunkContext extends JobContext {
  seq: number;
  attempt: number;
}

/**
 * A kind of batch job. `plan` splits a job into chunks (JSON payloads) when it is submitted;
 * `runChunk` does one chunk. A chunk's work runs in the same transaction that marks it done, so
 * work done on the module's database happens exactly once; other side effects may repeat when a
 * process dies after doing them and before its commit.
 */
export interface JobType<P extends JobParams = JobParams> {
  name: string;
  description: string;
  params: JobParamsSchema;
  /** Attempts per chunk before the chunk (and the job) fails; default 3. */
  maxAttempts?: number;
  plan(params: P, ctx: JobContext): Promise<unknown[]>;
  runChunk(chunk: unknown, params: P, ctx: ChunkContext): Promise<void>;
}

/** Problems with `params` against a schema, each naming the field and the rule; empty when valid. */
export function paramsProblems(schema: JobParamsSchema, params: unknown): string[] {
  if (params === undefined || params === null) return [];
  if (typeof params !== 'object' || Array.isArray(params))
    return ['params must be an object of parameter names to values'];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(params as Record<string, unknown>)) {
    const spec = schema[key];
    if (!spec) {
      const known = Object.keys(schema);
      problems.push(
        `params.${key} is not a parameter of this job type (${known.length ? `known: ${known.join(', ')}` : 'it takes none'})`,
      );
      continue;
    }
    if (spec.type === 'integer') {
      const range =
        spec.minimum !== undefined && spec.maximum !== undefined
          ? ` from ${spec.minimum} to ${spec.maximum}`
          : spec.minimum !== undefined
            ? ` of at least ${spec.minimum}`
            : spec.maximum !== undefined
              ? ` of at most ${spec.maximum}`
              : '';
      if (
        typeof value !== 'number' ||
        !Number.isSafeInteger(value) ||
        (spec.minimum !== undefined && value < spec.minimum) ||
        (spec.maximum !== undefined && value > spec.maximum)
      )
        problems.push(`params.${key} must be an integer${range}`);
    } else if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') problems.push(`params.${key} must be true or false`);
    } else if (
      typeof value !== 'string' ||
      (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern})$`).test(value))
    ) {
      problems.push(
        `params.${key} must be a string${spec.pattern ? ` matching ${spec.pattern}` : ''}`,
      );
    }
  }
  return problems;
}

/** Params with the defaults of absent keys filled in. */
export function withDefaults(schema: JobParamsSchema, params: JobParams | undefined): JobParams {
  const out: JobParams = {};
  for (const [key, spec] of Object.entries(schema))
    if (spec.default !== undefined) out[key] = spec.default;
  return { ...out, ...(params ?? {}) };
}

export interface JobTypeDescription {
  name: string;
  description: string;
  params: JobParamsSchema;
}

/** How many chunks a job may have unless BATCH_JOB_MAX_CHUNKS says otherwise. */
export const DEFAULT_MAX_CHUNKS_PER_JOB = 100_000;

/** Why a job of `count` chunks is refused, or null when it is within `max`. */
export function chunkCountProblem(count: number, max: number): string | null {
  return count > max
    ? `the job would have ${count} chunks: a job may have at most ${max} chunks (BATCH_JOB_MAX_CHUNKS); ask for fewer, larger chunks`
    : null;
}

/** The job types a process can run; module types may register their own. */
export class JobTypeRegistry {
  private readonly types = new Map<string, JobType<any>>();
  /** A submission whose plan has more chunks is refused (JobSubmissionError). */
  readonly maxChunksPerJob: number;

  constructor(types: JobType<any>[] = [], options: { maxChunksPerJob?: number } = {}) {
    types.forEach((t) => this.register(t));
    this.maxChunksPerJob = options.maxChunksPerJob ?? DEFAULT_MAX_CHUNKS_PER_JOB;
  }

  register(type: JobType<any>): this {
    if (this.types.has(type.name)) throw new Error(`job type ${type.name} is registered twice`);
    this.types.set(type.name, type);
    return this;
  }

  get(name: string): JobType | undefined {
    return this.types.get(name);
  }

  list(): JobTypeDescription[] {
    return [...this.types.values()].map((t) => ({
      name: t.name,
      description: t.description,
      params: t.params,
    }));
  }

  /** Problems with a submission: unknown type, or params that do not fit its schema. */
  problems(jobType: unknown, params: unknown): string[] {
    if (typeof jobType !== 'string' || !jobType) return ['jobType must be a non-empty string'];
    const type = this.types.get(jobType);
    if (!type)
      return [
        `jobType "${jobType}" is not a registered job type (known: ${[...this.types.keys()].join(', ')})`,
      ];
    return paramsProblems(type.params, params);
  }
}
