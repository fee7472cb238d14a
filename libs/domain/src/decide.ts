import { ModuleInput, NodeCommand } from './commands';
import {
  checkConfig,
  checkKeys,
  checkListedModuleId,
  checkModuleId,
  checkNodeId,
  checkNotRequired,
  checkRequires,
  liveNode,
  requireLiveNode,
  requireModule,
  requireNoLiveNode,
} from './command-validation';
import { conflict, invalid } from './errors';
import { keyChanges } from './diff';
import { NodeEvent } from './events';
import { importTarget, ImportNodeCommand } from './import-target';
import { ModuleTypeCatalog } from './module-type-catalog';
import {
  dependencyOrder,
  moduleAdded,
  moduleChangeEvents,
  moduleListEvents,
} from './module-events';
import { findModule, NodeDocument, StringMap } from './node-document';
import { restoreSecrets, secretKeysAcross } from './secret-changes';
import { isSecretKey, moduleSecretKeys, REDACTED } from './secrets';

type Command<K extends NodeCommand['kind']> = Extract<NodeCommand, { kind: K }>;

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
  checkNodeId(nodeId);
  switch (command.kind) {
    case 'PutNode':
      return decidePutNode(state, command.properties);
    case 'SeedNode':
      return decideSeed(state, nodeId, command, catalog);
    case 'RestoreNode':
      return decideRestore(state, command.target, catalog);
    case 'ImportNode':
      return decideImport(state, nodeId, command, catalog);
    case 'ArchiveNode':
      requireLiveNode(state, nodeId);
      return [{ type: 'NodeArchived', data: {} }];
    case 'PutModule':
      return decidePutModule(requireLiveNode(state, nodeId), command, catalog);
    case 'PatchModuleConfig':
      return decidePatch(requireLiveNode(state, nodeId), command, catalog);
    case 'StartModule': {
      const m = requireModule(requireLiveNode(state, nodeId), command.moduleId);
      return m.enabled ? [] : [{ type: 'ModuleStarted', data: { moduleId: m.moduleId } }];
    }
    case 'StopModule': {
      const m = requireModule(requireLiveNode(state, nodeId), command.moduleId);
      return m.enabled ? [{ type: 'ModuleStopped', data: { moduleId: m.moduleId } }] : [];
    }
    case 'RestartModule':
      return decideRestart(requireLiveNode(state, nodeId), command.moduleId);
    case 'RemoveModule': {
      const doc = requireLiveNode(state, nodeId);
      const m = requireModule(doc, command.moduleId);
      checkNotRequired(doc, m.moduleId);
      return [{ type: 'ModuleRemoved', data: { moduleId: m.moduleId } }];
    }
  }
}

function decidePutNode(state: NodeDocument | null, given: StringMap): NodeEvent[] {
  checkKeys('properties', given);
  const live = liveNode(state);
  if (!live) return [{ type: 'NodeCreated', data: { properties: given } }];
  const changes = keyChanges(
    live.properties,
    restoreSecrets(given, live.properties, [], 'properties'),
  );
  return changes.length ? [{ type: 'NodePropertiesChanged', data: { changes } }] : [];
}

function decideSeed(
  state: NodeDocument | null,
  nodeId: string,
  command: Command<'SeedNode'>,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  requireNoLiveNode(state, nodeId);
  checkKeys('properties', command.properties);
  const seen = new Set<string>();
  for (const m of command.modules) {
    checkListedModuleId(m.moduleId, seen);
    checkConfig(catalog, m.moduleId, m.type, m.config, true, m.smileType);
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
  const live = liveNode(current);
  if (!live)
    return [
      { type: 'NodeCreated', data: { properties: target.properties } },
      ...dependencyOrder(target.modules).map((m) => moduleAdded(m, catalog)),
    ];
  const properties = keyChanges(live.properties, target.properties);
  return [
    ...(properties.length
      ? [{ type: 'NodePropertiesChanged' as const, data: { changes: properties } }]
      : []),
    ...moduleListEvents(live.modules, target.modules, catalog),
  ];
}

/** A node as a properties file describes it: the forward events that make the node equal it, as a revert would. */
function decideImport(
  state: NodeDocument | null,
  nodeId: string,
  command: ImportNodeCommand,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  const live = liveNode(state);
  return decideRestore(live, importTarget(live, nodeId, command, catalog), catalog);
}

function decidePutModule(
  doc: NodeDocument,
  { moduleId, module: input }: Command<'PutModule'>,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  checkModuleId(moduleId);
  const current = findModule(doc, moduleId);
  const secretKeys = secretKeysAcross([current], input.type, catalog);
  const config = restoreSecrets(input.config, current?.config ?? {}, secretKeys);
  // A module imported under a Smile name keeps it while its type stays: the name says what the
  // module is in the file, and export writes it back. A type no live process has registered is
  // stored unchecked (the answer warns of it).
  const smileType = current?.type === input.type ? current.smileType : undefined;
  checkConfig(catalog, moduleId, input.type, config, true, smileType);
  const others = doc.modules.filter((m) => m.moduleId !== moduleId);
  checkRequires(
    [...others, { moduleId, type: input.type, requires: input.requires, smileType }],
    catalog,
  );
  if (!current) return [{ type: 'ModuleAdded', data: { moduleId, ...input, config } }];
  return moduleChangeEvents(current, putTarget(moduleId, input, config, smileType), catalog);
}

/** The module a PUT asks for: only the fields of ModuleInput (its secret keys are worked out). */
const putTarget = (
  moduleId: string,
  input: ModuleInput,
  config: StringMap,
  smileType: string | undefined,
) => ({
  moduleId,
  type: input.type,
  config,
  requires: input.requires,
  enabled: input.enabled,
  activation: input.activation,
  ...(smileType !== undefined ? { smileType } : {}),
});

function decidePatch(
  doc: NodeDocument,
  command: Command<'PatchModuleConfig'>,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  const current = requireModule(doc, command.moduleId);
  const secretKeys = moduleSecretKeys(current, catalog);
  const config = { ...current.config };
  for (const [key, value] of Object.entries(command.changes)) {
    if (value === null) delete config[key];
    else if (!(value === REDACTED && isSecretKey(key, secretKeys))) config[key] = value;
  }
  checkConfig(catalog, current.moduleId, current.type, config, true, current.smileType);
  return moduleChangeEvents(current, { ...current, config }, catalog);
}

function decideRestart(doc: NodeDocument, moduleId: string): NodeEvent[] {
  const m = requireModule(doc, moduleId);
  if (!m.enabled) throw conflict(`module "${m.moduleId}" is stopped; start it instead`);
  return [
    { type: 'ModuleStopped', data: { moduleId: m.moduleId, restart: true } },
    { type: 'ModuleStarted', data: { moduleId: m.moduleId, restart: true } },
  ];
}
