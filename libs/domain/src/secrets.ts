import { KeyChange, NodeEvent } from './events';
import { ModuleTypeCatalog } from './module-type-catalog';
import { NodeDocument, StringMap } from './node-document';

/** What a secret value looks like in every answer, event and log. Sending it back means "unchanged". */
export const REDACTED = '******';

const SECRET_SUFFIX = /(password|secret|token)$/i;

export function isSecretKey(key: string, typeSecretKeys: readonly string[] = []): boolean {
  return typeSecretKeys.includes(key) || SECRET_SUFFIX.test(key);
}

function redactMap(map: StringMap, typeSecretKeys: readonly string[] = []): StringMap {
  const out: StringMap = {};
  for (const [k, v] of Object.entries(map)) out[k] = isSecretKey(k, typeSecretKeys) ? REDACTED : v;
  return out;
}

function redactChanges(changes: KeyChange[]): KeyChange[] {
  return changes.map((c) =>
    c.secret
      ? { ...c, old: c.old === null ? null : REDACTED, new: c.new === null ? null : REDACTED }
      : c,
  );
}

export function redactDocument(doc: NodeDocument, catalog: ModuleTypeCatalog): NodeDocument {
  // Built key by key so that answers list fields in the same order whatever storage did to them.
  return {
    nodeId: doc.nodeId,
    version: doc.version,
    archived: doc.archived,
    properties: redactMap(doc.properties),
    modules: doc.modules.map((m) => ({
      moduleId: m.moduleId,
      type: m.type,
      enabled: m.enabled,
      activation: m.activation,
      generation: m.generation,
      requires: m.requires,
      config: redactMap(m.config, catalog.get(m.type)?.secretKeys),
    })),
  };
}

/** The event as it may be shown or published: secret values replaced by REDACTED. */
export function redactEvent<E extends NodeEvent>(event: E, catalog: ModuleTypeCatalog): E {
  switch (event.type) {
    case 'NodeCreated':
      return { ...event, data: { properties: redactMap(event.data.properties) } };
    case 'ModuleAdded':
      return {
        ...event,
        data: {
          ...event.data,
          config: redactMap(event.data.config, catalog.get(event.data.type)?.secretKeys),
        },
      };
    case 'NodePropertiesChanged':
    case 'ModuleConfigChanged':
      return { ...event, data: { ...event.data, changes: redactChanges(event.data.changes) } };
    default:
      return event;
  }
}
