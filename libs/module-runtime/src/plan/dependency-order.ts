import { StringMap } from '@plexus/domain';

type Requiring = { moduleId: string; requires: StringMap };

/**
 * Orders IDs so that every module comes after the modules it requires; ties keep the given
 * order. A cycle (refused at write time, so only defensive) is broken where it is found.
 */
export function dependencyOrder(modules: Requiring[]): string[] {
  const deps = new Map<string, Set<string>>();
  for (const m of modules) {
    const set = deps.get(m.moduleId) ?? new Set<string>();
    Object.values(m.requires).forEach((d) => set.add(d));
    deps.set(m.moduleId, set);
  }
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string) => {
    if (state.has(id) || !deps.has(id)) return;
    state.set(id, 'visiting');
    for (const d of deps.get(id) ?? []) visit(d);
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of deps.keys()) visit(id);
  return out;
}

/** The order to stop running modules in: dependents before what they require. */
export function shutdownOrder(running: Iterable<Requiring>): string[] {
  return dependencyOrder([...running]).reverse();
}

/**
 * A module that must restart to take its config (its reconfigure declined), with everything
 * running that requires it, directly or not: the order to stop them in (dependents first, the
 * module last). Starting them again goes the other way round.
 */
export function restartOrder(running: Iterable<Requiring>, moduleId: string): string[] {
  const modules = [...running];
  const dependents = new Set<string>();
  for (let grew = true; grew;) {
    grew = false;
    for (const m of modules) {
      if (dependents.has(m.moduleId) || m.moduleId === moduleId) continue;
      if (Object.values(m.requires).some((d) => d === moduleId || dependents.has(d))) {
        dependents.add(m.moduleId);
        grew = true;
      }
    }
  }
  return shutdownOrder(modules).filter((id) => dependents.has(id) || id === moduleId);
}
