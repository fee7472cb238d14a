// The package's main module: a worker started with PLEXUS_MODULE_TYPES pointing here registers
// every type in `moduleTypes`.
import type { ModuleType } from '@plexus/module-sdk';
import { redisCache } from './redis-cache.module-type';

export const moduleTypes: ModuleType[] = [redisCache];
