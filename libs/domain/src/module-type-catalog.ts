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
