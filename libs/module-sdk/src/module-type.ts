/**
 * The contract between Plexus and a module type. A module type is published as a package whose
 * main module exports `moduleTypes: ModuleType[]` (see `defineModuleType`); a worker loads it
 * from `PLEXUS_MODULE_TYPES` and runs one instance per module of that type. Nothing here depends
 * on Plexus's own code or on any framework, so a package that implements it needs only this one.
 */
import type { ConfigSchema } from './config-schema';

/** A module's config: flat dotted keys (`sessions.timeout.mins`) to string values. */
export type ModuleConfig = Readonly<Record<string, string>>;

/** Structured logging: a message and optional fields. Plexus writes JSON lines with them. */
export interface ModuleLogger {
  log(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A login session as the shared session store shows it (never its token). */
export interface ModuleSession {
  id: string;
  user: string;
  attributes: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/**
 * Login sessions shared by every process of every node that opens the same realm: a session
 * created on one process is valid on all of them, and a revocation anywhere ends it everywhere.
 */
export interface ModuleSessionStore {
  create(
    user: string,
    attributes?: Record<string, string>,
  ): Promise<{ token: string; expiresAt: number }>;
  /** The live session of a token (and its idle timeout restarts), or null. */
  validate(token: string): Promise<ModuleSession | null>;
  revoke(token: string): Promise<boolean>;
  close(): Promise<void>;
}

/** What a running module knows about where it runs, and what the process lends it. */
export interface ModuleContext {
  nodeId: string;
  processId: string;
  moduleId: string;
  /** The module's config, defaults from the schema filled in, secrets in clear. */
  config: ModuleConfig;
  /** Added to every port the module listens on (several processes of a node share a host). */
  portOffset: number;
  /** Version of the node document whose config the module runs now. */
  configVersion(): number;
  logger: ModuleLogger;
  /** Running instances of the modules this one requires, by role (see `ModuleType.requires`). */
  dependencies: Readonly<Record<string, ModuleInstance>>;
  /**
   * Opens the shared session store of a realm; absent where the process has no session store
   * (a bare test host). `idleTimeoutMs` ends a session not used for that long.
   */
  sessions?: (realm: string, options: { idleTimeoutMs: number }) => Promise<ModuleSessionStore>;
  /**
   * False once this process may no longer act as the module's one active process (an
   * `activation: single` module whose lease ran out; the stop follows). Always true for modules
   * run on every process. Modules that serve requests check it per request.
   */
  mayServe(): boolean;
}

/** A config change handed to `reconfigure`: the whole new config and the keys that changed. */
export interface ConfigChange {
  config: ModuleConfig;
  previous: ModuleConfig;
  /** Keys added, removed or changed. */
  changedKeys: readonly string[];
}

/**
 * What `reconfigure` did: `applied` in place (the module runs the new config now), or `restart`
 * (it cannot apply this change in place: Plexus stops this module, and only this module and
 * those that require it, and starts it again with the new config).
 */
export type ReconfigureResult = 'applied' | 'restart';

/** `UP` serves; `DEGRADED` serves with a problem; `DOWN` does not serve. */
export type HealthStatus = 'UP' | 'DEGRADED' | 'DOWN';

export interface ModuleHealth {
  status: HealthStatus;
  /** Anything an operator should see: connections, counters, the last error. */
  details?: Record<string, unknown>;
}

export interface ModuleInstance {
  /**
   * Applies a config change. Throw when the new config is unusable: the module must then still
   * run its old config, and the failure is reported for this process.
   */
  reconfigure(ctx: ModuleContext, change: ConfigChange): Promise<ReconfigureResult>;
  /** Releases everything the module holds (ports, connections, timers). */
  stop(): Promise<void>;
  /** Called periodically on every process; keep it cheap (no blocking I/O longer than 1 s). */
  health(): Promise<ModuleHealth> | ModuleHealth;
}

export interface ModuleType {
  /** The type name modules are configured with (`http-endpoint`, `redis-cache`). */
  name: string;
  /** The type's own version (semver); processes providing different schemas for one version are flagged. */
  version: string;
  description: string;
  /** JSON Schema of the config; the control plane validates against it without loading code. */
  configSchema: ConfigSchema;
  /**
   * Config keys whose values are secret: never shown, logged or published in clear (keys ending
   * in `password`, `secret` or `token` are secret anyway). Properties with `writeOnly: true` in
   * the schema are secret too.
   */
  secretKeys?: readonly string[];
  /** Roles this type fills in another module's `requires` (`SECURITY_IN_UP`). */
  provides?: readonly string[];
  /** Roles a module of this type must be wired to (`requires: {ROLE: moduleId}`). */
  requires?: readonly string[];
  /**
   * Unsafe with more than one process of a node running it at once (state on local disk): run
   * on every process, it limits its node to one process.
   */
  singleProcess?: boolean;
  start(ctx: ModuleContext): Promise<ModuleInstance>;
}

/** Type-checks a module type's definition; returns it unchanged. */
export function defineModuleType(type: ModuleType): ModuleType {
  return type;
}
