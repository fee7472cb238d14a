import { NodeCommand, ModuleInput } from './commands';
import { conflict, DomainError, exists, invalid, notFound } from './errors';
import { keyChanges } from './diff';
import { NodeEvent } from './events';
import { idProblem } from './ids';
import { ModuleTypeCatalog } from './module-type-catalog';
import { findModule, ModuleSpec, NodeDocument, StringMap } from './node-document';
import { MAX_KEY_LENGTH, quoted } from './limits';
import { isSecretKey, moduleSecretKeys, REDACTED } from './secrets';

const PROPERTY_KEY = /^[^\s=:#!]{1,200}$/;
const ROLE = /^[A-Z][A-Z0-9_]{0,63}$/;

function checkKeys(field: string, map: StringMap) {
  for (const key of Object.keys(map)) {
    if (key.length > MAX_KEY_LENGTH || !PROPERTY_KEY.test(key))
      throw invalid(
        `${field} key ${quoted(key, MAX_KEY_LENGTH)} must be 1-${MAX_KEY_LENGTH} characters without white space, "=", ":", "#" or "!"`,
      );
  }
}

/** A REDACTED value sent back means "keep the stored secret" (the client never saw it). */
function restoreSecrets(
  config: StringMap,
  stored: StringMap,
  secretKeys: readonly string[],
  field = 'config',
) {
  const out: StringMap = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === REDACTED && isSecretKey(key, secretKeys)) {
      if (stored[key] === undefined)
        throw invalid(`${field}.${key} is "${REDACTED}" but no value is stored to keep`);
      out[key] = stored[key];
    } else out[key] = value;
  }
  return out;
}

type SecretKeyed = Pick<ModuleSpec, 'type' | 'secretKeys'> | undefined;

/**
 * The keys secret for a module that changes from `before` (what it is now, and for a revert what
 * it was then) to a module of `type`: secret under the old type or the new one, or recorded.
 * Its changes are marked secret and a REDACTED value for them keeps the stored one.
 */
function secretKeysAcross(before: SecretKeyed[], type: string, catalog: ModuleTypeCatalog) {
  const keys = new Set(catalog.get(type)?.secretKeys ?? []);
  for (const m of before) if (m) moduleSecretKeys(m, catalog).forEach((k) => keys.add(k));
  return [...keys];
}

/**
 * ModuleSpec.secretKeys after such a change: the new type's keys and every key secret before that
 * the module keeps, so that a PUT under another type cannot turn a secret into a shown value.
 * Undefined when that is just the type's keys (nothing to record).
 */
function recordedSecretKeys(
  before: SecretKeyed[],
  type: string,
  config: StringMap,
  catalog: ModuleTypeCatalog,
): string[] | undefined {
  const typeKeys = catalog.get(type)?.secretKeys ?? [];
  const kept = secretKeysAcross(before, type, catalog).filter(
    (k) => !typeKeys.includes(k) && Object.hasOwn(config, k),
  );
  return kept.length ? [...typeKeys, ...kept].sort() : undefined;
}

const sameKeys = (a: string[] | undefined, b: string[] | undefined) =>
  (a ?? []).join('\n') === (b ?? []).join('\n');

/** The `secretKeys` part of a ModuleConfigChanged: present only when the record changes. */
function secretKeysChange(current: ModuleSpec, recorded: string[] | undefined) {
  return sameKeys(current.secretKeys, recorded) ? {} : { secretKeys: recorded ?? [] };
}

function requireLiveNode(state: NodeDocument | null, nodeId: string): NodeDocument {
  if (!state || state.version === 0 || state.archived)
    throw notFound(`node "${nodeId}" does not exist`);
  return state;
}

function requireModule(doc: NodeDocument, moduleId: string): ModuleSpec {
  const m = findModule(doc, moduleId);
  if (!m) throw notFound(`module "${moduleId}" does not exist on node "${doc.nodeId}"`);
  return m;
}

function checkModuleId(moduleId: string) {
  const problem = idProblem('moduleId', moduleId);
  if (problem) throw invalid(problem);
}

