import { ModuleTypeRegistration, moduleTypeSchemaHash } from '@plexus/bus';
import { ModuleTypeRegistry } from '../registry';

/**
 * What this process publishes in the catalogue: one registration per type it can run whose
 * schema is JSON Schema (the control plane checks configs of the others with its own copy).
 */
export function moduleTypeRegistrations(
  registry: ModuleTypeRegistry,
  nodeId: string,
  processId: string,
): ModuleTypeRegistration[] {
  return registry.list().flatMap((d) =>
    d.jsonSchema
      ? [
          {
            nodeId,
            processId,
            type: d.type,
            version: d.version ?? '0.0.0',
            schemaHash: moduleTypeSchemaHash(d.jsonSchema),
            configSchema: d.jsonSchema as Record<string, unknown>,
            secretKeys: [...d.secretKeys],
            provides: [...d.provides],
            requires: [...(d.requires ?? [])],
            singleProcess: d.singleProcess === true,
            description: d.description,
          },
        ]
      : [],
  );
}
