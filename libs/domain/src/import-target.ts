import { NodeCommand } from './commands';
import { checkConfig, checkKeys, checkListedModuleId, checkRequires } from './command-validation';
import { DomainError, invalid } from './errors';
import { ModuleTypeCatalog } from './module-type-catalog';
import { findModule, ModuleSpec, NodeDocument } from './node-document';
import { recordedSecretKeys, restoreSecrets, secretKeysAcross } from './secret-changes';

export type ImportNodeCommand = Extract<NodeCommand, { kind: 'ImportNode' }>;

/**
 * The node a properties file describes, validated like SeedNode (IDs, known types against their
 * schema, unknown types kept as they are, requires within the node). A secret given as REDACTED
 * keeps the value `live` stores, so importing an export changes nothing.
 */
export function importTarget(
  live: NodeDocument | null,
  nodeId: string,
  command: ImportNodeCommand,
  catalog: ModuleTypeCatalog,
): NodeDocument {
  checkKeys('properties', command.properties);
  const properties = restoreSecrets(command.properties, live?.properties ?? {}, [], 'properties');
  const seen = new Set<string>();
  const modules = command.modules.map((m) => {
    checkListedModuleId(m.moduleId, seen);
    return importedModule(m, live ? findModule(live, m.moduleId) : undefined, catalog);
  });
  checkRequires(modules, catalog);
  return { nodeId, version: live?.version ?? 0, archived: false, properties, modules };
}

/** One module of the file as the node will hold it: stored secrets kept, its generation kept. */
function importedModule(
  m: ImportNodeCommand['modules'][number],
  stored: ModuleSpec | undefined,
  catalog: ModuleTypeCatalog,
): ModuleSpec {
  if (!m.type) throw invalid(`module "${m.moduleId}" has no type`);
  const config = restoreSecrets(
    m.config,
    stored?.config ?? {},
    secretKeysAcross([stored], m.type, catalog),
    `modules.${m.moduleId}.config`,
  );
  try {
    checkConfig(catalog, m.moduleId, m.type, config, true, m.smileType);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    throw invalid(`module "${m.moduleId}" (type ${m.type}): ${err.message}`);
  }
  const { secretKeys: _given, ...file } = m;
  const secretKeys = recordedSecretKeys([stored], m.type, config, catalog);
  return {
    ...file,
    config,
    generation: stored?.generation ?? 0,
    ...(secretKeys ? { secretKeys } : {}),
  };
}
