export * from './usage-error';
export * from './parse-command';
export * from './process-env';
