/** Injection tokens of the worker's providers that are not classes. */
export const WORKER_OPTIONS = Symbol('WORKER_OPTIONS');
export const WORKER_LOG = Symbol('WORKER_LOG');
export const PROCESS_ID = Symbol('PROCESS_ID');
