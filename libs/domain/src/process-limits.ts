import { ModuleTypeCatalog } from './module-type-catalog';
import { ModuleSpec, NodeDocument } from './node-document';

/**
 * The modules that limit a node to one process: enabled, of a type that is unsafe with more
 * than one process (ModuleTypeInfo.singleProcess), and run by every process (`activation: all`).
 * The same module with `activation: single` is safe: only the lease holder runs it.
 */
export function modulesLimitingToOneProcess(
  doc: NodeDocument,
  catalog: ModuleTypeCatalog,
): ModuleSpec[] {
  return doc.modules.filter(
    (m) => m.enabled && m.activation === 'all' && catalog.get(m.type)?.singleProcess === true,
  );
}

/** Why a node with these modules must not run `processes` processes, and what to do about it. */
export function oneProcessReason(nodeId: string, modules: ModuleSpec[], processes: number): string {
  const named = modules.map((m) => `"${m.moduleId}" (${m.type})`).join(', ');
  return (
    `node "${nodeId}" would run ${processes} processes, but module${modules.length > 1 ? 's' : ''} ` +
    `${named} ${modules.length > 1 ? 'are' : 'is'} unsafe with more than one process: ` +
    `set activation to "single" (one process runs it, the others stand by) or keep one process`
  );
}
