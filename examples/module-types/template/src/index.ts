// A package of module types exports `moduleTypes` from its main module; a worker started with
// PLEXUS_MODULE_TYPES=<this package or its dist folder> registers every type in it.
import type { ModuleType } from '@plexus/module-sdk';
import { helloHttp } from './hello-http.module-type';

export const moduleTypes: ModuleType[] = [helloHttp];
