export * from './module-type-package';
export * from './register-user-module-types';
export * from './module-type-registrations';
export * from './checked-module-type';
export * from './cluster-module-types';
