import type { Pool } from 'pg';
import {
  claimChunk,
  ClaimedChunk,
  completeChunk,
  failAbandonedChunks,
  lockOwnChunk,
  recordChunkFailure,
} from './chunks';
import { JobTypeRegistry } from './job-types';
import { errorText, Logger } from '@plexus/common';

export interface RunnerOptions {
  pool: Pool;
  registry: JobTypeRegistry;
  /** Unique per process (and per runner): recorded as the lease owner and as who did a chunk. */
  runnerId: string;
  /** Chunks this runner works on at once; each holds a pool connection while it works. */
  concurrency?: number;
  /** How long a claimed chunk stays reserved for this runner if it stops answering. */
  leaseMs?: number;
  /** Wait between looks for work when there is none. */
  idlePollMs?: number;
  /** Delay before a failed chunk is tried again. */
  retryDelayMs?: number;
  logger?: Logger;
}

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Works on the chunks of every job in one store, alongside any number of runners in other
 * processes. Each chunk's work and its completion commit in one transaction that holds the
 * chunk's row lock, so no two runners do a chunk at once and a chunk is done at most once; a
 * runner that dies leaves its chunk to be claimed again once its lease expires.
 */
export class BatchJobRunner {
  private running = false;
  private loops: Promise<void>[] = [];
  private wakeUp: (() => void)[] = [];
  private readonly counts = { chunksDone: 0, chunksFailed: 0, inFlight: 0 };
  private lastError: { at: string; message: string } | null = null;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly idlePollMs: number;
  private readonly retryDelayMs: number;
  private readonly logger: Logger;

  constructor(private readonly options: RunnerOptions) {
    this.concurrency = options.concurrency ?? 2;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.idlePollMs = options.idlePollMs ?? 250;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.logger = options.logger ?? quiet;
  }

  get runnerId() {
    return this.options.runnerId;
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, (_, slot) => this.loop(slot));
    return this;
  }

  /** Stops claiming; waits for the chunks in flight to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Looks for work now instead of at the next poll (after a submit in this process). */
  wake() {
    const waiting = this.wakeUp;
    this.wakeUp = [];
    waiting.forEach((w) => w());
  }

  status() {
    return { ...this.counts, lastError: this.lastError };
  }

  private async loop(slot: number) {
    let lastReap = 0;
    while (this.running) {
      try {
        // One slot looks for chunks abandoned on their last attempt, now and then.
        if (slot === 0 && Date.now() - lastReap > this.leaseMs / 2) {
          lastReap = Date.now();
          const failed = await failAbandonedChunks(this.options.pool);
          if (failed)
            this.logger.warn('abandoned chunks failed after their last attempt', { failed });
        }
        const chunk = await claimChunk(this.options.pool, this.runnerId, this.leaseMs);
        if (chunk) await this.run(chunk);
        else await this.idle();
      } catch (err) {
        this.noteError('batch runner could not reach its database', err);
        await this.idle(Math.max(this.idlePollMs, 1000));
      }
    }
  }

  private idle(ms = this.idlePollMs) {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp.push(done);
    });
  }

  private async run(chunk: ClaimedChunk) {
    const type = this.options.registry.get(chunk.jobType);
    this.counts.inFlight++;
    try {
      if (!type) throw new Error(`job type "${chunk.jobType}" is not registered in this process`);
      const client = await this.options.pool.connect();
      // A connection lost mid-chunk is reported by the query that fails; without a listener
      // the client's own 'error' event would end the process.
      const onError = () => undefined;
      client.on('error', onError);
      let broken = false;
      try {
        await client.query('BEGIN');
        if (!(await lockOwnChunk(client, chunk, this.runnerId))) {
          await client.query('ROLLBACK');
          this.logger.warn('chunk lease lost before it started; another runner has it', {
            jobId: chunk.jobId,
            seq: chunk.seq,
          });
          return;
        }
        await type.runChunk(chunk.payload, chunk.params, {
          client,
          jobId: chunk.jobId,
          nodeId: chunk.nodeId,
          moduleId: chunk.moduleId,
          runnerId: this.runnerId,
          seq: chunk.seq,
          attempt: chunk.attempt,
        });
        await completeChunk(client, chunk, this.runnerId);
        await client.query('COMMIT');
        this.counts.chunksDone++;
      } catch (err) {
        broken = true;
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    } catch (err) {
      const message = errorText(err);
      this.noteError('chunk failed', err, {
        jobId: chunk.jobId,
        seq: chunk.seq,
        attempt: chunk.attempt,
      });
      const status = await recordChunkFailure(
        this.options.pool,
        chunk,
        this.runnerId,
        message,
        this.retryDelayMs,
      ).catch((e) => {
        this.noteError('recording a chunk failure failed; its lease will expire', e);
        return null;
      });
      if (status === 'failed') this.counts.chunksFailed++;
    } finally {
      this.counts.inFlight--;
    }
  }

  private noteError(what: string, err: unknown, fields: Record<string, unknown> = {}) {
    const message = errorText(err);
    this.lastError = { at: new Date().toISOString(), message: `${what}: ${message}` };
    this.logger.warn(what, { ...fields, error: message });
  }
}
