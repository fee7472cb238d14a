export * from './parse-properties';
export * from './serialize-properties';
