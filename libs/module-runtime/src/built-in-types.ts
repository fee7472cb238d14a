import { ModuleTypeRegistry } from './registry';
import { httpEndpointType } from './types/http-endpoint/http-endpoint.module-type';
import { localIndexType } from './types/local-index/local-index.module-type';
import { localSecurityType } from './types/local-security/local-security.module-type';
import { persistenceType } from './types/persistence/persistence.module-type';

/** The module types every Plexus process knows. */
export function builtInModuleTypes(): ModuleTypeRegistry {
  return new ModuleTypeRegistry([
    httpEndpointType,
    localSecurityType,
    localIndexType,
    persistenceType,
  ]);
}

const BUILT_IN_NAMES = new Set(
  builtInModuleTypes()
    .list()
    .map((t) => t.type),
);

/** Whether a type name is one of the built-ins every Plexus process runs. */
export function isBuiltInModuleType(name: string): boolean {
  return BUILT_IN_NAMES.has(name);
}