function checkConfig(
  catalog: ModuleTypeCatalog,
  moduleId: string,
  type: string,
  config: StringMap,
  allowUnknownType: boolean,
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
  const problems = info.validateConfig(config);
  if (problems.length) throw invalid(problems.join('; '));
}

/** Checks that every `requires` names another module of the node that can fill the role, without cycles. */
function checkRequires(
  modules: Pick<ModuleSpec, 'moduleId' | 'type' | 'requires'>[],
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
      if (info && !info.provides.includes(role))
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

function decidePutModule(
  doc: NodeDocument,
  moduleId: string,
  input: ModuleInput,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  checkModuleId(moduleId);
  const current = findModule(doc, moduleId);
  const secretKeys = secretKeysAcross([current], input.type, catalog);
  const config = restoreSecrets(input.config, current?.config ?? {}, secretKeys);
  checkConfig(catalog, moduleId, input.type, config, false);
  const others = doc.modules.filter((m) => m.moduleId !== moduleId);
  checkRequires([...others, { moduleId, type: input.type, requires: input.requires }], catalog);

  if (!current) {
    return [{ type: 'ModuleAdded', data: { moduleId, ...input, config } }];
  }
  const events: NodeEvent[] = [];
  const changes = keyChanges(current.config, config, secretKeys);
  const typeChanged = current.type !== input.type;
  const requiresChanged =
    JSON.stringify(sortMap(current.requires)) !== JSON.stringify(sortMap(input.requires));
  const activationChanged = current.activation !== input.activation;
  if (changes.length || typeChanged || requiresChanged || activationChanged) {
    const recorded = recordedSecretKeys([current], input.type, config, catalog);
    events.push({
      type: 'ModuleConfigChanged',
      data: {
        moduleId,
        changes,
        ...(typeChanged ? { type: input.type } : {}),
        ...(requiresChanged ? { requires: input.requires } : {}),
        ...(activationChanged ? { activation: input.activation } : {}),
        ...secretKeysChange(current, recorded),
      },
    });
  }
  if (current.enabled !== input.enabled)
    events.push({ type: input.enabled ? 'ModuleStarted' : 'ModuleStopped', data: { moduleId } });
  return events;
}

/** Events that turn `current` into `target` (same config; restart counters are not config). */
function decideRestore(
  current: NodeDocument | null,
  target: NodeDocument,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  if (target.archived)
    throw invalid(
      `version ${target.version} of node "${target.nodeId}" is archived; revert to a version where the node exists`,
    );
  const added = (m: ModuleSpec): NodeEvent => {
    const secretKeys = recordedSecretKeys([m], m.type, m.config, catalog);
    return {
      type: 'ModuleAdded',
      data: {
        moduleId: m.moduleId,
        type: m.type,
        config: m.config,
        requires: m.requires,
        enabled: m.enabled,
        activation: m.activation,
        ...(secretKeys ? { secretKeys } : {}),
      },
    };
  };
  if (!current || current.version === 0 || current.archived)
    return [
      { type: 'NodeCreated', data: { properties: target.properties } },
      ...dependencyOrder(target.modules).map(added),
    ];

  const events: NodeEvent[] = [];
  const properties = keyChanges(current.properties, target.properties);
  if (properties.length)
    events.push({ type: 'NodePropertiesChanged', data: { changes: properties } });
  const now = new Map(current.modules.map((m) => [m.moduleId, m]));
  const wanted = new Map(target.modules.map((m) => [m.moduleId, m]));
  for (const m of dependencyOrder(target.modules)) if (!now.has(m.moduleId)) events.push(added(m));
  for (const m of target.modules) {
    const c = now.get(m.moduleId);
    if (!c) continue;
    const changes = keyChanges(c.config, m.config, secretKeysAcross([c, m], m.type, catalog));
    const typeChanged = c.type !== m.type;
    const requiresChanged =
      JSON.stringify(sortMap(c.requires)) !== JSON.stringify(sortMap(m.requires));
    const activationChanged = c.activation !== m.activation;
    if (changes.length || typeChanged || requiresChanged || activationChanged)
      events.push({
        type: 'ModuleConfigChanged',
        data: {
          moduleId: m.moduleId,
          changes,
          ...(typeChanged ? { type: m.type } : {}),
          ...(requiresChanged ? { requires: m.requires } : {}),
          ...(activationChanged ? { activation: m.activation } : {}),
          ...secretKeysChange(c, recordedSecretKeys([c, m], m.type, m.config, catalog)),
        },
      });
    if (c.enabled !== m.enabled)
      events.push({
        type: m.enabled ? 'ModuleStarted' : 'ModuleStopped',
        data: { moduleId: m.moduleId },
      });
  }
  const removed = current.modules.filter((m) => !wanted.has(m.moduleId));
  for (const m of dependencyOrder(removed).reverse())
    events.push({ type: 'ModuleRemoved', data: { moduleId: m.moduleId } });
  return events;
}

/**
 * A node as a properties file describes it (import): validated like SeedNode (IDs, known types
 * against their schema, unknown types kept as they are, requires within the node), then the
 * forward events that make the stored node equal it, as a revert would. A secret given as
 * REDACTED keeps the stored value, so importing an export changes nothing.
 */
function decideImport(
  state: NodeDocument | null,
  nodeId: string,
  command: Extract<NodeCommand, { kind: 'ImportNode' }>,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  const live = state && state.version > 0 && !state.archived ? state : null;
  checkKeys('properties', command.properties);
  const properties = restoreSecrets(command.properties, live?.properties ?? {}, [], 'properties');
  const seen = new Set<string>();
  const modules: ModuleSpec[] = [];
  for (const m of command.modules) {
    checkModuleId(m.moduleId);
    if (seen.has(m.moduleId)) throw invalid(`module "${m.moduleId}" is given twice`);
    seen.add(m.moduleId);
    if (!m.type) throw invalid(`module "${m.moduleId}" has no type`);
    const stored = live ? findModule(live, m.moduleId) : undefined;
    const config = restoreSecrets(
      m.config,
      stored?.config ?? {},
      secretKeysAcross([stored], m.type, catalog),
      `modules.${m.moduleId}.config`,
    );
    try {
      checkConfig(catalog, m.moduleId, m.type, config, true);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      throw invalid(`module "${m.moduleId}" (type ${m.type}): ${err.message}`);
    }
    const { secretKeys: _given, ...file } = m;
    const secretKeys = recordedSecretKeys([stored], m.type, config, catalog);
    modules.push({
      ...file,
      config,
      generation: stored?.generation ?? 0,
      ...(secretKeys ? { secretKeys } : {}),
    });
  }
  checkRequires(modules, catalog);
  const target: NodeDocument = {
    nodeId,
    version: live?.version ?? 0,
    archived: false,
    properties,
    modules,
  };
  return decideRestore(live, target, catalog);
}

/** Modules ordered so that each comes after the modules it requires (within the list). */
function dependencyOrder<M extends Pick<ModuleSpec, 'moduleId' | 'requires'>>(modules: M[]): M[] {
  const byId = new Map(modules.map((m) => [m.moduleId, m]));
  const out: M[] = [];
  const seen = new Set<string>();
  const visit = (m: M) => {
    if (seen.has(m.moduleId)) return;
    seen.add(m.moduleId);
    for (const target of Object.values(m.requires)) {
      const dep = byId.get(target);
      if (dep) visit(dep);
    }
    out.push(m);
  };
  modules.forEach(visit);
  return out;
}

function sortMap(map: StringMap): [string, string][] {
  return Object.entries(map).sort(([a], [b]) => a.localeCompare(b));
}

/**
 * The heart of the write side: given the node as it is and a command, the events that the
 * command produces, or a DomainError saying why it is refused. Pure: no I/O, no clock.
 */
export function decide(
  state: NodeDocument | null,
  nodeId: string,
  command: NodeCommand,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  const problem = idProblem('nodeId', nodeId);
  if (problem) throw invalid(problem);

  switch (command.kind) {
    case 'PutNode': {
      checkKeys('properties', command.properties);
      if (!state || state.version === 0 || state.archived)
        return [{ type: 'NodeCreated', data: { properties: command.properties } }];
      const properties = restoreSecrets(command.properties, state.properties, [], 'properties');
      const changes = keyChanges(state.properties, properties);
      return changes.length ? [{ type: 'NodePropertiesChanged', data: { changes } }] : [];
    }
    case 'SeedNode': {
      if (state && state.version > 0 && !state.archived)
        throw exists(`node "${nodeId}" already exists`);
      checkKeys('properties', command.properties);
      const seen = new Set<string>();
      for (const m of command.modules) {
        checkModuleId(m.moduleId);
        if (seen.has(m.moduleId)) throw invalid(`module "${m.moduleId}" is given twice`);
        seen.add(m.moduleId);
        checkConfig(catalog, m.moduleId, m.type, m.config, true);
      }
      checkRequires(command.modules, catalog);
      return [
        { type: 'NodeCreated', data: { properties: command.properties } },
        ...command.modules.map((m): NodeEvent => {
          const { secretKeys: _given, ...data } = m; // a new module's secret keys are its type's
          return { type: 'ModuleAdded', data };
        }),
      ];
    }
    case 'RestoreNode':
      return decideRestore(state, command.target, catalog);
    case 'ImportNode':
      return decideImport(state, nodeId, command, catalog);
    case 'ArchiveNode':
      requireLiveNode(state, nodeId);
      return [{ type: 'NodeArchived', data: {} }];
    case 'PutModule':
      return decidePutModule(
        requireLiveNode(state, nodeId),
        command.moduleId,
        command.module,
        catalog,
      );
    case 'PatchModuleConfig': {
      const doc = requireLiveNode(state, nodeId);
      const current = requireModule(doc, command.moduleId);
      const secretKeys = moduleSecretKeys(current, catalog);
      const next = { ...current.config };
      for (const [key, value] of Object.entries(command.changes)) {
        if (value === null) delete next[key];
        else if (!(value === REDACTED && isSecretKey(key, secretKeys))) next[key] = value;
      }
      checkConfig(catalog, current.moduleId, current.type, next, true);
      const changes = keyChanges(current.config, next, secretKeys);
      if (!changes.length) return [];
      const recorded = recordedSecretKeys([current], current.type, next, catalog);
      return [
        {
          type: 'ModuleConfigChanged',
          data: {
            moduleId: current.moduleId,
            changes,
            ...secretKeysChange(current, recorded),
          },
        },
      ];
    }
    case 'StartModule': {
      const m = requireModule(requireLiveNode(state, nodeId), command.moduleId);
      return m.enabled ? [] : [{ type: 'ModuleStarted', data: { moduleId: m.moduleId } }];
    }
    case 'StopModule': {
      const m = requireModule(requireLiveNode(state, nodeId), command.moduleId);
      return m.enabled ? [{ type: 'ModuleStopped', data: { moduleId: m.moduleId } }] : [];
    }
    case 'RestartModule': {
      const m = requireModule(requireLiveNode(state, nodeId), command.moduleId);
      if (!m.enabled) throw conflict(`module "${m.moduleId}" is stopped; start it instead`);
      return [
        { type: 'ModuleStopped', data: { moduleId: m.moduleId, restart: true } },
        { type: 'ModuleStarted', data: { moduleId: m.moduleId, restart: true } },
      ];
    }
    case 'RemoveModule': {
      const doc = requireLiveNode(state, nodeId);
      const m = requireModule(doc, command.moduleId);
      for (const other of doc.modules) {
        for (const [role, target] of Object.entries(other.requires)) {
          if (target === m.moduleId)
            throw conflict(
              `module "${m.moduleId}" is required by module "${other.moduleId}" (${role}); change or remove that first`,
            );
        }
      }
      return [{ type: 'ModuleRemoved', data: { moduleId: m.moduleId } }];
    }
  }
}
