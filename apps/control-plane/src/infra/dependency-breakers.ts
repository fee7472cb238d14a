import { Injectable, OnModuleDestroy } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { DomainError } from '@plexus/domain';
import { AbandonSignal, PreconditionFailed, StreamVersionConflict } from '@plexus/event-store';

/** A dependency could not answer in time; the HTTP layer turns it into 503 + Retry-After. */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: 'postgres' | 'nats',
    readonly cause: unknown,
    readonly retryAfterSeconds = 2,
  ) {
    super(
      `${dependency} is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** Errors that say nothing about the dependency's health (a refused command, a lost race). */
const isCallerError = (err: unknown) =>
  err instanceof DomainError ||
  err instanceof PreconditionFailed ||
  err instanceof StreamVersionConflict;

const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|timeout exceeded when trying to connect|terminating connection|the database system is|CONNECTION_CLOSED|TIMEOUT|DISCONNECT|no responders/i;

/** The dependency could not be reached or dropped the connection: worth another try later. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && (e.code.startsWith('08') || e.code.startsWith('57P')))
    return true;
  return CONNECTION_ERROR.test(`${e?.code ?? ''} ${e?.message ?? ''}`);
}

/**
 * The signal `run` gives its work: aborts once the call has failed. An AbortController and its
 * AbortSignal (an EventTarget) per call, plus the group commit's listener on it, cost a few
 * microseconds per API write; this holds a flag and the listeners.
 */
export class CallSignal implements AbandonSignal {
  aborted = false;
  private listeners: (() => void)[] | null = null;

  /** As on an AbortSignal, a listener added after the abort is never called. */
  addEventListener(_type: 'abort', listener: () => void) {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  abort() {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = null;
    listeners?.forEach((listener) => listener());
  }
}

/**
 * How long an open breaker fails calls at once before it lets one through as a trial. Postgres's
 * is short because it bounds how long writes stay refused after a restart or failover, once
 * Postgres accepts connections again (test/postgres-restart.e2e.spec.ts: 0.84-1.11 s with 2 s,
 * 0.05-0.16 s with 250 ms). A trial against a server still down costs one request a refused
 * connect, or at most the 1 s connect timeout, and that request is answered 503 like the rest.
 */
export const BREAKER_RESET_MS = { postgres: 250, nats: 2000 } as const;

/**
 * One opossum breaker per dependency. A call that times out (1 s) or fails to connect counts
 * against the breaker; once open, calls fail at once instead of queueing behind a dead server.
 */
@Injectable()
export class DependencyBreakers implements OnModuleDestroy {
  private readonly breakers = {
    postgres: this.create('postgres'),
    nats: this.create('nats'),
  };

  private create(name: 'postgres' | 'nats') {
    return new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      name,
      timeout: 1000,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
      resetTimeout: BREAKER_RESET_MS[name],
      errorFilter: (err: unknown) => isCallerError(err) || !isConnectionError(err),
    });
  }

  /**
   * `work` gets a signal of its own (one per call) that aborts once this call has failed, e.g. on
   * the timeout, so that work not yet started (a queued write) is dropped instead of being done
   * after the caller was told 503.
   */
  async run<T>(
    dependency: 'postgres' | 'nats',
    work: (signal: AbandonSignal) => Promise<T>,
  ): Promise<T> {
    const signal = new CallSignal();
    try {
      return (await this.breakers[dependency].fire(() => work(signal))) as T;
    } catch (err) {
      signal.abort();
      const code = (err as { code?: string }).code;
      if (code === 'EOPENBREAKER' || code === 'ETIMEDOUT' || isConnectionError(err))
        throw new DependencyUnavailable(dependency, err);
      throw err;
    }
  }

  postgres<T>(work: (signal: AbandonSignal) => Promise<T>) {
    return this.run('postgres', work);
  }

  nats<T>(work: (signal: AbandonSignal) => Promise<T>) {
    return this.run('nats', work);
  }

  isOpen(dependency: 'postgres' | 'nats') {
    return this.breakers[dependency].opened;
  }

  onModuleDestroy() {
    Object.values(this.breakers).forEach((b) => b.shutdown());
  }
}
