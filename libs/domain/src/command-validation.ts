import { conflict, exists, invalid, notFound } from './errors';
import { idProblem } from './ids';
import { MAX_KEY_LENGTH, quoted } from './limits';
import { ModuleTypeCatalog } from './module-type-catalog';
import { findModule, ModuleSpec, NodeDocument, StringMap } from './node-document';
import { checkedConfig } from './smile-types';

/** The rules a command must meet before decide builds events: each throws a DomainError. */

const PROPERTY_KEY = /^[^\s=:#!]{1,200}$/;
const ROLE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** The node when it exists (created and not archived), else null. */
export const liveNode = (state: NodeDocument | null): NodeDocument | null =>
  state && state.version > 0 && !state.archived ? state : null;

export function requireLiveNode(state: NodeDocument | null, nodeId: string): NodeDocument {
  const live = liveNode(state);
  if (!live) throw notFound(`node "${nodeId}" does not exist`);
  return live;
}

export function requireNoLiveNode(state: NodeDocument | null, nodeId: string) {
  if (liveNode(state)) throw exists(`node "${nodeId}" already exists`);
}

export function requireModule(doc: NodeDocument, moduleId: string): ModuleSpec {
  const m = findModule(doc, moduleId);
  if (!m) throw notFound(`module "${moduleId}" does not exist on node "${doc.nodeId}"`);
  return m;
}

export function checkNodeId(nodeId: string) {
  const problem = idProblem('nodeId', nodeId);
  if (problem) throw invalid(problem);
}

export function checkModuleId(moduleId: string) {
  const problem = idProblem('moduleId', moduleId);
  if (problem) throw invalid(problem);
}

/** One module ID of a list (a seed or import): valid, and not in `seen` yet (it is added). */
export function checkListedModuleId(moduleId: string, seen: Set<string>) {
  checkModuleId(moduleId);
  if (seen.has(moduleId)) throw invalid(`module "${moduleId}" is given twice`);
  seen.add(moduleId);
}

export function checkKeys(field: string, map: StringMap) {
  for (const key of Object.keys(map)) {
    if (key.length > MAX_KEY_LENGTH || !PROPERTY_KEY.test(key))
      throw invalid(
        `${field} key ${quoted(key, MAX_KEY_LENGTH)} must be 1-${MAX_KEY_LENGTH} characters without white space, "=", ":", "#" or "!"`,
      );
  }
}

/**
 * Config keys, then the type: registered (unless unknown types are allowed) and its schema met.
 * A module imported under a Smile CDR type name (`smileType`) is checked on the keys its Plexus
 * type uses; its other keys are Smile's, kept for the export (checkedConfig).
 */
export function checkConfig(
  catalog: ModuleTypeCatalog,
  moduleId: string,
  type: string,
  config: StringMap,
  allowUnknownType: boolean,
  smileType?: string,
) {
  checkKeys(`modules.${moduleId}.config`, config);
  const info = catalog.get(type);
  if (!info) {
    if (allowUnknownType) return;
    const known = catalog
      .list()
      .map((t) => t.type)
      .join(', ');
    throw invalid(`type "${type}" is not a registered module type (known: ${known})`);
  }
  const problems = info.validateConfig(checkedConfig(config, type, smileType));
  if (problems.length) throw invalid(problems.join('; '));
}

/** Checks that every `requires` names another module of the node that can fill the role, without cycles. */
export function checkRequires(
  modules: Pick<ModuleSpec, 'moduleId' | 'type' | 'requires' | 'smileType'>[],
  catalog: ModuleTypeCatalog,
) {
  const byId = new Map(modules.map((m) => [m.moduleId, m]));
  for (const m of modules) {
    for (const [role, target] of Object.entries(m.requires)) {
      if (!ROLE.test(role))
        throw invalid(
          `requires role "${role}" of module "${m.moduleId}" must be upper-case letters, digits and "_"`,
        );
      const dep = byId.get(target);
      if (!dep || target === m.moduleId)
        throw invalid(
          `requires.${role} of module "${m.moduleId}" names "${target}", which is not another module of this node`,
        );
      const info = catalog.get(dep.type);
      // A module imported under a Smile name is required by Smile's roles (PERSISTENCE_R4):
      // they are kept as written, and Plexus's type is not asked to provide them.
      if (info && !info.provides.includes(role) && dep.smileType === undefined)
        throw invalid(
          `requires.${role} of module "${m.moduleId}" names "${target}", whose type "${dep.type}" does not provide ${role}`,
        );
    }
  }
  // Depth-first search for a cycle: a module may not (indirectly) require itself.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting')
      throw invalid(`requires form a cycle: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const target of Object.values(byId.get(id)?.requires ?? {})) visit(target, [...path, id]);
    state.set(id, 'done');
  };
  for (const m of modules) visit(m.moduleId, []);
}

/** A module may be removed only when no other module of the node requires it. */
export function checkNotRequired(doc: NodeDocument, moduleId: string) {
  for (const other of doc.modules) {
    for (const [role, target] of Object.entries(other.requires)) {
      if (target === moduleId)
        throw conflict(
          `module "${moduleId}" is required by module "${other.moduleId}" (${role}); change or remove that first`,
        );
    }
  }
}
