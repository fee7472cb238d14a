import type { Logger } from '@plexus/common';
import type { NatsConnection } from 'nats';
import type { JobType, JobTypeRegistry } from '@plexus/batch-jobs';
import type { StringMap } from '@plexus/domain';
import type { ModuleContext, ModuleInstance, ModuleType } from '@plexus/module-sdk';

/** The logger the runtime logs through (the SDK's ModuleLogger has the same shape). */
export type ModuleLogger = Logger;

/** Shared things of the process a built-in module may use. Each is absent where the process has none. */
export interface ModuleServices {
  /** The process's NATS connection (workers): shared state such as the session store. */
  nats?: NatsConnection;
  /** Every batch-job type the process's module types bring (persistence modules run them). */
  jobTypes?: JobTypeRegistry;
}

/** See RuntimeModuleContext.lease. */
export interface ModuleLeaseToken {
  /** KV revision of the write that won the lease; higher for every later holder. */
  revision: number;
}

/**
 * What the runtime hands every module: the SDK's ModuleContext, plus what only built-in types
 * use (user types are written against ModuleContext and never see the rest).
 */
export interface RuntimeModuleContext extends ModuleContext {
  /** The process's shared services (see ModuleServices); empty in bare hosts and tests. */
  services: ModuleServices;
  /**
   * The lease of an `activation: single` module while this process holds it, else null (and
   * always null for `all` modules). `revision` is a fencing token: it only grows from one holder
   * to the next, so a module that writes to a store of its own can stamp its writes with it and
   * have the store refuse a lower one, which keeps out a former holder that stalled past its
   * lease. Read it when writing: it changes when the lease passes to this process again.
   */
  lease(): ModuleLeaseToken | null;
}

/**
 * A module type that ships with Plexus: the SDK contract plus what built-ins need of Plexus's
 * internals. Any SDK ModuleType registers as one (every extra is optional).
 */
export interface BuiltInModuleType extends ModuleType {
  start(ctx: RuntimeModuleContext): Promise<ModuleInstance>;
  /**
   * The full check of a config, for types with rules JSON Schema cannot say (a parsed users
   * list, one key bounded by another). Default: the config schema alone.
   */
  validateConfig?(config: StringMap): string[];
  /** Batch-job types this module type brings; persistence modules run them. */
  jobTypes?: readonly JobType<any>[];
}
