import { invalid } from './errors';
import { Activation, ModuleSpec, NodeDocument, StringMap } from './node-document';

export interface NodeFromProperties {
  nodeId: string | null;
  properties: StringMap;
  modules: Omit<ModuleSpec, 'generation'>[];
}

const MODULE_KEY = /^module\.([^.]+)\.(type|enabled|activation|requires\.(.+)|config\.(.+))$/;

/**
 * Maps the flat keys of a Smile CDR node properties file (already parsed) to a node:
 * `node.id`, `node.<property>`, `module.<id>.type|enabled|activation|requires.<ROLE>|config.<key>`.
 */
export function nodeFromProperties(flat: StringMap): NodeFromProperties {
  let nodeId: string | null = null;
  const properties: StringMap = {};
  const modules = new Map<string, Omit<ModuleSpec, 'generation'>>();
  const moduleOf = (id: string) => {
    let m = modules.get(id);
    if (!m) {
      m = { moduleId: id, type: '', config: {}, requires: {}, enabled: true, activation: 'all' };
      modules.set(id, m);
    }
    return m;
  };
  for (const [key, value] of Object.entries(flat)) {
    if (key === 'node.id') {
      nodeId = value;
      continue;
    }
    if (key.startsWith('module.')) {
      const match = MODULE_KEY.exec(key);
      if (!match)
        throw invalid(
          `key "${key}" must be module.<id>.type, .enabled, .activation, .requires.<ROLE> or .config.<key>`,
        );
      const [, id, part, role, configKey] = match;
      const m = moduleOf(id);
      if (part === 'type') m.type = value;
      else if (part === 'enabled') {
        if (value !== 'true' && value !== 'false')
          throw invalid(`key "${key}" must be true or false`);
        m.enabled = value === 'true';
      } else if (part === 'activation') {
        if (value !== 'all' && value !== 'single')
          throw invalid(`key "${key}" must be all or single`);
        m.activation = value as Activation;
      } else if (role !== undefined) m.requires[role] = value;
      else m.config[configKey] = value;
      continue;
    }
    properties[key.startsWith('node.') ? key.slice('node.'.length) : key] = value;
  }
  for (const m of modules.values()) {
    if (!m.type) throw invalid(`module "${m.moduleId}" has no module.${m.moduleId}.type`);
  }
  return { nodeId, properties, modules: [...modules.values()] };
}

/** The inverse of nodeFromProperties: flat keys in a stable order, ready to write as a file. */
export function nodeToProperties(
  doc: Pick<NodeDocument, 'nodeId' | 'properties' | 'modules'>,
): [string, string][] {
  const out: [string, string][] = [['node.id', doc.nodeId]];
  for (const key of Object.keys(doc.properties).sort())
    out.push([`node.${key}`, doc.properties[key]]);
  for (const m of doc.modules) {
    const prefix = `module.${m.moduleId}`;
    out.push([`${prefix}.type`, m.type]);
    if (!m.enabled) out.push([`${prefix}.enabled`, 'false']);
    if (m.activation !== 'all') out.push([`${prefix}.activation`, m.activation]);
    for (const role of Object.keys(m.requires).sort())
      out.push([`${prefix}.requires.${role}`, m.requires[role]]);
    for (const key of Object.keys(m.config).sort())
      out.push([`${prefix}.config.${key}`, m.config[key]]);
  }
  return out;
}
