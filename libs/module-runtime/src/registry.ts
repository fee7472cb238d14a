import { JobTypeRegistry } from '@plexus/batch-jobs';
import { ModuleTypeCatalog } from '@plexus/domain';
import { ModuleTypeDefinition } from './module-type';

/** The module types one process knows. The control plane validates with it; workers run with it. */
export class ModuleTypeRegistry implements ModuleTypeCatalog {
  private readonly types = new Map<string, ModuleTypeDefinition>();

  constructor(definitions: ModuleTypeDefinition[] = []) {
    definitions.forEach((d) => this.register(d));
  }

  register(definition: ModuleTypeDefinition): this {
    if (this.types.has(definition.type))
      throw new Error(`module type ${definition.type} is registered twice`);
    this.types.set(definition.type, definition);
    return this;
  }

  get(type: string): ModuleTypeDefinition | undefined {
    return this.types.get(type);
  }

  list(): ModuleTypeDefinition[] {
    return [...this.types.values()];
  }

  /** The batch-job types the registered module types bring. */
  jobTypes(options: { maxChunksPerJob?: number } = {}): JobTypeRegistry {
    return new JobTypeRegistry(
      this.list().flatMap((d) => d.jobTypes ?? []),
      options,
    );
  }
}
