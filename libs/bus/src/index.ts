export * from './names';
export * from './messages';
export * from './nats-connection';
export * from './topology';
export * from './nats-relay-sink';
export * from './node-documents';
export * from './process-messages';
export * from './connection-state';
