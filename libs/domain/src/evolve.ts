import { KeyChange, NodeEvent } from './events';
import { emptyNode, ModuleSpec, NodeDocument, StringMap } from './node-document';

function applyChanges(map: StringMap, changes: KeyChange[]): StringMap {
  const out = { ...map };
  for (const c of changes) {
    if (c.new === null) delete out[c.key];
    else out[c.key] = c.new;
  }
  return out;
}

/** The module with its recorded secret keys set (none recorded: the type's keys count). */
function withSecretKeys(m: ModuleSpec, secretKeys: string[] | undefined): ModuleSpec {
  if (secretKeys === undefined) return m;
  const { secretKeys: _old, ...rest } = m;
  return secretKeys.length ? { ...rest, secretKeys } : rest;
}

/** A ModuleConfigChanged's smileType: absent keeps the module's, null drops it. */
function withSmileType(m: ModuleSpec, smileType: string | null | undefined): ModuleSpec {
  if (smileType === undefined) return m;
  const { smileType: _old, ...rest } = m;
  return smileType === null ? rest : { ...rest, smileType };
}

function updateModule(
  doc: NodeDocument,
  moduleId: string,
  update: (m: ModuleSpec) => ModuleSpec,
): ModuleSpec[] {
  return doc.modules.map((m) => (m.moduleId === moduleId ? update(m) : m));
}

/** Applies one event to a node document; the version counts the events applied. */
export function evolve(state: NodeDocument, event: NodeEvent): NodeDocument {
  const doc = { ...state, version: state.version + 1 };
  switch (event.type) {
    case 'NodeCreated':
      return {
        ...emptyNode(state.nodeId),
        version: doc.version,
        properties: event.data.properties,
      };
    case 'NodePropertiesChanged':
      return { ...doc, properties: applyChanges(doc.properties, event.data.changes) };
    case 'NodeArchived':
      return { ...doc, archived: true };
    case 'ModuleAdded': {
      const { moduleId, type, config, requires, enabled, activation, secretKeys, smileType } =
        event.data;
      const added: ModuleSpec = {
        moduleId,
        type,
        config,
        requires,
        enabled,
        activation,
        generation: 0,
        ...(smileType !== undefined ? { smileType } : {}),
      };
      return { ...doc, modules: [...doc.modules, withSecretKeys(added, secretKeys)] };
    }
    case 'ModuleConfigChanged': {
      const { moduleId, changes, type, requires, activation, secretKeys, smileType } = event.data;
      return {
        ...doc,
        modules: updateModule(doc, moduleId, (m) =>
          withSmileType(
            withSecretKeys(
              {
                ...m,
                config: applyChanges(m.config, changes),
                type: type ?? m.type,
                requires: requires ?? m.requires,
                activation: activation ?? m.activation,
              },
              secretKeys,
            ),
            smileType,
          ),
        ),
      };
    }
    case 'ModuleStarted':
      return {
        ...doc,
        modules: updateModule(doc, event.data.moduleId, (m) => ({
          ...m,
          enabled: true,
          generation: event.data.restart ? m.generation + 1 : m.generation,
        })),
      };
    case 'ModuleStopped':
      return {
        ...doc,
        modules: updateModule(doc, event.data.moduleId, (m) => ({ ...m, enabled: false })),
      };
    case 'ModuleRemoved':
      return { ...doc, modules: doc.modules.filter((m) => m.moduleId !== event.data.moduleId) };
  }
}

export function evolveAll(state: NodeDocument, events: NodeEvent[]): NodeDocument {
  return events.reduce(evolve, state);
}
