export { ModuleHost } from './module-host';
export type { ModuleHostOptions } from './module-host';
export type { ApplyResult } from './host-status';
export type { ModuleTypeSource } from './running-modules';
export { withLogFields } from './with-log-fields';
export { openModuleSecrets } from './open-secrets';
export { HEALTH_TIMEOUT_MS, probeHealth } from './module-health';
