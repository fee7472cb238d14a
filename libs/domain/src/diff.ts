import { KeyChange } from './events';
import { ModuleTypeCatalog } from './module-type-catalog';
import { ModuleSpec, NodeDocument, StringMap } from './node-document';
import { isSecretKey, moduleSecretKeys, REDACTED } from './secrets';

export interface ModuleDiff {
  moduleId: string;
  config: KeyChange[];
  type?: { old: string; new: string };
  requires?: { old: StringMap; new: StringMap };
  enabled?: { old: boolean; new: boolean };
  activation?: { old: string; new: string };
  /** ModuleSpec.smileType, null where the module has none. */
  smileType?: { old: string | null; new: string | null };
}

/** What changed between two documents of a node: properties, modules added, removed and changed. */
export interface NodeDiff {
  nodeId: string;
  from: number;
  to: number;
  properties: KeyChange[];
  modulesAdded: ModuleSpec[];
  modulesRemoved: ModuleSpec[];
  modulesChanged: ModuleDiff[];
}

export function keyChanges(
  before: StringMap,
  after: StringMap,
  secretKeys: readonly string[] = [],
): KeyChange[] {
  const changes: KeyChange[] = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of [...keys].sort()) {
    const old = before[key] ?? null;
    const next = after[key] ?? null;
    if (old === next) continue;
    const change: KeyChange = { key, old, new: next };
    if (isSecretKey(key, secretKeys)) change.secret = true;
    changes.push(change);
  }
  return changes;
}

const sameMap = (a: StringMap, b: StringMap) =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([k, v]) => b[k] === v);

const redactChanges = (changes: KeyChange[]) =>
  changes.map((c) => (c.secret ? { ...c, old: c.old && REDACTED, new: c.new && REDACTED } : c));

/** A structured diff, secrets redacted (a changed secret shows as changed, never its value). */
export function diffDocuments(
  from: NodeDocument,
  to: NodeDocument,
  catalog: ModuleTypeCatalog,
): NodeDiff {
  const before = new Map(from.modules.map((m) => [m.moduleId, m]));
  const after = new Map(to.modules.map((m) => [m.moduleId, m]));
  const redactModule = (m: ModuleSpec): ModuleSpec => {
    const secretKeys = moduleSecretKeys(m, catalog);
    return {
      ...m,
      config: Object.fromEntries(
        Object.entries(m.config).map(([k, v]) => [k, isSecretKey(k, secretKeys) ? REDACTED : v]),
      ),
    };
  };
  const modulesChanged: ModuleDiff[] = [];
  for (const [id, b] of before) {
    const a = after.get(id);
    if (!a) continue;
    // Secret on either side: a key secret under the old type stays hidden under the new one.
    const secretKeys = [...moduleSecretKeys(b, catalog), ...moduleSecretKeys(a, catalog)];
    const d: ModuleDiff = {
      moduleId: id,
      config: redactChanges(keyChanges(b.config, a.config, secretKeys)),
    };
    if (a.type !== b.type) d.type = { old: b.type, new: a.type };
    if (!sameMap(a.requires, b.requires)) d.requires = { old: b.requires, new: a.requires };
    if (a.enabled !== b.enabled) d.enabled = { old: b.enabled, new: a.enabled };
    if (a.activation !== b.activation) d.activation = { old: b.activation, new: a.activation };
    if ((a.smileType ?? null) !== (b.smileType ?? null))
      d.smileType = { old: b.smileType ?? null, new: a.smileType ?? null };
    if (d.config.length || d.type || d.requires || d.enabled || d.activation || d.smileType)
      modulesChanged.push(d);
  }
  return {
    nodeId: to.nodeId,
    from: from.version,
    to: to.version,
    properties: redactChanges(keyChanges(from.properties, to.properties)),
    modulesAdded: [...after.values()].filter((m) => !before.has(m.moduleId)).map(redactModule),
    modulesRemoved: [...before.values()].filter((m) => !after.has(m.moduleId)).map(redactModule),
    modulesChanged,
  };
}
