import { KeyChange, NodeEvent } from './events';
import { ModuleTypeCatalog } from './module-type-catalog';
import { ModuleSpec, NodeDocument, StringMap } from './node-document';

/** What a secret value looks like in every answer, event and log. Sending it back means "unchanged". */
export const REDACTED = '******';

const SECRET_SUFFIX = /(password|secret|token)$/i;

export function isSecretKey(key: string, typeSecretKeys: readonly string[] = []): boolean {
  return typeSecretKeys.includes(key) || SECRET_SUFFIX.test(key);
}

/**
 * The keys of a module that are secret besides the suffix rule: those its node document records
 * (a key secret under an earlier type stays secret while the module keeps it) and its type's.
 * A document written before the record existed has none: the type's keys then decide.
 */
export function moduleSecretKeys(
  m: Pick<ModuleSpec, 'type' | 'secretKeys'>,
  catalog: Pick<ModuleTypeCatalog, 'get'>,
): readonly string[] {
  const typeKeys = catalog.get(m.type)?.secretKeys ?? [];
  if (!m.secretKeys?.length) return typeKeys;
  return [...new Set([...m.secretKeys, ...typeKeys])];
}

/**
 * Turns one secret value into another (redacted, encrypted, decrypted). `key` names it; `moduleId`
 * is the module whose config holds it, null for a node property.
 */
export type SecretValueMap = (value: string, key: string, moduleId: string | null) => string;

/** `map` with `fn` applied to its secret values; the same object when it holds none. */
function mapSecretEntries(
  map: StringMap,
  secretKeys: readonly string[],
  fn: SecretValueMap,
  moduleId: string | null = null,
) {
  let out: StringMap | null = null;
  for (const key in map) {
    if (!isSecretKey(key, secretKeys)) continue;
    out ??= { ...map };
    out[key] = fn(map[key], key, moduleId);
  }
  return out ?? map;
}

/** The module with `fn` applied to its secret config values; the same object when it has none. */
export function mapModuleSecrets(
  m: ModuleSpec,
  catalog: Pick<ModuleTypeCatalog, 'get'>,
  fn: SecretValueMap,
): ModuleSpec {
  const config = mapSecretEntries(m.config, moduleSecretKeys(m, catalog), fn, m.moduleId);
  return config === m.config ? m : { ...m, config };
}

/**
 * The document with `fn` applied to every secret value (node properties by the suffix rule,
 * module configs by moduleSecretKeys too). Returns the same document, not a copy, when it has no
 * secret value, so that a write to a node without secrets costs no copying.
 */
export function mapDocumentSecrets(
  doc: NodeDocument,
  catalog: ModuleTypeCatalog,
  fn: SecretValueMap,
): NodeDocument {
  const properties = mapSecretEntries(doc.properties, [], fn);
  let modules: ModuleSpec[] | null = null;
  doc.modules.forEach((m, i) => {
    const mapped = mapModuleSecrets(m, catalog, fn);
    if (mapped === m) return;
    modules ??= [...doc.modules];
    modules[i] = mapped;
  });
  if (properties === doc.properties && !modules) return doc;
  return { ...doc, properties, modules: modules ?? doc.modules };
}

function mapChanges(
  changes: KeyChange[],
  fn: SecretValueMap,
  moduleId: string | null,
): KeyChange[] {
  if (!changes.some((c) => c.secret)) return changes;
  return changes.map((c) =>
    c.secret
      ? {
          ...c,
          old: c.old === null ? null : fn(c.old, c.key, moduleId),
          new: c.new === null ? null : fn(c.new, c.key, moduleId),
        }
      : c,
  );
}

/**
 * The event with `fn` applied to every secret value it carries: the config of an added module
 * (by its type's and recorded secret keys), created properties, and changes marked secret.
 * Returns the same event when it carries none.
 */
export function mapEventSecrets<E extends NodeEvent>(
  event: E,
  catalog: ModuleTypeCatalog,
  fn: SecretValueMap,
): E {
  const e = event as NodeEvent;
  switch (e.type) {
    case 'NodeCreated': {
      const properties = mapSecretEntries(e.data.properties, [], fn);
      return properties === e.data.properties ? event : { ...event, data: { properties } };
    }
    case 'ModuleAdded': {
      const keys = moduleSecretKeys(e.data, catalog);
      const config = mapSecretEntries(e.data.config, keys, fn, e.data.moduleId);
      return config === e.data.config ? event : { ...event, data: { ...e.data, config } };
    }
    case 'NodePropertiesChanged': {
      const changes = mapChanges(e.data.changes, fn, null);
      return changes === e.data.changes ? event : { ...event, data: { ...e.data, changes } };
    }
    case 'ModuleConfigChanged': {
      const changes = mapChanges(e.data.changes, fn, e.data.moduleId);
      return changes === e.data.changes ? event : { ...event, data: { ...e.data, changes } };
    }
    default:
      return event;
  }
}

const redact = () => REDACTED;

export function redactDocument(doc: NodeDocument, catalog: ModuleTypeCatalog): NodeDocument {
  // Built key by key so that answers list fields in the same order whatever storage did to them.
  return {
    nodeId: doc.nodeId,
    version: doc.version,
    archived: doc.archived,
    properties: mapSecretEntries(doc.properties, [], redact),
    modules: doc.modules.map((m) => ({
      moduleId: m.moduleId,
      type: m.type,
      enabled: m.enabled,
      activation: m.activation,
      generation: m.generation,
      requires: m.requires,
      config: mapSecretEntries(m.config, moduleSecretKeys(m, catalog), redact, m.moduleId),
      ...(m.smileType !== undefined ? { smileType: m.smileType } : {}),
    })),
  };
}

/** The event as it may be shown or published: secret values replaced by REDACTED. */
export function redactEvent<E extends NodeEvent>(event: E, catalog: ModuleTypeCatalog): E {
  return mapEventSecrets(event, catalog, redact);
}
