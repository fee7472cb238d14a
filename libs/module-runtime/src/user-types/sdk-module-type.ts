import type { StringMap } from '@plexus/domain';
import {
  ConfigSchema,
  ModuleInstance as SdkModuleInstance,
  ModuleContext as SdkModuleContext,
  ModuleType,
  secretKeysOf,
  withDefaults,
} from '@plexus/module-sdk';
import { compileConfigValidator } from '../config-validation';
import { ModuleInstance, ModuleTypeDefinition } from '../module-type';

/**
 * The narrowest bridge from the SDK contract (what users' packages implement) to the registry's
 * ModuleTypeDefinition, until the runtime runs SDK module types itself. The schema is compiled
 * here, once, so a bad schema fails the worker's start; the config is checked again before each
 * start and reconfigure, which is how a worker refuses a config the control plane could not check
 * (a type no live process had registered when it was written).
 */
export function sdkModuleTypeDefinition(type: ModuleType): ModuleTypeDefinition {
  const schema: ConfigSchema = type.configSchema;
  const validateConfig = compileConfigValidator(schema);
  const checked = (config: StringMap): StringMap => {
    const problems = validateConfig(config);
    if (problems.length) throw new Error(problems.join('; '));
    return withDefaults(schema, config);
  };
  return {
    type: type.name,
    version: type.version,
    description: type.description ?? '',
    secretKeys: secretKeysOf(schema, type.secretKeys ?? []),
    provides: [...(type.provides ?? [])],
    requires: [...(type.requires ?? [])],
    singleProcess: type.singleProcess === true,
    // The class-validator schema of built-ins; SDK types are described by jsonSchema.
    configSchema: class SdkTypeConfig {},
    jsonSchema: schema,
    validateConfig,
    async start(config, ctx) {
      let current = checked(config);
      const sdkContext = (config: StringMap): SdkModuleContext => ({
        nodeId: ctx.nodeId,
        processId: ctx.processId,
        moduleId: ctx.moduleId,
        config,
        portOffset: ctx.portOffset,
        configVersion: ctx.configVersion,
        logger: ctx.logger,
        dependencies: ctx.dependencies as unknown as Record<string, SdkModuleInstance>,
        mayServe: () => ctx.mayServe?.() ?? true,
      });
      const instance = await type.start(sdkContext(current));
      return sdkInstance(
        instance,
        () => current,
        (next) => (current = next),
        sdkContext,
        checked,
      );
    },
  };
}

function sdkInstance(
  instance: SdkModuleInstance,
  current: () => StringMap,
  setCurrent: (config: StringMap) => void,
  contextFor: (config: StringMap) => SdkModuleContext,
  checked: (config: StringMap) => StringMap,
): ModuleInstance {
  return {
    stop: () => instance.stop(),
    async reconfigure(config) {
      const next = checked(config);
      const previous = current();
      const keys = new Set([...Object.keys(previous), ...Object.keys(next)]);
      const changedKeys = [...keys].filter((k) => previous[k] !== next[k]);
      const result = await instance.reconfigure(contextFor(next), {
        config: next,
        previous,
        changedKeys,
      });
      if (result !== 'applied') return false;
      setCurrent(next);
      return true;
    },
  };
}
