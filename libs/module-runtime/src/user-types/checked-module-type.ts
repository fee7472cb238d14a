import type { ModuleInstance, ModuleType } from '@plexus/module-sdk';
import { compileConfigValidator } from '../config-validation';

/**
 * A user's module type whose configs the worker checks itself before each start and
 * reconfigure: the control plane stores a module of a type no live process had registered
 * unchecked, so the worker that applies it must refuse a bad config (the module then fails, or
 * keeps its old config, with the rule it broke). The schema compiles here, once: a bad schema
 * fails the worker's start.
 */
export function checkedModuleType(type: ModuleType): ModuleType {
  const validate = compileConfigValidator(type.configSchema);
  const check = (config: Readonly<Record<string, string>>) => {
    const problems = validate(config);
    if (problems.length) throw new Error(problems.join('; '));
  };
  return {
    ...type,
    async start(ctx) {
      check(ctx.config);
      const instance: Partial<ModuleInstance> = await type.start(ctx);
      // Wrapped in place, not copied: other modules may hold this instance as a dependency.
      const reconfigure = instance.reconfigure?.bind(instance);
      instance.reconfigure = async (next, change) => {
        check(change.config);
        return reconfigure ? reconfigure(next, change) : 'restart';
      };
      return instance as ModuleInstance;
    },
  };
}
