import { silentLogger } from '@plexus/common';
import type { ModuleConfig } from '@plexus/module-sdk';
import { RuntimeModuleContext } from '../module-type';

/** A context for starting a built-in type outside a host (tests of the types themselves). */
export function moduleContext(
  config: ModuleConfig,
  over: Partial<RuntimeModuleContext> = {},
): RuntimeModuleContext {
  return {
    nodeId: 'fhir_node',
    processId: 'p1',
    moduleId: 'm',
    config,
    portOffset: 0,
    configVersion: () => 1,
    dependencies: {},
    logger: silentLogger,
    services: {},
    mayServe: () => true,
    lease: () => null,
    ...over,
  };
}
