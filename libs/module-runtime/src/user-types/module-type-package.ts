import { createRequire } from 'node:module';
import * as path from 'node:path';
import { errorText } from '@plexus/common';
import type { ModuleType } from '@plexus/module-sdk';

/** A package (or file) of module types could not be loaded: the message names it and why. */
export class ModuleTypeLoadError extends Error {
  name = 'ModuleTypeLoadError';
}

/** The module types one package brought, with the name it was given by. */
export interface ModuleTypePackage {
  source: string;
  types: ModuleType[];
}

/** Splits PLEXUS_MODULE_TYPES / --module-types: comma-separated, blanks ignored. */
export function parseModuleTypeSources(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const isPath = (source: string) =>
  path.isAbsolute(source) || source === '.' || source === '..' || /^\.\.?[\\/]/.test(source);

/**
 * Requires each source (a package name, resolved from `cwd` first; or a path, absolute or
 * relative to `cwd`) and checks its `moduleTypes` export. Throws ModuleTypeLoadError naming the
 * source and what is wrong.
 */
export function loadModuleTypePackages(
  sources: readonly string[],
  cwd: string,
): ModuleTypePackage[] {
  // A real require: the apps are bundled, and the bundler's require knows only what it bundled.
  const requireFromCwd = createRequire(path.join(path.resolve(cwd), 'noop.js'));
  return sources.map((source) => {
    let exported: unknown;
    try {
      exported = requireFromCwd(isPath(source) ? path.resolve(cwd, source) : source);
    } catch (err) {
      throw new ModuleTypeLoadError(
        `module type package "${source}" cannot be loaded: ${errorText(err)}`,
      );
    }
    return { source, types: moduleTypesExport(source, exported) };
  });
}

/**
 * The `moduleTypes` array a package's main module exports (or its default export holds),
 * each entry checked for the fields a worker needs. Throws ModuleTypeLoadError.
 */
export function moduleTypesExport(source: string, exported: unknown): ModuleType[] {
  const fail = (why: string) => new ModuleTypeLoadError(`module type package "${source}" ${why}`);
  const holder = exported as { moduleTypes?: unknown; default?: { moduleTypes?: unknown } } | null;
  const list = holder?.moduleTypes ?? holder?.default?.moduleTypes;
  if (list === undefined)
    throw fail(
      'exports no moduleTypes (expected `moduleTypes: ModuleType[]` from its main module)',
    );
  if (!Array.isArray(list)) throw fail('exports moduleTypes that is not an array');
  if (list.length === 0) throw fail('exports an empty moduleTypes array');
  list.forEach((t, i) => {
    const problem = moduleTypeShapeProblem(t);
    if (problem) {
      const name = (t as { name?: unknown })?.name;
      const which = typeof name === 'string' ? `"${name}"` : `at index ${i}`;
      throw fail(`has a module type ${which} that ${problem}`);
    }
  });
  return list as ModuleType[];
}

/** Module type names: one KV-key-safe word, as long as a node ID may be and a little more. */
const TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function moduleTypeShapeProblem(t: unknown): string | null {
  if (t === null || typeof t !== 'object') return 'is not an object';
  const type = t as Record<string, unknown>;
  if (typeof type.name !== 'string') return 'has no name (a string)';
  if (!TYPE_NAME.test(type.name))
    return 'has a name that is not 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)';
  if (typeof type.version !== 'string' || type.version.trim() === '')
    return 'has no version (a string)';
  if (typeof type.start !== 'function') return 'has no start function';
  const schema = type.configSchema as Record<string, unknown> | undefined;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema))
    return 'has no configSchema (a JSON Schema object)';
  if (schema.type !== 'object') return 'has a configSchema whose type is not "object"';
  const props = schema.properties;
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    return 'has a configSchema without properties (an object of the config keys)';
  for (const field of ['secretKeys', 'provides', 'requires'] as const)
    if (
      type[field] !== undefined &&
      (!Array.isArray(type[field]) ||
        !(type[field] as unknown[]).every((s) => typeof s === 'string'))
    )
      return `has ${field} that is not an array of strings`;
  if (type.description !== undefined && typeof type.description !== 'string')
    return 'has a description that is not a string';
  return null;
}
