import { ModuleSpec, StringMap } from '@plexus/domain';

export function sameMap(a: StringMap, b: StringMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** True when two specs would run identically (everything but the module ID compared). */
export function sameSpec(a: ModuleSpec, b: ModuleSpec): boolean {
  return a.activation === b.activation && sameRun(a, b);
}

/** sameSpec except `activation`, which only decides where a module runs, not how. */
export function sameRun(a: ModuleSpec, b: ModuleSpec): boolean {
  return (
    a.type === b.type &&
    a.enabled === b.enabled &&
    a.generation === b.generation &&
    sameMap(a.config, b.config) &&
    sameMap(a.requires, b.requires)
  );
}

export function changedKeys(before: StringMap, after: StringMap): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}
