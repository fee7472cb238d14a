import { NodeDocument } from '@plexus/domain';

/** Anything that can tell whether a module type is known (a ModuleTypeRegistry, a catalog). */
export interface ModuleTypeLookup {
  get(type: string): unknown;
}

/**
 * The module whose lease decides where an `activation: single` module runs: the module itself,
 * unless it requires another `single` module (first by role name), whose owner it then follows,
 * so that a chain of single modules always lands on one process together.
 */
export function leaseOwner(doc: NodeDocument, moduleId: string): string {
  const byId = new Map(doc.modules.map((m) => [m.moduleId, m]));
  const seen = new Set<string>();
  for (let current = moduleId; ;) {
    seen.add(current);
    const m = byId.get(current);
    const next = Object.keys(m?.requires ?? {})
      .sort()
      .map((role) => byId.get(m!.requires[role]))
      .find((d) => d?.activation === 'single' && !seen.has(d.moduleId));
    if (!next) return current;
    current = next.moduleId;
  }
}

/** leaseOwner of every `single` module of a document (single module -> owner). */
export function leaseOwners(doc: NodeDocument): Map<string, string> {
  const owners = new Map<string, string>();
  for (const m of doc.modules)
    if (m.activation === 'single') owners.set(m.moduleId, leaseOwner(doc, m.moduleId));
  return owners;
}

/**
 * The leases to contend for: the `single` modules of a document that own their lease (see
 * leaseOwner) and that this process could run: enabled, of a type it knows, node not archived.
 */
export function leasedModules(doc: NodeDocument, registry: ModuleTypeLookup): string[] {
  if (doc.archived) return [];
  return doc.modules
    .filter((m) => m.activation === 'single' && m.enabled && registry.get(m.type) !== undefined)
    .filter((m) => leaseOwner(doc, m.moduleId) === m.moduleId)
    .map((m) => m.moduleId);
}
