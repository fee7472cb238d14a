import type { Logger } from '@plexus/common';
import type { NatsConnection } from 'nats';
import type { JobType, JobTypeRegistry } from '@plexus/batch-jobs';
import { ModuleTypeInfo, StringMap } from '@plexus/domain';
import type { ConfigSchema } from '@plexus/module-sdk';

/** The logger a module type is handed: the one shape every lib logs through. */
export type ModuleLogger = Logger;

/** Shared things of the process a module may use. Each is absent where the process has none. */
export interface ModuleServices {
  /** The process's NATS connection (workers): shared state such as the session store. */
  nats?: NatsConnection;
  /** Every batch-job type the process's module types bring (persistence modules run them). */
  jobTypes?: JobTypeRegistry;
}

/** What a running module knows about where it runs. */
export interface ModuleContext {
  nodeId: string;
  processId: string;
  moduleId: string;
  /** Added to every port the module listens on. */
  portOffset: number;
  /** Version of the node document whose config the module runs now. */
  configVersion(): number;
  /** Instances of the modules this one requires, by role. */
  dependencies: Record<string, ModuleInstance>;
  logger: ModuleLogger;
  /** The process's shared services (see ModuleServices); absent in bare hosts and tests. */
  services?: ModuleServices;
  /**
   * False once this process may no longer act as the module's one active process: an
   * `activation: single` module whose lease passed its local deadline (the stop follows at
   * once). Always true for `all` modules. Modules that serve requests check it per request, so a
   * process that stalled past its lease never answers as the active one after it resumes.
   */
  mayServe?: () => boolean;
  /**
   * The lease of an `activation: single` module while this process holds it, else null (and
   * always null for `all` modules). `revision` is a fencing token: it only grows from one holder
   * to the next, so a module that writes to a store of its own can stamp its writes with it and
   * have the store refuse a lower one, which keeps out a former holder that stalled past its
   * lease. Read it when writing: it changes when the lease passes to this process again.
   */
  lease?: () => ModuleLeaseToken | null;
}

/** See ModuleContext.lease. */
export interface ModuleLeaseToken {
  /** KV revision of the write that won the lease; higher for every later holder. */
  revision: number;
}

export interface ModuleInstance {
  stop(): Promise<void>;
  /**
   * Applies a config change without a restart. Returns false when the change cannot be applied
   * in place (the runtime then stops and starts the module); throws when the new config is bad
   * (the instance must then still run its old config).
   */
  reconfigure?(config: StringMap): Promise<boolean>;
  /** Runtime status that flows in heartbeats (connections, last error, ...). */
  status?(): Record<string, unknown>;
}

/** A module type: its config schema (a class-validator class) and the code that runs it. */
export interface ModuleTypeDefinition extends ModuleTypeInfo {
  /**
   * Class whose properties are the config keys (dotted names allowed), decorated with
   * class-validator rules; an empty class for types written against the SDK (see `jsonSchema`).
   */
  configSchema: new () => object;
  /** The config schema as JSON Schema (SDK types): what the process publishes in its catalogue. */
  jsonSchema?: ConfigSchema;
  /** The type's own version (SDK types). */
  version?: string;
  /** Roles a module of this type must be wired to (SDK types). */
  requires?: readonly string[];
  /** Batch-job types this module type brings; persistence modules run them. */
  jobTypes?: readonly JobType<any>[];
  start(config: StringMap, ctx: ModuleContext): Promise<ModuleInstance>;
}
