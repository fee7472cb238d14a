import { StringMap } from './node-document';

/** What the control plane needs to know about a module type to validate and redact its config. */
export interface ModuleTypeInfo {
  type: string;
  description: string;
  /** Config keys whose values are secret (besides the *password/*secret/*token rule). */
  secretKeys: readonly string[];
  /** Roles this type can fill in another module's `requires`. */
  provides: readonly string[];
  /**
   * Unsafe with more than one process of a node running it at once (state on local disk, such
   * as a local index): run active/active, it limits its node to one process.
   */
  singleProcess?: boolean;
  /** Problems with `config`, each naming the key and the rule; empty when valid. */
  validateConfig(config: StringMap): string[];
}

export interface ModuleTypeCatalog {
  get(type: string): ModuleTypeInfo | undefined;
  list(): ModuleTypeInfo[];
}

/**
 * What a write answers about modules whose type no live process has registered: they are stored
 * unchecked, and the worker that applies one checks it (reporting a failure as for any module).
 */
export function unregisteredTypeWarnings(
  catalog: ModuleTypeCatalog,
  types: Iterable<string>,
): string[] {
  return [...new Set(types)]
    .filter((type) => !catalog.get(type))
    .map(
      (type) =>
        `module type "${type}" is not registered by any live process: it is stored unvalidated, and the worker that applies it validates it`,
    );
}
