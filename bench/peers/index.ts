export * from './etcd.server';
export * from './nats-kv.fleet';
