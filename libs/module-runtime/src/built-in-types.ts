import { ModuleTypeRegistry } from './registry';
import { httpEndpointType } from './types/http-endpoint/http-endpoint.module-type';
import { localIndexType } from './types/local-index/local-index.module-type';
import { localSecurityType } from './types/local-security/local-security.module-type';
import { persistenceType } from './types/persistence/persistence.module-type';

const BUILT_IN_TYPES = [httpEndpointType, localSecurityType, localIndexType, persistenceType];

/** The module types every Plexus process knows. */
export function builtInModuleTypes(): ModuleTypeRegistry {
  return new ModuleTypeRegistry(BUILT_IN_TYPES);
}

// Read off the definitions: no registry (and no schema compilation) just to learn the names.
const BUILT_IN_NAMES = new Set(BUILT_IN_TYPES.map((t) => t.name));

/** Whether a type name is one of the built-ins every Plexus process runs. */
export function isBuiltInModuleType(name: string): boolean {
  return BUILT_IN_NAMES.has(name);
}
