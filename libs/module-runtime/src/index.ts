export * from './module-type';
export * from './registry';
export * from './config-schema';
export * from './built-in-types';
export * from './reconcile-plan';
export * from './module-host';
