import { createHash } from 'node:crypto';
import { KV, KvEntry, NatsConnection } from 'nats';
import { errorText, Logger, silentLogger } from '@plexus/common';
import { MODULE_TYPES_BUCKET, moduleTypeKey, processModuleTypesFilter } from './names';
import { ResilientWatch } from './resilient-watch';
import { clusterReplicas } from './replicas';

/** One process's registration of one module type: the value of a MODULE_TYPES_BUCKET key. */
export interface ModuleTypeRegistration {
  nodeId: string;
  processId: string;
  type: string;
  version: string;
  /** sha-256 (hex) of the canonical JSON of `configSchema` (moduleTypeSchemaHash). */
  schemaHash: string;
  /** The type's config schema (JSON Schema), so the control plane validates without its code. */
  configSchema: Record<string, unknown>;
  secretKeys: string[];
  provides: string[];
  requires: string[];
  singleProcess: boolean;
  description: string;
}

/**
 * Entries live at most an hour unless their process puts them again (it does every half hour,
 * ModuleTypePublisher): a process that died while no control plane could delete its entries
 * drops out by itself, and the delete markers of departed processes do not pile up.
 */
export const MODULE_TYPES_MAX_AGE_MS = 60 * 60 * 1000;

export const MODULE_TYPES_BUCKET_OPTIONS = {
  history: 1,
  ttl: MODULE_TYPES_MAX_AGE_MS,
  description: 'Plexus module types each live process runs (its catalogue)',
} as const;

/** Opens the catalogue bucket, creating it when missing (the control plane does at start). */
export async function openModuleTypesBucket(
  nc: NatsConnection,
  requestTimeoutMs = 5000,
): Promise<KV> {
  try {
    return await nc.jetstream({ timeout: requestTimeoutMs }).views.kv(MODULE_TYPES_BUCKET, {
      ...MODULE_TYPES_BUCKET_OPTIONS,
      replicas: clusterReplicas(nc),
    });
  } catch (err) {
    throw new Error(
      `cannot open the module types bucket ${MODULE_TYPES_BUCKET}: ${errorText(err)}`,
    );
  }
}

/** JSON with the keys of every object sorted, so equal schemas have equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha-256 (hex) of a schema's canonical JSON. */
export const moduleTypeSchemaHash = (schema: unknown) =>
  createHash('sha256').update(canonicalJson(schema)).digest('hex');

const registrationKey = (r: ModuleTypeRegistration) => moduleTypeKey(r.nodeId, r.processId, r.type);

/** A registration read back from the bucket, or null when the value is not one. */
export function decodeModuleTypeRegistration(entry: KvEntry): ModuleTypeRegistration | null {
  try {
    const r = entry.json<ModuleTypeRegistration>();
    const ok =
      typeof r?.type === 'string' &&
      typeof r.nodeId === 'string' &&
      typeof r.processId === 'string' &&
      typeof r.schemaHash === 'string' &&
      typeof r.configSchema === 'object' &&
      r.configSchema !== null;
    return ok ? r : null;
  } catch {
    return null;
  }
}

/**
 * Deletes every entry of one process (the failure detector does, for a lost process). Returns
 * how many it deleted.
 */
export async function removeProcessModuleTypes(
  kv: KV,
  nodeId: string,
  processId: string,
): Promise<number> {
  const keys: string[] = [];
  for await (const key of await kv.keys(processModuleTypesFilter(nodeId, processId)))
    keys.push(key);
  for (const key of keys) await kv.delete(key);
  return keys.length;
}

/**
 * A process's side of the catalogue: puts its registrations when it joins, checks now and then
 * that they are still there (a control plane may have judged it lost during a partition, or the
 * bucket may have been rebuilt) and puts again what is missing or half-way to its max age, and
 * deletes them when it leaves.
 */
export class ModuleTypePublisher {
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    private readonly registrations: readonly ModuleTypeRegistration[],
    private readonly options: { checkEveryMs?: number; logger?: Logger } = {},
  ) {}

  /** Puts every registration; then keeps them there until withdraw(). */
  async publish(): Promise<void> {
    // The check starts first: if a put below fails, the next check puts it.
    const every = this.options.checkEveryMs ?? 30_000;
    this.timer = setInterval(() => {
      this.checking = this.restoreMissing();
    }, every);
    this.timer.unref();
    for (const r of this.registrations) await this.kv.put(registrationKey(r), JSON.stringify(r));
  }

  /** Deletes every registration of this process (it leaves). */
  async withdraw(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
    for (const r of this.registrations) await this.kv.delete(registrationKey(r));
  }

  private async restoreMissing() {
    const logger = this.options.logger ?? silentLogger;
    try {
      for (const r of this.registrations) {
        const key = registrationKey(r);
        const entry = await this.kv.get(key);
        const stale =
          !entry ||
          entry.operation !== 'PUT' ||
          Date.now() - entry.created.getTime() > MODULE_TYPES_MAX_AGE_MS / 2;
        if (stale && this.timer) await this.kv.put(key, JSON.stringify(r));
      }
    } catch (err) {
      logger.warn('cannot check this process’s module types in the catalogue; retrying later', {
        error: errorText(err),
      });
    }
  }
}

/** One registration as the watch saw it, with when NATS stored it. */
export interface WatchedModuleTypeRegistration {
  registration: ModuleTypeRegistration;
  storedAt: number;
}

/**
 * The catalogue as the bucket shows it, kept current by a ResilientWatch: every live process's
 * registrations. Entries past the bucket's max age are left out (they expire without a marker).
 */
export class ModuleTypeRegistrations {
  private readonly entries = new Map<string, WatchedModuleTypeRegistration & { gen: number }>();
  private readonly watch: ResilientWatch;
  private markReady: () => void = () => undefined;
  /** Resolves once the bucket's current entries have all been delivered the first time. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    nc: NatsConnection,
    private readonly options: { logger?: Logger; onChange?: () => void } = {},
  ) {
    this.watch = ResilientWatch.start(nc, {
      bucket: () => openModuleTypesBucket(nc),
      onEntry: (entry) => this.onEntry(entry),
      onCurrent: (gen) => this.onCurrent(gen),
      logger: options.logger,
      logFields: { bucket: MODULE_TYPES_BUCKET },
    });
  }

  /** Every registration younger than the bucket's max age. */
  list(now = Date.now()): WatchedModuleTypeRegistration[] {
    return [...this.entries.values()]
      .filter((e) => now - e.storedAt < MODULE_TYPES_MAX_AGE_MS)
      .map(({ registration, storedAt }) => ({ registration, storedAt }));
  }

  stop(): Promise<void> {
    return this.watch.stop();
  }

  private onEntry(entry: KvEntry) {
    const gen = this.watch.generation;
    if (entry.operation !== 'PUT') {
      if (this.entries.delete(entry.key)) this.options.onChange?.();
      return;
    }
    const registration = decodeModuleTypeRegistration(entry);
    if (!registration) {
      this.options.logger?.warn('ignoring a module types entry that is not a registration', {
        key: entry.key,
      });
      return;
    }
    this.entries.set(entry.key, { registration, storedAt: entry.created.getTime(), gen });
    this.options.onChange?.();
  }

  /** After a (re)start: what was not delivered again is no longer in the bucket. */
  private onCurrent(gen: number) {
    this.markReady();
    let changed = false;
    for (const [key, e] of this.entries)
      if (e.gen < gen) {
        this.entries.delete(key);
        changed = true;
      }
    if (changed) this.options.onChange?.();
  }
}
