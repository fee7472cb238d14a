import { ModuleTypeCatalog, ModuleTypeInfo } from '../module-type-catalog';

/** Two module types for given/when/then tests: `web` (checks `port`) and `security` (provides SECURITY_IN_UP). */
const types: ModuleTypeInfo[] = [
  {
    type: 'web',
    description: 'test web',
    secretKeys: [],
    provides: [],
    validateConfig: (c) =>
      c.port && !/^\d+$/.test(c.port) ? ['config.port must be an integer'] : [],
  },
  {
    type: 'security',
    description: 'test security',
    secretKeys: ['users'],
    provides: ['SECURITY_IN_UP'],
    validateConfig: () => [],
  },
  {
    type: 'index',
    description: 'test local index: unsafe with more than one process',
    secretKeys: [],
    provides: [],
    singleProcess: true,
    validateConfig: () => [],
  },
];

export const fakeCatalog: ModuleTypeCatalog = {
  get: (t) => types.find((x) => x.type === t),
  list: () => types,
};
