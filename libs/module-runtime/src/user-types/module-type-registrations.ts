import { ModuleTypeRegistration, moduleTypeSchemaHash } from '@plexus/bus';
import { isBuiltInModuleType } from '../built-in-types';
import { ModuleTypeRegistry } from '../registry';

/**
 * What this process publishes in the catalogue: one registration per type of a user's package
 * it runs. Built-ins are left out: every process runs them and the control plane has their
 * schemas itself.
 */
export function moduleTypeRegistrations(
  registry: ModuleTypeRegistry,
  nodeId: string,
  processId: string,
): ModuleTypeRegistration[] {
  return registry.list().flatMap((d) =>
    !isBuiltInModuleType(d.type)
      ? [
          {
            nodeId,
            processId,
            type: d.type,
            version: d.version,
            schemaHash: moduleTypeSchemaHash(d.configSchema),
            configSchema: d.configSchema as Record<string, unknown>,
            secretKeys: [...d.secretKeys],
            provides: [...d.provides],
            requires: [...d.requires],
            singleProcess: d.singleProcess === true,
            description: d.description,
          },
        ]
      : [],
  );
}
