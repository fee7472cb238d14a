import { ModuleTypeCatalog } from './module-type-catalog';
import { ModuleSpec, NodeDocument, StringMap } from './node-document';
import { PERSISTENCE_MODULE_TYPE } from './persistence-databases';

/**
 * Smile CDR's module type names and what Plexus runs them as (README "Importing Smile CDR
 * files"). A module imported under a Smile name keeps every key of the file in its config, so
 * the export gives the file back; Plexus validates and runs only the keys its own type uses, the
 * others are Smile's and are kept unchecked.
 */

/**
 * The type of Smile's cluster manager module. Plexus itself is the cluster manager (the control
 * plane, its Postgres and NATS hold what Smile's cluster manager holds), so no worker runs it:
 * its keys (`db.*` of Smile's cluster database, the message broker) are kept for the export.
 */
export const CLUSTER_MANAGER_TYPE = 'cluster-manager';
/** The role by which Smile modules require the cluster manager. */
export const CLUSTER_MANAGER_ROLE = 'CLUSTERMGR';
/** The module ID Smile gives its cluster manager, with or without a type line. */
export const CLUSTER_MANAGER_MODULE_ID = 'clustermgr';

interface SmileTypeMapping {
  /** The Plexus module type with the same meaning. */
  type: string;
  /** Why this module cannot run as `type` (it then stays unsupported under its Smile name), or null. */
  unsupportedBecause?: (config: StringMap) => string | null;
}

/** Per Plexus type, the keys it uses of a module imported under a Smile name; the rest are Smile's. */
export const SMILE_MAPPED_KEYS: Readonly<Record<string, readonly string[]>> = {
  // Smile's persistence keys with the same names and meaning.
  [PERSISTENCE_MODULE_TYPE]: [
    'db.driver',
    'db.url',
    'db.username',
    'db.password',
    'db.connectionpool.maxidle',
    'db.connectionpool.maxtotal',
    'read_only_mode.enabled',
  ],
  // No key of Smile's SECURITY_IN_LOCAL means what a Plexus key means (Smile keeps its users in
  // the cluster database and its session timeouts on the endpoints), so only Plexus's own keys
  // count: a module imported without them starts with no users until `users` is set.
  'local-security': ['users', 'sessions.timeout.mins', 'sessions.realm'],
  [CLUSTER_MANAGER_TYPE]: [],
};

/** Plexus's persistence module runs on Postgres only: Smile's H2, Derby, Oracle... stay unsupported. */
function notPostgres(config: StringMap): string | null {
  const url = config['db.url']?.trim() ?? '';
  const driver = config['db.driver']?.trim();
  if (driver !== undefined && !/^postgres/i.test(driver))
    return `db.driver is ${driver}, and Plexus's persistence module runs on Postgres only`;
  if (!/^(jdbc:postgresql|postgres|postgresql):\/\//i.test(url))
    return `db.url "${url}" is not a Postgres URL, and Plexus's persistence module runs on Postgres only`;
  return null;
}

const persistence: SmileTypeMapping = {
  type: PERSISTENCE_MODULE_TYPE,
  unsupportedBecause: notPostgres,
};

/** Smile type names whose meaning Plexus has. Every other name is stored as it is (unsupported). */
export const SMILE_TYPE_MAPPINGS: Readonly<Record<string, SmileTypeMapping>> = {
  PERSISTENCE_DSTU2: persistence,
  PERSISTENCE_DSTU3: persistence,
  PERSISTENCE_R4: persistence,
  PERSISTENCE_R4B: persistence,
  PERSISTENCE_R5: persistence,
  SECURITY_IN_LOCAL: { type: 'local-security' },
  CLUSTER_MGR: { type: CLUSTER_MANAGER_TYPE },
};

type FileModule = Omit<ModuleSpec, 'generation'>;

/**
 * A module as a properties file wrote it (`type` as written, '' when it had no type line) in
 * Plexus's terms: a Smile name of the table becomes its Plexus type with `smileType` kept, and
 * a module without a type line is the implicit cluster manager when its ID is `clustermgr` or
 * another module of the node requires it as CLUSTERMGR. Null for a module without a type line
 * that is neither. Other modules come back as they are.
 */
export function fromSmileNames(
  m: FileModule,
  nodeModules: readonly FileModule[],
): FileModule | null {
  if (m.type === '') {
    const required = nodeModules.some((o) => o.requires[CLUSTER_MANAGER_ROLE] === m.moduleId);
    if (m.moduleId !== CLUSTER_MANAGER_MODULE_ID && !required) return null;
    return { ...m, type: CLUSTER_MANAGER_TYPE, smileType: '' };
  }
  const mapping = SMILE_TYPE_MAPPINGS[m.type];
  if (!mapping || mapping.unsupportedBecause?.(m.config)) return m;
  return { ...m, type: mapping.type, smileType: m.type };
}

/** The type name a properties file gets for the module: its Smile name, or none ('') for the implicit cluster manager. */
export const fileTypeOf = (m: Pick<ModuleSpec, 'type' | 'smileType'>): string =>
  m.smileType ?? m.type;

/** The part of a module's config its type validates: all of it, or only Plexus's keys for a module imported under a Smile name. */
export function checkedConfig(config: StringMap, type: string, smileType: string | undefined) {
  if (smileType === undefined) return config;
  const keys = SMILE_MAPPED_KEYS[type] ?? [];
  return Object.fromEntries(keys.filter((k) => k in config).map((k) => [k, config[k]]));
}

/**
 * What a worker runs of a module: a module imported under a Smile name gets only the keys its
 * Plexus type uses, and none of its Smile dependencies (CLUSTERMGR is Plexus itself; Plexus's
 * persistence and local-security take none). Other modules are run as they are.
 */
export function runnableModule(m: ModuleSpec): ModuleSpec {
  if (m.smileType === undefined) return m;
  return { ...m, config: checkedConfig(m.config, m.type, m.smileType), requires: {} };
}

/** The document with runnableModule applied; the same object when no module has a Smile name. */
export function runnableDocument(doc: NodeDocument): NodeDocument {
  if (!doc.modules.some((m) => m.smileType !== undefined)) return doc;
  return { ...doc, modules: doc.modules.map(runnableModule) };
}

/** How Plexus takes one module of an imported file (for the import's answer). */
export interface ModuleSupport {
  moduleId: string;
  /** The type stored: a Plexus type, or the file's name when Plexus has none with its meaning. */
  type: string;
  /** The file's Smile type name when Plexus maps it ('' for the implicit cluster manager). */
  smileType?: string;
  /**
   * `runs`: a module type this cluster knows runs it; `provided`: Plexus itself does its job (the
   * cluster manager), no worker runs it; `unsupported`: stored and exported as written, and
   * workers report it unsupported.
   */
  support: 'runs' | 'provided' | 'unsupported';
  /** Why a Smile name of the mapping table was not mapped. */
  reason?: string;
}

export function moduleSupport(m: FileModule, catalog: ModuleTypeCatalog): ModuleSupport {
  const { moduleId, type, smileType } = m;
  const base = { moduleId, type, ...(smileType !== undefined ? { smileType } : {}) };
  if (type === CLUSTER_MANAGER_TYPE) return { ...base, support: 'provided' };
  if (catalog.get(type)) return { ...base, support: 'runs' };
  const reason = SMILE_TYPE_MAPPINGS[type]?.unsupportedBecause?.(m.config);
  return { ...base, support: 'unsupported', ...(reason ? { reason } : {}) };
}
