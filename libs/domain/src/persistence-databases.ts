import { conflict } from './errors';
import { NodeDocument, StringMap } from './node-document';

/** The module type that owns a database (and the batch-job store in it). */
export const PERSISTENCE_MODULE_TYPE = 'persistence';

/** A persistence module somewhere in the cluster, as the db.url guard sees it. */
export interface PersistenceModuleRef {
  nodeId: string;
  moduleId: string;
  enabled: boolean;
  config: StringMap;
}

export const isReadOnlyPersistence = (config: StringMap) =>
  config['read_only_mode.enabled']?.trim() === 'true';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Which database a db.url points at, as `host:port/database`: the JDBC prefix, credentials and
 * query options dropped, the host lower-cased, the default port 5432 filled in and the names of
 * the loopback address made one. Two URLs with the same key are the same database. Null when the
 * URL cannot be read.
 */
export function databaseKey(url: string | undefined): string | null {
  if (!url) return null;
  const match =
    /^(?:jdbc:)?(?:postgres|postgresql):\/\/(?:[^@/]*@)?([^/:?]+|\[[^\]]+\])(?::(\d+))?\/([^?/]+)/i.exec(
      url.trim(),
    );
  if (!match) return null;
  const host = LOOPBACK.has(match[1].toLowerCase()) ? '127.0.0.1' : match[1].toLowerCase();
  return `${host}:${Number(match[2] ?? 5432)}/${decodeURIComponent(match[3])}`;
}

/**
 * Why a db.url may not be stored, or null: a password in it (`user:password@host`, or a query
 * option such as `password=` or `sslpassword=`) would be kept and shown in clear, since only
 * db.password is secret.
 */
export function dbUrlCredentialsProblem(url: string | undefined): string | null {
  const match = /^(?:jdbc:)?(?:postgres|postgresql):\/\/([^/?#]*)([^#]*)/i.exec(url?.trim() ?? '');
  if (!match) return null;
  const [, authority, rest] = match;
  const userInfo = authority.slice(0, Math.max(0, authority.lastIndexOf('@')));
  const query = rest.includes('?') ? rest.slice(rest.indexOf('?') + 1) : '';
  const optionNames = query.split('&').map((option) => option.split('=')[0]);
  if (!userInfo.includes(':') && !optionNames.some((name) => /password$/i.test(name))) return null;
  return (
    'db.url must not hold credentials (user:password@ or password=): ' +
    'put the password in db.password (kept secret) and the user in db.username'
  );
}

export function persistenceModulesOf(doc: NodeDocument): PersistenceModuleRef[] {
  if (doc.archived) return [];
  return doc.modules
    .filter((m) => m.type === PERSISTENCE_MODULE_TYPE)
    .map((m) => ({
      nodeId: doc.nodeId,
      moduleId: m.moduleId,
      enabled: m.enabled,
      config: m.config,
    }));
}

/** True when a write changes a persistence module of the node (so the db.url guard must run). */
export function changesPersistenceModules(before: NodeDocument | null, after: NodeDocument) {
  const shape = (doc: NodeDocument | null) =>
    JSON.stringify(
      (doc ? persistenceModulesOf(doc) : []).map((m) => [m.moduleId, m.enabled, m.config]),
    );
  return shape(before) !== shape(after) && persistenceModulesOf(after).length > 0;
}

/**
 * The first pair of enabled, writable persistence modules on different nodes that point at the
 * same database, or null. Read-only duplicates are fine: they only read job status.
 */
export function writableDuplicate(
  modules: PersistenceModuleRef[],
): { database: string; first: PersistenceModuleRef; second: PersistenceModuleRef } | null {
  const writerByDatabase = new Map<string, PersistenceModuleRef>();
  for (const m of modules) {
    if (!m.enabled || isReadOnlyPersistence(m.config)) continue;
    const database = databaseKey(m.config['db.url']);
    if (!database) continue;
    const first = writerByDatabase.get(database);
    if (first && first.nodeId !== m.nodeId) return { database, first, second: m };
    if (!first) writerByDatabase.set(database, m);
  }
  return null;
}

/** Refuses (409) a cluster where two nodes would both write to one database. */
export function assertOneWriterPerDatabase(modules: PersistenceModuleRef[]) {
  const duplicate = writableDuplicate(modules);
  if (!duplicate) return;
  const name = (m: PersistenceModuleRef) => `module "${m.moduleId}" of node "${m.nodeId}"`;
  throw conflict(
    `${name(duplicate.first)} and ${name(duplicate.second)} are both writable persistence modules ` +
      `on database ${duplicate.database} (db.url): only one node may write to a database. ` +
      'Set read_only_mode.enabled=true on one of them (it then only reads job status).',
  );
}
