import { keyChanges } from './diff';
import { NodeEvent } from './events';
import { ModuleTypeCatalog } from './module-type-catalog';
import { ModuleSpec, StringMap } from './node-document';
import { recordedSecretKeys, secretKeysAcross } from './secret-changes';

/** The events that add, change and remove modules, secret keys marked so they are shown redacted. */

/** The module added as it is, with the secret keys it records beyond its type's. */
export function moduleAdded(m: ModuleSpec, catalog: ModuleTypeCatalog): NodeEvent {
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
      ...(m.smileType !== undefined ? { smileType: m.smileType } : {}),
    },
  };
}

const sortMap = (map: StringMap) => Object.entries(map).sort(([a], [b]) => a.localeCompare(b));

const sameRequires = (a: StringMap, b: StringMap) =>
  a === b || JSON.stringify(sortMap(a)) === JSON.stringify(sortMap(b));

const sameKeys = (a: string[] | undefined, b: string[] | undefined) =>
  (a ?? []).join('\n') === (b ?? []).join('\n');

type TargetModule = Omit<ModuleSpec, 'generation'>;

/**
 * The events that turn module `current` into `target` (same moduleId): one ModuleConfigChanged
 * with the changed keys (secret ones marked, also those secret under the old type) and the parts
 * replaced, then ModuleStarted or ModuleStopped when that changes. None when they are equal.
 */
export function moduleChangeEvents(
  current: ModuleSpec,
  target: TargetModule,
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  const events: NodeEvent[] = [];
  const { moduleId, type, config, requires, activation } = target;
  const changes = keyChanges(
    current.config,
    config,
    secretKeysAcross([current, target], type, catalog),
  );
  const typeChanged = current.type !== type;
  const requiresChanged = !sameRequires(current.requires, requires);
  const activationChanged = current.activation !== activation;
  const smileTypeChanged = (current.smileType ?? null) !== (target.smileType ?? null);
  if (changes.length || typeChanged || requiresChanged || activationChanged || smileTypeChanged) {
    const recorded = recordedSecretKeys([current, target], type, config, catalog);
    events.push({
      type: 'ModuleConfigChanged',
      data: {
        moduleId,
        changes,
        ...(typeChanged ? { type } : {}),
        ...(requiresChanged ? { requires } : {}),
        ...(activationChanged ? { activation } : {}),
        ...(smileTypeChanged ? { smileType: target.smileType ?? null } : {}),
        // The record is in the event only when it changes (empty: the type's keys again).
        ...(sameKeys(current.secretKeys, recorded) ? {} : { secretKeys: recorded ?? [] }),
      },
    });
  }
  if (current.enabled !== target.enabled)
    events.push({ type: target.enabled ? 'ModuleStarted' : 'ModuleStopped', data: { moduleId } });
  return events;
}

/**
 * The events that turn the modules `now` into `wanted`: added ones after those they require,
 * changed ones in `wanted`'s order, removed ones before those they require.
 */
export function moduleListEvents(
  now: ModuleSpec[],
  wanted: ModuleSpec[],
  catalog: ModuleTypeCatalog,
): NodeEvent[] {
  const nowById = new Map(now.map((m) => [m.moduleId, m]));
  const wantedIds = new Set(wanted.map((m) => m.moduleId));
  const events: NodeEvent[] = [];
  for (const m of dependencyOrder(wanted))
    if (!nowById.has(m.moduleId)) events.push(moduleAdded(m, catalog));
  for (const m of wanted) {
    const current = nowById.get(m.moduleId);
    if (current) events.push(...moduleChangeEvents(current, m, catalog));
  }
  const removed = now.filter((m) => !wantedIds.has(m.moduleId));
  for (const m of dependencyOrder(removed).reverse())
    events.push({ type: 'ModuleRemoved', data: { moduleId: m.moduleId } });
  return events;
}

/** Modules ordered so that each comes after the modules it requires (within the list). */
export function dependencyOrder<M extends Pick<ModuleSpec, 'moduleId' | 'requires'>>(
  modules: M[],
): M[] {
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
