import { JobTypeRegistry } from '@plexus/batch-jobs';
import { ModuleTypeCatalog, ModuleTypeInfo, StringMap } from '@plexus/domain';
import { ConfigSchema, ModuleType, secretKeysOf } from '@plexus/module-sdk';
import { compileConfigValidator } from './config-validation';
import { BuiltInModuleType } from './module-type';

/**
 * A module type as the processes see it: what the domain's catalog asks (type name, secret keys,
 * roles, the config check) and the definition that runs its modules.
 */
export interface RegisteredModuleType extends ModuleTypeInfo {
  version: string;
  configSchema: ConfigSchema;
  requires: readonly string[];
  definition: BuiltInModuleType;
}

/** The module types one process knows. The control plane validates with it; workers run with it. */
export class ModuleTypeRegistry implements ModuleTypeCatalog {
  private readonly types = new Map<string, RegisteredModuleType>();

  constructor(definitions: Array<ModuleType | BuiltInModuleType> = []) {
    definitions.forEach((d) => this.register(d));
  }

  /** Registers a type; its config schema compiles here, once. Throws for a bad schema or a name taken. */
  register(definition: ModuleType | BuiltInModuleType): this {
    if (this.types.has(definition.name))
      throw new Error(`module type ${definition.name} is registered twice`);
    this.types.set(definition.name, registeredType(definition));
    return this;
  }

  get(type: string): RegisteredModuleType | undefined {
    return this.types.get(type);
  }

  list(): RegisteredModuleType[] {
    return [...this.types.values()];
  }

  /** The batch-job types the registered module types bring. */
  jobTypes(options: { maxChunksPerJob?: number } = {}): JobTypeRegistry {
    return new JobTypeRegistry(
      this.list().flatMap((t) => t.definition.jobTypes ?? []),
      options,
    );
  }
}

function registeredType(definition: BuiltInModuleType): RegisteredModuleType {
  const validate: (config: StringMap) => string[] =
    definition.validateConfig?.bind(definition) ?? compileConfigValidator(definition.configSchema);
  return {
    type: definition.name,
    version: definition.version,
    description: definition.description,
    configSchema: definition.configSchema,
    secretKeys: secretKeysOf(definition.configSchema, definition.secretKeys),
    provides: definition.provides ?? [],
    requires: definition.requires ?? [],
    singleProcess: definition.singleProcess === true,
    validateConfig: validate,
    definition,
  };
}
