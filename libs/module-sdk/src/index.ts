// @plexus/module-sdk: what a module type implements. A package of module types exports
// `moduleTypes: ModuleType[]` from its main module; workers load it from PLEXUS_MODULE_TYPES.
export * from './module-type';
export * from './config-schema';
